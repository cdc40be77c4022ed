package mail

import (
	"fmt"
	"mime"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2/mediatype"
)

// paramRawText is the charset name enmime is given for text parts: one it cannot decode, so
// that it keeps their bytes as they are.
const paramRawText = "x-mailgate-raw"

// mediaTypeHook parses Content-Type and Content-Disposition for enmime. Three repairs:
// RFC 2231 parameters in any charset, with continuations (the standard library keeps only
// UTF-8 and ASCII ones and drops the rest, and with them the file); encoded-word and raw 8-bit
// file names decoded by the charset rule; and text parts handed over undecoded, so that their
// charset is decided by one rule for the whole message (decodeText) instead of enmime's.
func (p *Parser) mediaTypeHook(ctype string) (string, map[string]string, []string, error) {
	mt, params, invalid, err := mediatype.Parse(ctype)
	if err != nil {
		return mt, params, invalid, err
	}
	if params == nil {
		params = map[string]string{}
	}
	if strings.Contains(ctype, "*") {
		for k, v := range rfc2231Params(ctype) {
			if v.ok {
				params[k] = v.value
			} else if k == "filename" || k == "name" {
				params[k] = "" // the walker generates a name (undecodedName)
			}
		}
	}
	for _, k := range []string{"filename", "name"} {
		if v := params[k]; v != "" && (strings.Contains(v, "=?") || !utf8.ValidString(v)) {
			params[k] = decodeHeader(p.words, v, "")
		}
	}
	if strings.HasPrefix(mt, "text/") {
		params["charset"] = paramRawText
	}
	return mt, params, invalid, nil
}

type extParam struct {
	value string
	ok    bool // decoded; else value is the ASCII extension salvaged, if any
}

