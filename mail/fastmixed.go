package mail

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/textproto"
	"strings"
)

// fastFile is a file found by fastMixed, decoded.
type fastFile struct {
	name, contentType string
	data              []byte
}

// fastMixed takes the most common shape of mail with files — multipart/mixed, one plain UTF-8
// text part first, then base64 parts each marked "attachment" with a plain file name — without
// enmime, whose byte-at-a-time boundary reader and base64 cleaner take 2.5 ms of a 100 KB
// PDF mail that this path parses in 0.36 ms (issue 6, BenchmarkParseBig). It accepts only mail that is unambiguous in every respect: CRLF line ends
// throughout, the boundary nowhere but on its delimiter lines, clean part headers, strict
// base64. Anything else returns ok=false and goes to enmime, so both paths give one result
// (FuzzFastVsEnmime checks exactly that).
func fastMixed(h textproto.MIMEHeader, body []byte) (text string, files []fastFile, ok bool) {
	parts, ok := splitParts(h, body, "multipart/mixed")
	if !ok || len(parts) < 2 { // the text and at least one file
		return "", nil, false
	}
	return fastParts(parts)
}

// fastAlternative takes multipart/alternative holding exactly a non-empty plain UTF-8 text and
// then an HTML version of it (what Gmail, Outlook and Apple Mail send): the text is the text,
// as enmime would pick it; the HTML part is only checked to be clean.
func fastAlternative(h textproto.MIMEHeader, body []byte) (string, bool) {
	parts, ok := splitParts(h, body, "multipart/alternative")
	if !ok || len(parts) != 2 {
		return "", false
	}
	var text string
	for i, part := range parts {
		ph, content, ok := partHeader(part)
		if !ok || ph.Get("Content-Disposition") != "" {
			return "", false
		}
		mt, params, err := mime.ParseMediaType(ph.Get("Content-Type"))
		if err != nil || params["name"] != "" {
			return "", false
		}
		if i == 0 {
			if mt != "text/plain" {
				return "", false
			}
			if text, ok = utf8Text(ph, params, content); !ok || text == "" {
				return "", false
			}
			continue
		}
		if mt != "text/html" {
			return "", false
		}
		if _, ok := utf8Text(ph, params, content); !ok {
			return "", false
		}
	}
	return text, true
}

// splitParts splits a multipart body of type want into its parts. It accepts only bodies that
// are unambiguous: CRLF line ends throughout, the boundary appearing only as whole delimiter
// lines (the first at the start of the body or after a CRLF, the closing one last), and
// nothing after the closing delimiter but one CRLF.
func splitParts(h textproto.MIMEHeader, body []byte, want string) ([][]byte, bool) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != want || len(h.Values("Content-Type")) != 1 || !plainEncoding(h) ||
		strings.Contains(h.Get("Content-Type"), "*") {
		return nil, false
	}
	boundary := params["boundary"]
	if !cleanBoundary(boundary) || bareLineEnds(body) {
		return nil, false
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	rest := body
	start := bytes.Index(rest, delim)
	if start < 0 || (start != 0 && !bytes.HasSuffix(rest[:start], []byte("\r\n"))) {
		return nil, false
	}
	rest = rest[start+len(delim):]
	for {
		switch {
		case bytes.HasPrefix(rest, []byte("\r\n")):
			rest = rest[2:]
		case bytes.HasPrefix(rest, []byte("--")):
			epilogue := rest[2:]
			if len(epilogue) != 0 && !bytes.Equal(epilogue, []byte("\r\n")) {
				return nil, false
			}
			return parts, len(parts) > 0
		default:
			return nil, false // padding or text after the boundary
		}
		next := bytes.Index(rest, delim)
		if next < 2 || !bytes.Equal(rest[next-2:next], []byte("\r\n")) {
			return nil, false
		}
		parts = append(parts, rest[:next-2])
		rest = rest[next+len(delim):]
	}
}

// partHeader splits a part into its clean header and its content.
func partHeader(part []byte) (textproto.MIMEHeader, []byte, bool) {
	end := HeaderEnd(part)
	if end <= 2 { // header-less parts get a default type: enmime's business
		return nil, nil, false
	}
	h, ok := cleanPartHeader(part[:end])
	if !ok || len(h.Values("Content-Type")) != 1 || len(h.Values("Content-Disposition")) > 1 ||
		len(h.Values("Content-Transfer-Encoding")) > 1 {
		return nil, nil, false
	}
	// RFC 2231 parameters (filename*=, continuations) are decoded differently by the standard
	// library and enmime's media type parser.
	if strings.Contains(h.Get("Content-Type"), "*") || strings.Contains(h.Get("Content-Disposition"), "*") {
		return nil, nil, false
	}
	return h, part[end:], true
}

