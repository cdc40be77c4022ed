package mail

import (
	"bytes"
	"io"
	"mime"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// One rule decodes every piece of text that arrives as bytes (text parts, raw 8-bit header
// values, encoded words, RFC 2231 parameters): the declared charset when the bytes fit it,
// else UTF-8 when they are valid UTF-8, else the charset a detector finds. Senders lie about
// charsets in one direction above all: UTF-8 labelled us-ascii, Latin-1 or GB2312 by a script
// or a gateway, which read as declared gives "âˆ® Eâ‹…da" and "浣犲ソ".

// lookupCharset finds a decoder for a MIME charset name, as go-message's charset package does,
// or nil.
func lookupCharset(name string) encoding.Encoding {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`))
	if name == "" {
		return nil
	}
	if enc, err := ianaindex.MIME.Encoding(name); err == nil && enc != nil {
		return enc
	}
	if enc, err := ianaindex.MIME.Encoding("cs" + name); err == nil && enc != nil {
		return enc
	}
	if enc, err := htmlindex.Get(name); err == nil && enc != nil {
		return enc
	}
	return nil
}

func isUTF8Name(cs string) bool {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`)) {
	case "utf-8", "utf8", "x-utf_8j", "unicode-1-1-utf-8":
		return true
	}
	return false
}

func isASCIIName(cs string) bool {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(cs), `"'`)) {
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us":
		return true
	}
	return false
}

// plainASCII: bytes that mean the same in every charset mail uses (ISO-2022's escape
// sequences aside).
func plainASCII(b []byte) bool {
	return isASCII(b) && bytes.IndexByte(b, 0x1b) < 0
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// decodeBytes turns b into UTF-8 by the rule above; declared may be empty. The result is
// always valid UTF-8.
func decodeBytes(declared string, b []byte) string {
	if plainASCII(b) {
		return string(b)
	}
	if s, ok := declaredFit(declared, b); ok {
		return s
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return detect(b)
}

// declaredFit decodes b in its declared charset when b is well formed in it. A single-byte
// charset accepts any bytes, so there "fit" also means "not valid multi-byte UTF-8": Latin-1 or
// KOI8-R prose never is, as each accented letter would have to be followed by a byte from
// 0x80-0xBF.
func declaredFit(declared string, b []byte) (string, bool) {
	switch {
	case declared == "":
		return "", false
	case isUTF8Name(declared):
		return string(b), utf8.Valid(b)
	case isASCIIName(declared):
		return "", false // 8-bit bytes are never ASCII
	}
	enc := lookupCharset(declared)
	if enc == nil {
		return "", false
	}
	if _, single := enc.(*charmap.Charmap); single && utf8.Valid(b) {
		return "", false
	}
	if strictGB2312(declared) && !validGB2312(b) {
		return "", false
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) && !bytes.Contains(b, []byte("\xef\xbf\xbd")) {
		return "", false
	}
	return string(out), utf8.Valid(out)
}

// strictGB2312 is true for the names decoded with the wider GBK table: GBK accepts most
// UTF-8 Chinese byte pairs, GB2312 proper (EUC-CN, rows 0xA1-0xF7) does not.
func strictGB2312(cs string) bool {
	switch strings.ToLower(cs) {
	case "gb2312", "euc-cn", "x-euc-cn", "csgb2312", "gb_2312-80":
		return true
	}
	return false
}

func validGB2312(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x80 {
			continue
		}
		if c < 0xA1 || c > 0xF7 || i+1 >= len(b) || b[i+1] < 0xA1 || b[i+1] > 0xFE {
			return false
		}
		i++
	}
	return true
}

// detect guesses the charset of bytes that are neither declared right nor UTF-8. The detector's
// ranking is followed as long as it names a charset we can decode without damage; Windows-1252
// is the last resort, because it maps every byte.
func detect(b []byte) string {
	if results, err := chardet.NewTextDetector().DetectAll(b); err == nil {
		// The detector runs its recognizers concurrently and keeps their arrival order among
		// equal confidences: without a tie-break, the same bytes could decode differently from
		// one delivery to the next.
		slices.SortStableFunc(results, func(x, y chardet.Result) int {
			if x.Confidence != y.Confidence {
				return y.Confidence - x.Confidence
			}
			return strings.Compare(x.Charset+"/"+x.Language, y.Charset+"/"+y.Language)
		})
		for _, r := range results {
			if r.Confidence < 10 || isUTF8Name(r.Charset) || strings.HasPrefix(strings.ToLower(r.Charset), "utf-") {
				continue
			}
			enc := lookupCharset(r.Charset)
			if enc == nil {
				continue
			}
			out, err := enc.NewDecoder().Bytes(b)
			if err == nil && utf8.Valid(out) && !bytes.ContainsRune(out, utf8.RuneError) {
				return string(out)
			}
		}
	}
	out, _ := charmap.Windows1252.NewDecoder().Bytes(b)
	return string(out)
}

// charsetReader is the WordDecoder's hook: encoded words follow the same rule as bodies.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxHeaderBytes))
	if err != nil {
		return nil, err
	}
	return strings.NewReader(decodeBytes(cs, b)), nil
}

// newWordDecoder decodes RFC 2047 words with the charset rule above.
func newWordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: charsetReader}
}

var encodedB = regexp.MustCompile(`(?i)=\?([^?\s]+)\?b\?([A-Za-z0-9+/]*)(=*)\?=`)

// fixWordPadding re-pads base64 encoded words: mail clients decode "suLK1A===" as "suLK1A==",
// Go's decoder refuses it and leaves the whole word undecoded.
func fixWordPadding(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	return encodedB.ReplaceAllStringFunc(s, func(w string) string {
		m := encodedB.FindStringSubmatch(w)
		data := m[2]
		if n := len(data) % 4; n != 0 {
			data += strings.Repeat("=", 4-n)
		}
		return "=?" + m[1] + "?B?" + data + "?="
	})
}

// decodeHeader decodes a raw header value: raw 8-bit bytes by the charset rule (hint is the
// charset the message declares for its body, which clients that write raw headers also use),
// then RFC 2047 words. The result is valid UTF-8 but may hold control characters.
func decodeHeader(words *mime.WordDecoder, raw, hint string) string {
	if !plainASCII([]byte(raw)) {
		raw = decodeBytes(hint, []byte(raw))
	}
	if !strings.Contains(raw, "=?") {
		return raw
	}
	d, err := words.DecodeHeader(fixWordPadding(raw))
	if err != nil || !utf8.ValidString(d) {
		return raw
	}
	return d
}

var htmlMetaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)`)

// decodeText decodes a text part's bytes; an HTML part without a declared charset may name
// one in a <meta> element.
func decodeText(declared string, b []byte, html bool) string {
	if declared == "" && html {
		head := b[:min(len(b), 4096)]
		if m := htmlMetaCharset.FindSubmatch(head); m != nil {
			declared = string(m[1])
		}
	}
	return decodeBytes(declared, b)
}