// rfc2231Params decodes the extended parameters (name*=charset'lang'%XX, name*0*=, name*1=)
// of a header value, RFC 2231 §3-4. Names are lower-cased; segments are joined in numeric
// order, the percent-decoded bytes decoded as one string in the first segment's charset.
func rfc2231Params(v string) map[string]extParam {
	type seg struct {
		n       int
		encoded bool
		value   string
	}
	segs := map[string][]seg{}
	for _, item := range splitParams(v) {
		k, val, found := strings.Cut(item, "=")
		if !found {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if !strings.Contains(k, "*") {
			continue
		}
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(val[1:len(val)-1], `\`, "")
		}
		s := seg{encoded: strings.HasSuffix(k, "*")}
		k = strings.TrimSuffix(k, "*")
		if base, num, ok := strings.Cut(k, "*"); ok {
			n, err := strconv.Atoi(num)
			if err != nil || n < 0 || n > 999 {
				continue
			}
			k, s.n = base, n
		}
		s.value = val
		segs[k] = append(segs[k], s)
	}
	out := map[string]extParam{}
	for k, list := range segs {
		sort.SliceStable(list, func(i, j int) bool { return list[i].n < list[j].n })
		var cs string
		var raw []byte
		for i, s := range list {
			val := s.value
			if s.encoded {
				if i == 0 {
					parts := strings.SplitN(val, "'", 3)
					if len(parts) == 3 {
						cs, val = parts[0], parts[2]
					}
				}
				raw = append(raw, percentDecode(val)...)
			} else {
				raw = append(raw, val...)
			}
		}
		if name, ok := decodeName(cs, raw); ok {
			out[k] = extParam{value: name, ok: true}
		} else {
			out[k] = extParam{value: asciiExt(raw)}
		}
	}
	return out
}

// splitParams splits "type; a=1; b=\"x;y\"" into its parameters, honouring quotes.
func splitParams(v string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && quoted && i+1 < len(v):
			cur.WriteByte(c)
			i++
			cur.WriteByte(v[i])
			continue
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	out = append(out, cur.String())
	if len(out) > 0 {
		out = out[1:] // the media type itself
	}
	return out
}

func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			out = append(out, byte(n))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// decodeName decodes a file name's bytes; unlike body text it may fail: a name in a charset we
// do not know that is not UTF-8 either is better replaced than guessed.
func decodeName(cs string, b []byte) (string, bool) {
	if plainASCII(b) {
		return string(b), true
	}
	if s, ok := declaredFit(cs, b); ok {
		return s, true
	}
	if utf8.Valid(b) {
		return string(b), true
	}
	if cs == "" || lookupCharset(cs) != nil {
		return detect(b), true
	}
	return "", false
}

// asciiExt returns the extension of a name when it is short plain ASCII (".pdf").
func asciiExt(b []byte) string {
	ext := path.Ext(string(b))
	if len(ext) < 2 || len(ext) > 8 || !isASCII([]byte(ext)) || strings.ContainsAny(ext, " /\\\x00") {
		return ""
	}
	return strings.ToLower(ext)
}

// Windows device names: a file saved under one of them is unreadable there.
var reservedNames = map[string]bool{"con": true, "prn": true, "aux": true, "nul": true,
	"com1": true, "com2": true, "com3": true, "com4": true, "com5": true, "com6": true, "com7": true, "com8": true, "com9": true,
	"lpt1": true, "lpt2": true, "lpt3": true, "lpt4": true, "lpt5": true, "lpt6": true, "lpt7": true, "lpt8": true, "lpt9": true}

// cleanName makes a sender's file name safe to store, list and save: SafeFilename's rules,
// no invisible formatting characters (a right-to-left override turns "gpj.exe" into
// "exe.jpg" on screen), no device names, at most 200 bytes on a character boundary with the
// extension kept.
func cleanName(name string) string {
	name = SafeFilename(name)
	name = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	base := strings.ToLower(strings.TrimSuffix(name, path.Ext(name)))
	if reservedNames[base] {
		name = "_" + name
	}
	if len(name) > 200 {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = truncate(strings.TrimSuffix(name, ext), 200-len(ext)) + ext
	}
	return name
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Extensions for generated names, so that the attachment policy judges an unnamed part by its
// declared type; a fixed table, because mime.ExtensionsByType reads the host's mime.types.
var typeExt = map[string]string{
	"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/gif": ".gif",
	"image/bmp": ".bmp", "image/x-ms-bmp": ".bmp", "image/tiff": ".tif", "image/webp": ".webp", "image/heic": ".heic",
	"image/svg+xml": ".svg", "application/pdf": ".pdf", "application/zip": ".zip", "application/x-zip-compressed": ".zip",
	"application/x-tar": ".tar", "text/plain": ".txt", "text/csv": ".csv", "text/html": ".html", "text/calendar": ".ics",
	"message/rfc822": ".eml", "message/delivery-status": ".txt", "application/msword": ".doc",
	"application/vnd.ms-excel": ".xls", "application/ms-tnef": ".dat",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       ".xlsx",
}

// typeOfName is the media type of a file known only by its name (uuencoded files).
func typeOfName(name string) string {
	ext := strings.ToLower(path.Ext(name))
	for ct, e := range typeExt {
		if e == ext && ct != "image/jpg" && ct != "image/pjpeg" && ct != "application/x-zip-compressed" {
			return ct
		}
	}
	return "application/octet-stream"
}

// generatedName names a file the sender gave no usable name: "image-1.png" for images (pasted
// screenshots), "attachment-1.pdf" for the rest; ext, when known, wins over the type's.
func generatedName(contentType, ext string, n int) string {
	ct, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		ct = strings.ToLower(contentType)
	}
	if ext == "" {
		ext = typeExt[ct]
	}
	if ext == "" {
		ext = ".bin"
	}
	stem := "attachment"
	if strings.HasPrefix(ct, "image/") {
		stem = "image"
	}
	return fmt.Sprintf("%s-%d%s", stem, n, ext)
}
