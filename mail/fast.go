package mail

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"unicode/utf8"

	gotextproto "github.com/emersion/go-message/textproto"
)

// rawHeader reads the header section into raw values, in order, with canonical keys.
func rawHeader(raw []byte, end int) (textproto.MIMEHeader, bool) {
	if end < 0 || bareCR(raw[:end]) {
		// Header readers disagree on a CR that does not end a line: enmime's business.
		return nil, false
	}
	gh, err := gotextproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:end])))
	if err != nil {
		return nil, false
	}
	h := textproto.MIMEHeader{}
	for f := gh.Fields(); f.Next(); {
		k := textproto.CanonicalMIMEHeaderKey(f.Key())
		// As net/textproto (and enmime) do: ASCII space, tab, CR and LF only, not \f or U+00A0.
		h[k] = append(h[k], strings.Trim(f.Value(), " \t\r\n"))
	}
	return h, true
}

// decodeSubject decodes the Subject's RFC 2047 words; ok is false when the raw value or the
// result is not clean UTF-8, a case the fast path leaves to enmime's own repair rules.
func decodeSubject(h textproto.MIMEHeader, words *mime.WordDecoder) (string, bool) {
	raw := h.Get("Subject")
	d, err := words.DecodeHeader(fixWordPadding(raw))
	if err != nil || !utf8.ValidString(raw) || !utf8.ValidString(d) || strings.ContainsRune(d, utf8.RuneError) {
		return "", false
	}
	return d, true
}

// fastText is the body of a single-part plain text message in UTF-8 or ASCII.
func fastText(h textproto.MIMEHeader, body []byte) (string, bool) {
	params := map[string]string{}
	if ct := h.Get("Content-Type"); ct != "" {
		var mt string
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if err != nil || mt != "text/plain" {
			return "", false
		}
	}
	return utf8Text(h, params, body)
}

// utf8Text undoes a text part's transfer encoding and returns the text when it is UTF-8 (or
// ASCII). Encoded text is taken only when it declares UTF-8 and is strictly well formed, so
// that enmime's repairs (which run before the same standard-library decoders) change nothing;
// anything else is left to enmime, including legacy charsets mislabelled as UTF-8.
func utf8Text(h textproto.MIMEHeader, params map[string]string, body []byte) (string, bool) {
	cs := strings.ToLower(params["charset"])
	switch cs {
	case "", "utf-8", "utf8", "us-ascii":
	default:
		return "", false
	}
	if len(h.Values("Content-Transfer-Encoding")) > 1 {
		return "", false
	}
	data := body
	switch cte := strings.ToLower(h.Get("Content-Transfer-Encoding")); cte {
	case "", "7bit", "8bit", "binary":
	case "quoted-printable", "base64":
		ok := false
		if cs == "utf-8" || cs == "utf8" {
			if cte == "base64" {
				data, ok = strictBase64(body)
			} else {
				data, ok = strictQP(body)
			}
		}
		if !ok {
			return "", false
		}
	default:
		return "", false
	}
	if !utf8.Valid(data) {
		return "", false
	}
	return string(data), true
}

// strictQP decodes quoted-printable made only of printable ASCII and tabs in CRLF lines of at
// most 998 characters, every "=" starting a hex pair or a soft line break.
func strictQP(b []byte) ([]byte, bool) {
	line := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return nil, false
			}
			i++
			line = 0
			continue
		case c == '=':
			if i+2 >= len(b) {
				return nil, false
			}
			if !(b[i+1] == '\r' && b[i+2] == '\n') && !(isHex(b[i+1]) && isHex(b[i+2])) {
				return nil, false
			}
		case c == '\t' || c >= 0x20 && c <= 0x7e:
		default:
			return nil, false
		}
		if line++; line > 998 {
			return nil, false
		}
	}
	out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	if err != nil {
		return nil, false
	}
	return out, true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// bareCR reports a CR not followed by LF.
func bareCR(b []byte) bool {
	return bytes.Count(b, []byte("\r")) != bytes.Count(b, []byte("\r\n"))
}
