package mail

import (
	"bytes"
	"mime"
	netmail "net/mail"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The MTAs in front of mailgate deliver mail that no strict reading accepts; refusing or
// quarantining what they delivered loses it. The repairs here are the ones mail clients make,
// each for a shape seen in real mail. Only what no reasonable reading can parse is quarantined.

// MaxSubjectBytes bounds a stored subject (RFC 5322 §2.1.1 line length), so that a 130,000
// character subject cannot become every mail of its ticket.
const MaxSubjectBytes = 998

// MaxNameBytes bounds a display name taken from a From header.
const MaxNameBytes = 200

// Bound cuts s to at most n bytes on a character boundary, ending with an ellipsis when cut.
func Bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	return strings.TrimSpace(truncate(s, n-len(ellipsis))) + ellipsis
}

// lenientHeader repairs the start of a header section: blank or white-space lines before the
// first field (some scripts write an empty line first), white space before the first field
// name, and obsolete white space between a field name and its colon (RFC 5322 §4.5.3,
// "From  :"). raw is returned unchanged, not copied, when there is nothing to repair.
func lenientHeader(raw []byte) []byte {
	start := 0
	for start < len(raw) {
		nl := bytes.IndexByte(raw[start:], '\n')
		if nl < 0 {
			break
		}
		line := raw[start : start+nl]
		if len(bytes.TrimSpace(line)) != 0 {
			break
		}
		start += nl + 1
	}
	// Only skip blank lines when a header field follows them; otherwise the message really
	// is all body, and HeaderEnd says so.
	if start > 0 && !looksLikeField(raw[start:]) {
		start = 0
	}
	rest := raw[start:]
	lead := len(rest) - len(bytes.TrimLeft(rest, " \t"))
	if lead > 0 && looksLikeField(rest[lead:]) {
		rest = rest[lead:]
	}
	end := HeaderEnd(rest)
	if end < 0 {
		end = len(rest)
	}
	fixed := obsoleteColons(rest[:end])
	if start == 0 && lead == 0 && fixed == nil {
		return raw
	}
	if fixed == nil {
		fixed = rest[:end]
	}
	return append(append([]byte{}, fixed...), rest[end:]...)
}

// looksLikeField: a field name (printable ASCII but colon) followed by optional white space
// and a colon.
func looksLikeField(b []byte) bool {
	i := 0
	for i < len(b) && b[i] > ' ' && b[i] < 0x7f && b[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i < len(b) && b[i] == ':'
}

// obsoleteColons removes white space before the colon of each field line, or returns nil when
// no line has any.
func obsoleteColons(h []byte) []byte {
	if !spaceBeforeColon(h) {
		return nil // the common case, without allocating
	}
	lines := bytes.SplitAfter(h, []byte("\n"))
	changed := false
	for i, line := range lines {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		j := 0
		for j < len(line) && line[j] > ' ' && line[j] < 0x7f && line[j] != ':' {
			j++
		}
		k := j
		for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
			k++
		}
		if j > 0 && k > j && k < len(line) && line[k] == ':' {
			lines[i] = append(append([]byte{}, line[:j]...), line[k:]...)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return bytes.Join(lines, nil)
}

// spaceBeforeColon reports whether a field line has white space between its name and colon.
func spaceBeforeColon(h []byte) bool {
	for len(h) > 0 {
		line := h
		if i := bytes.IndexByte(h, '\n'); i >= 0 {
			line, h = h[:i], h[i+1:]
		} else {
			h = nil
		}
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if i := bytes.IndexByte(line, ':'); i > 0 && (line[i-1] == ' ' || line[i-1] == '\t') {
			return true
		}
	}
	return false
}

// lenientAddrs reads an address list the strict parser refused: a valid <addr-spec> behind a
// broken display name, or an address with RFC 5322 comments where net/mail allows none
// ("pete(his account)@silly.test(his host)", RFC 5322 appendix A.5).
func lenientAddrs(v string) []*netmail.Address {
	if list := angleAddr(v); len(list) > 0 {
		return list
	}
	stripped := stripComments(v)
	if stripped == v {
		return nil
	}
	list, err := netmail.ParseAddressList(stripped)
	if err != nil {
		return angleAddr(stripped)
	}
	return list
}

// stripComments removes (nested) parenthesised comments outside quoted strings.
func stripComments(v string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(v[i+1])
			}
			i++
			continue
		case c == '"' && depth == 0:
			quoted = !quoted
		case c == '(' && !quoted:
			depth++
			continue
		case c == ')' && !quoted && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// decodeDisplayName decodes raw 8-bit bytes in the display name of a From value by the
// charset rule. The addr-spec is left byte for byte as it came (identities compare raw), so
// only values whose 8-bit bytes all precede the last "<" are touched.
func decodeDisplayName(v string, h map[string][]string) string {
	if utf8.ValidString(v) {
		return v
	}
	i := strings.LastIndexByte(v, '<')
	if i < 0 || !isASCII([]byte(v[i:])) {
		return v
	}
	return decodeBytes(bodyCharset(h), []byte(v[:i])) + v[i:]
}

// bodyCharset is the charset a message declares at its top level, the best hint for raw 8-bit
// header bytes written by the same client.
func bodyCharset(h map[string][]string) string {
	v := h["Content-Type"]
	if len(v) == 0 {
		return ""
	}
	_, params, err := mime.ParseMediaType(v[0])
	if err != nil {
		return ""
	}
	return params["charset"]
}

// printable makes text from a library error safe for a quarantine reason, a log line or CLI
// output: it may quote the sender's bytes. Non-printable bytes are escaped and the whole is
// bounded.
func printable(s string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < ' ' || r == 0x7f || r >= 0x80 && r < 0xa0:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
		if b.Len() > 300 {
			b.WriteString("…")
			break
		}
	}
	return b.String()
}

// uuencoded moves uuencoded files out of the text into the attachments.
func (p *Parser) uuencoded(m *Message) {
	text, files := extractUU(m.Text)
	if len(files) == 0 {
		return
	}
	m.Text = text
	for _, f := range files {
		p.file(m, cleanName(f.name), typeOfName(f.name), f.data)
	}
}
