package mail

import (
	"bufio"
	"bytes"
	"mime"
	"net/textproto"
	"strings"
	"unicode/utf8"

	gotextproto "github.com/emersion/go-message/textproto"
)

// rawHeader reads the header section into raw values, in order, with canonical keys.
func rawHeader(raw []byte, end int) (textproto.MIMEHeader, bool) {
	if end < 0 {
		return nil, false
	}
	gh, err := gotextproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw[:end])))
	if err != nil {
		return nil, false
	}
	h := textproto.MIMEHeader{}
	for f := gh.Fields(); f.Next(); {
		k := textproto.CanonicalMIMEHeaderKey(f.Key())
		h[k] = append(h[k], strings.TrimSpace(f.Value()))
	}
	return h, true
}

// decodeSubject decodes the Subject's RFC 2047 words; ok is false when the raw value or the
// result is not clean UTF-8, a case the fast path leaves to enmime's own repair rules.
func decodeSubject(h textproto.MIMEHeader, words *mime.WordDecoder) (string, bool) {
	raw := h.Get("Subject")
	d, err := words.DecodeHeader(raw)
	if err != nil || !utf8.ValidString(raw) || !utf8.ValidString(d) || strings.ContainsRune(d, utf8.RuneError) {
		return "", false
	}
	return d, true
}

// fastText is the body of a single-part plain text message in UTF-8 or ASCII.
func fastText(h textproto.MIMEHeader, body []byte) (string, bool) {
	if ct := h.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "text/plain" {
			return "", false
		}
		switch strings.ToLower(params["charset"]) {
		case "", "utf-8", "utf8", "us-ascii":
		default:
			return "", false
		}
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "", "7bit", "8bit", "binary":
	default:
		// quoted-printable and base64 go to enmime: its decoders differ from the standard
		// library's at the edges (a trailing "="), and both paths must give one result.
		return "", false
	}
	if !utf8.Valid(body) {
		return "", false // a legacy charset mislabelled: let enmime's detection try
	}
	return string(body), true
}