// fastParts reads the text part (plain, or alternative plain + HTML) and the files; any part
// of another shape refuses the lot.
func fastParts(parts [][]byte) (string, []fastFile, bool) {
	var text string
	var files []fastFile
	for i, part := range parts {
		h, content, ok := partHeader(part)
		if !ok {
			return "", nil, false
		}
		mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil {
			return "", nil, false
		}
		if i == 0 {
			if h.Get("Content-Disposition") != "" || params["name"] != "" {
				return "", nil, false
			}
			switch mt {
			case "multipart/alternative":
				text, ok = fastAlternative(h, content)
			case "text/plain":
				text, ok = utf8Text(h, params, content)
			default:
				ok = false
			}
			if !ok {
				return "", nil, false
			}
			continue
		}
		if strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/") {
			return "", nil, false
		}
		disp, dparams, err := mime.ParseMediaType(h.Get("Content-Disposition"))
		name := dparams["filename"]
		if err != nil || disp != "attachment" || !cleanParam(name) {
			return "", nil, false
		}
		if n, has := params["name"]; has && n != name {
			return "", nil, false
		}
		if !strings.EqualFold(h.Get("Content-Transfer-Encoding"), "base64") {
			return "", nil, false
		}
		data, ok := strictBase64(content)
		if !ok {
			return "", nil, false
		}
		files = append(files, fastFile{name: name, contentType: mt, data: data})
	}
	return text, files, true
}

// plainEncoding: the top level of a multipart message has no transfer encoding to undo.
func plainEncoding(h textproto.MIMEHeader) bool {
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "", "7bit", "8bit":
		return len(h.Values("Content-Transfer-Encoding")) <= 1
	}
	return false
}

// cleanBoundary: RFC 2046 bchars without the space, which header readers may trim.
func cleanBoundary(b string) bool {
	if len(b) < 1 || len(b) > 70 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("'()+_,-./:=?", c) >= 0) {
			return false
		}
	}
	return true
}

// cleanParam: a file name that needs no decoding of any kind.
func cleanParam(s string) bool {
	if s == "" || strings.Contains(s, "=?") || strings.Contains(s, "%") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f || s[i] == '\\' || s[i] == '"' {
			return false
		}
	}
	return true
}

// bareLineEnds reports a CR or LF that is not part of a CRLF pair.
func bareLineEnds(b []byte) bool {
	return bareCR(b) || bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n"))
}

// cleanPartHeader reads a part's header when every line is an unfolded "Key: value" of
// printable ASCII and every key is one this path understands.
func cleanPartHeader(b []byte) (textproto.MIMEHeader, bool) {
	h := textproto.MIMEHeader{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\r\n\r\n"), "\r\n")
	for _, line := range lines {
		k, v, found := strings.Cut(line, ":")
		if !found || k == "" {
			return nil, false
		}
		for i := 0; i < len(line); i++ {
			if line[i] < 0x20 || line[i] >= 0x7f {
				return nil, false
			}
		}
		for i := 0; i < len(k); i++ {
			if k[i] <= ' ' {
				return nil, false
			}
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		switch ck {
		case "Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "Content-Id", "Content-Description", "X-Attachment-Id":
		default:
			return nil, false
		}
		h[ck] = append(h[ck], strings.TrimSpace(v))
	}
	return h, true
}

// strictBase64 decodes base64 lines of the standard alphabet, padding only at the very end.
// Lines are decoded one by one into a single buffer, so a large file costs its decoded size
// and no cleaned copy of the encoded text; every line but the last must hold whole 4-byte
// groups (all encoders write 76- or 72-character lines).
func strictBase64(b []byte) ([]byte, bool) {
	if bareLineEnds(b) {
		// A CR or LF inside a line would be skipped by the decoder and shift the 4-byte
		// groups of the lines after it, which enmime decodes as one stream.
		return nil, false
	}
	b = bytes.TrimSuffix(b, []byte("\r\n"))
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(b)))
	n := 0
	for len(b) > 0 {
		line := b
		b = nil
		if i := bytes.Index(line, []byte("\r\n")); i >= 0 {
			line, b = line[:i], line[i+2:]
		}
		last := len(b) == 0
		if last {
			trimmed := bytes.TrimRight(line, "=")
			if len(line)-len(trimmed) > 2 {
				return nil, false
			}
			line = trimmed
		} else if len(line)%4 != 0 {
			return nil, false
		}
		// The decoder refuses anything outside the alphabet, '=' included (no padding in Raw).
		k, err := base64.RawStdEncoding.Decode(out[n:], line)
		if err != nil {
			return nil, false
		}
		n += k
	}
	return out[:n], true
}
