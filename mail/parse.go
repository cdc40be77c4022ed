// Package mail turns the raw bytes of an inbound message into the facts mailgate decides on:
// identities on raw addr-specs, decoded subject and text, attachments and auto-submission
// signals. It does no I/O beyond reading the given bytes.
package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	netmail "net/mail"
	"net/textproto"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/jhillyerd/enmime/v2"
)

// LoopHeader marks every mail mailgate sends; inbound mail carrying it is dropped.
const LoopHeader = "X-Mailgate-Loop"

// Limits applied before MIME parsing, because enmime has none of its own.
const (
	MaxHeaderBytes = 256 << 10
	// MaxDepth bounds multipart nesting: enmime's time grows about 1.7× per level on nested
	// parts whose boundaries are left open (300 ms at 20 levels, measured), and real mail
	// stays under 10.
	MaxDepth = 16
	// MaxParts bounds the MIME parts of one message: enmime joins the text of every text part
	// by string concatenation, quadratic in their number (10,000 one-line parts took 1.7 s of
	// CPU, a 25 MB message of tiny parts would take hours). Real mail has a few dozen.
	MaxParts = 1000
)

var (
	// ErrNoFrom is rule 4: there is no usable From address.
	ErrNoFrom = errors.New("no parseable From address")
	// ErrHeaderTooLarge is answered 552: the header section is over MaxHeaderBytes.
	ErrHeaderTooLarge = errors.New("message header too large")
	// ErrUnparseable means the message goes to quarantine.
	ErrUnparseable = errors.New("message cannot be parsed")
)

// Policy is what parsing needs to know of the configuration.
type Policy struct {
	MaxFileBytes      int64
	MaxTotalBytes     int64 // all kept files of one message; 0 = no limit
	AllowedExtensions []string
}

// Message is an inbound mail, parsed once.
type Message struct {
	From       string // raw addr-spec, lower-cased
	FromName   string // decoded display name, one line
	To, Cc     []string
	Subject    string // decoded, one line
	MessageID  string // with angle brackets, or ""
	InReplyTo  string
	References []string
	Language   string // Content-Language, if any

	Text        string // UTF-8, HTML converted, quotes NOT yet stripped
	htmlReply   string // HTML-only mail: the text without its quoted blocks (htmlquote.go)
	Attachments []Attachment
	Refused     []Refused

	// Auto is set when the message is automatic (inbound rule 8); AutoReason says why.
	Auto       bool
	AutoReason string
	// Looped is set when the message carries our own loop marker.
	Looped        bool
	ReceivedCount int
	// Dedupe identifies the message for rule 6: From, Message-ID and body hash, or the raw
	// bytes when there is no Message-ID.
	Dedupe string
	// AuthResults are the raw Authentication-Results header values, topmost first.
	AuthResults []string
}

// Attachment is a kept file.
type Attachment struct {
	Filename    string
	ContentType string
	Size        int
	SHA256      string
	Data        []byte
	// Generated is set when the sender gave the file no usable name (a pasted image) and
	// Filename is ours.
	Generated bool
}

// Refused is a file that was not kept.
type Refused struct {
	Filename string
	Reason   string
}

// Parser parses inbound messages; one value serves every session.
type Parser struct {
	policy Policy
	mime   *enmime.Parser
	words  *mime.WordDecoder
	noFast bool // tests compare the fast path with enmime
}

// NewParser returns a parser applying p to attachments.
func NewParser(p Policy) *Parser {
	parser := &Parser{policy: p, words: newWordDecoder()}
	// Text parts reach us undecoded (mediaTypeHook) and charsets are decided in charset.go,
	// so enmime's own detection never runs.
	parser.mime = enmime.NewParser(
		enmime.DisableCharacterDetection(true),
		enmime.MaxStoredPartErrors(20),
		enmime.SkipMalformedParts(true),
		enmime.MultipartWOBoundaryAsSinglePart(true),
		enmime.SetCustomParseMediaType(parser.mediaTypeHook),
	)
	return parser
}

// HeaderEnd returns the offset of the body in raw: just after the first empty line (LF or
// CRLF ended, as header readers see it), or -1 when there is none.
func HeaderEnd(raw []byte) int {
	switch {
	case bytes.HasPrefix(raw, []byte("\r\n")):
		return 2
	case bytes.HasPrefix(raw, []byte("\n")):
		return 1
	}
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return -1
		}
		k := i + j + 1 // start of the next line
		if k < len(raw) && raw[k] == '\n' {
			return k + 1
		}
		if k+1 < len(raw) && raw[k] == '\r' && raw[k+1] == '\n' {
			return k + 2
		}
		i = k
	}
	return -1
}

// Parse parses raw. Errors are ErrNoFrom, ErrHeaderTooLarge or ErrUnparseable (wrapped with
// the reason); any panic inside the MIME library is turned into ErrUnparseable.
func (p *Parser) Parse(raw []byte) (m *Message, err error) {
	original := raw
	raw = lenientHeader(raw)
	end := HeaderEnd(raw)
	if end > MaxHeaderBytes || (end < 0 && len(raw) > MaxHeaderBytes) {
		return nil, ErrHeaderTooLarge
	}
	// Only mail declaring several multiparts can be deep; the rest skips the walk.
	if countFold(raw, []byte("multipart/"), MaxDepth/2) >= MaxDepth/2 && tooDeep(raw, MaxDepth) {
		return nil, fmt.Errorf("%w: multipart nesting deeper than %d levels", ErrUnparseable, MaxDepth)
	}
	// Every part starts with a "--boundary" line, so fewer such lines means fewer parts.
	if bytes.Count(raw, []byte("\n--")) > MaxParts && tooManyParts(raw, MaxParts) {
		return nil, fmt.Errorf("%w: more than %d MIME parts", ErrUnparseable, MaxParts)
	}
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: parser panic: %s", ErrUnparseable, printable(fmt.Sprint(r)))
		}
	}()
	m = &Message{}
	taken, err := p.parseFast(m, raw, end)
	if err != nil {
		return nil, err
	}
	if !taken {
		env, err := p.mime.ReadEnvelope(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: %s", ErrUnparseable, printable(err.Error()))
		}
		h := env.Root.Header
		if err := p.headers(m, h, decodeHeader(p.words, h.Get("Subject"), bodyCharset(h))); err != nil {
			return nil, err
		}
		p.fromTree(m, env.Root)
		m.htmlReply = htmlReply(env)
	}
	p.uuencoded(m)

	raw = original
	end = HeaderEnd(raw)
	if m.MessageID != "" {
		body := raw
		if end >= 0 {
			body = raw[end:]
		}
		bh := sha256.Sum256(body)
		m.Dedupe = digest(m.From, m.MessageID, string(bh[:]))
	} else {
		m.Dedupe = digest(m.From, "", string(raw))
	}
	return m, nil
}

// parseFast fills m without enmime when the message has one of the plain shapes that make up
// the bulk of support mail (issue 6, measured): single-part UTF-8 text, text + HTML
// alternatives, or multipart/mixed with either and base64 files. It reports false, leaving m
// untouched, for anything else; true with an error when the From is unusable.
func (p *Parser) parseFast(m *Message, raw []byte, end int) (bool, error) {
	if p.noFast {
		return false, nil
	}
	h, ok := rawHeader(raw, end)
	if !ok {
		return false, nil
	}
	subject, ok := decodeSubject(h, p.words)
	if !ok {
		return false, nil
	}
	body := raw[end:]
	text, ok := fastText(h, body)
	var files []fastFile
	if !ok {
		text, ok = fastAlternative(h, body)
	}
	if !ok {
		text, files, ok = fastMixed(h, body)
	}
	if !ok {
		return false, nil
	}
	if err := p.headers(m, h, subject); err != nil {
		return true, err
	}
	m.Text = cleanText(text)
	for _, f := range files {
		p.file(m, f.name, f.contentType, f.data)
	}
	return true, nil
}

// headers fills the identity and threading facts from the raw header fields; subject is the
// Subject already decoded from RFC 2047.
func (p *Parser) headers(m *Message, h textproto.MIMEHeader, subject string) error {
	from, name, err := p.identity(decodeDisplayName(h.Get("From"), h))
	if err != nil {
		return err
	}
	m.From, m.FromName = from, name
	m.To = p.addrList(h.Values("To"))
	m.Cc = p.addrList(h.Values("Cc"))
	m.Subject = Bound(OneLine(subject), MaxSubjectBytes)
	m.MessageID = msgID(h.Get("Message-Id"))
	m.InReplyTo = msgID(h.Get("In-Reply-To"))
	m.References = msgIDs(h.Get("References"))
	m.Language = OneLine(h.Get("Content-Language"))
	m.ReceivedCount = len(h.Values("Received"))
	m.Looped = h.Get(LoopHeader) != ""
	m.AuthResults = h.Values("Authentication-Results")
	m.Auto, m.AutoReason = autoSubmitted(h)
	return nil
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// countFold counts case-insensitive occurrences of sub (lower-case) in b, up to limit.
func countFold(b, sub []byte, limit int) int {
	n := 0
	for len(b) >= len(sub) && n < limit {
		i := bytes.IndexByte(b, sub[0])
		j := bytes.IndexByte(b, sub[0]-32)
		if i < 0 || (j >= 0 && j < i) {
			i = j
		}
		if i < 0 || len(b)-i < len(sub) {
			return n
		}
		if bytes.EqualFold(b[i:i+len(sub)], sub) {
			n++
			i += len(sub) - 1
		}
		b = b[i+1:]
	}
	return n
}

// tooDeep walks the MIME tree with go-message's streaming reader (linear time, bodies not
// decoded) and reports whether it nests deeper than max.
func tooDeep(raw []byte, max int) bool {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		return err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)
	}
	var walk func(e *message.Entity, depth int) bool
	walk = func(e *message.Entity, depth int) bool {
		if depth > max {
			return true
		}
		mr := e.MultipartReader()
		if mr == nil {
			return false
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				return false
			}
			if walk(p, depth+1) {
				return true
			}
		}
	}
	return walk(e, 0)
}

// tooManyParts reports whether raw holds more than max MIME parts, counted by go-message's
// streaming reader (linear, unlike the full parse it guards).
func tooManyParts(raw []byte, max int) bool {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil || err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return false
	}
	n := 0
	var walk func(e *message.Entity, depth int) bool
	walk = func(e *message.Entity, depth int) bool {
		mr := e.MultipartReader()
		if mr == nil || depth > MaxDepth {
			return false
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				return false
			}
			if n++; n > max || walk(p, depth+1) {
				return true
			}
		}
	}
	return walk(e, 0)
}

// identity returns the lower-cased raw addr-spec of the first From address. An addr-spec that
// holds an RFC 2047 word matches nobody, so it is no usable From.
func (p *Parser) identity(v string) (addr, name string, err error) {
	if strings.TrimSpace(v) == "" {
		return "", "", fmt.Errorf("%w: the message has no From header", ErrNoFrom)
	}
	ap := netmail.AddressParser{WordDecoder: p.words}
	list, perr := ap.ParseList(v)
	if perr != nil || len(list) == 0 {
		// A broken display name (raw 8-bit, stray quotes) in front of a valid <addr-spec>
		// does not make the address unusable.
		list = lenientAddrs(v)
	}
	if len(list) == 0 {
		return "", "", fmt.Errorf("%w: the From header %q is not a valid address", ErrNoFrom, clip(OneLine(v), 80))
	}
	a := list[0].Address
	if strings.Contains(a, "=?") || !utf8.ValidString(a) || strings.ContainsFunc(a, unicode.IsControl) {
		return "", "", fmt.Errorf("%w: the From address contains an encoded word or control characters", ErrNoFrom)
	}
	return strings.ToLower(a), Bound(OneLine(list[0].Name), MaxNameBytes), nil
}

func angleAddr(v string) []*netmail.Address {
	i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>')
	if i < 0 || j < i {
		return nil
	}
	a, err := netmail.ParseAddress(v[i+1 : j])
	if err != nil || a.Name != "" {
		return nil
	}
	return []*netmail.Address{a}
}

func (p *Parser) addrList(values []string) []string {
	var out []string
	ap := netmail.AddressParser{WordDecoder: p.words}
	for _, v := range values {
		list, err := ap.ParseList(v)
		if err != nil {
			// A broken To/Cc must not hide a valid support address from rule 5: fall back to
			// picking out anything shaped like an addr-spec.
			out = append(out, looseAddrs(v)...)
			continue
		}
		for _, a := range list {
			if !strings.Contains(a.Address, "=?") {
				out = append(out, strings.ToLower(a.Address))
			}
		}
	}
	return out
}

func looseAddrs(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(" ,;<>\"'()\t", r) }) {
		if strings.Count(f, "@") == 1 && !strings.Contains(f, "=?") {
			out = append(out, strings.ToLower(f))
		}
	}
	return out
}

func msgID(v string) string {
	ids := msgIDs(v)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// msgIDs picks the <…> identifiers out of a header value, dropping anything else (comments,
// folding, junk) so that no CR/LF or stray text can reach a header we write.
func msgIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		id := v[i : i+j+1]
		v = v[i+j+1:]
		if len(id) > 2 && len(id) <= 998 && utf8.ValidString(id) && !strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			out = append(out, id)
		}
		if len(out) >= 100 {
			break
		}
	}
	return out
}

// autoSubmitted implements the signals of inbound rule 8 (RFC 3834 and common practice).
func autoSubmitted(h map[string][]string) (bool, string) {
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return strings.ToLower(strings.TrimSpace(v[0]))
		}
		return ""
	}
	if v := get("Auto-Submitted"); v != "" && v != "no" {
		return true, "Auto-Submitted: " + v
	}
	switch v := get("Precedence"); v {
	case "bulk", "junk", "list":
		return true, "Precedence: " + v
	}
	if len(h["List-Id"]) > 0 {
		return true, "List-Id"
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autogenerated", "X-Failed-Recipients"} {
		if len(h[k]) > 0 {
			return true, k
		}
	}
	return false, ""
}

// OneLine removes CR, LF, NUL and other control characters and collapses white space, so
// that text taken from input can go into an outbound header.
func OneLine(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

func cleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if !hasControl(s) {
		return strings.TrimSpace(s) // what the Map below would leave as it is
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r == '\r' {
			return '\n'
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// hasControl reports whether valid UTF-8 s has a rune cleanText's Map changes: '\r' or a
// control other than '\n' and '\t'. unicode.IsControl is true only of U+0000-U+001F and
// U+007F-U+009F, so a byte scan finds them without decoding. cleanText was a third of parsing
// a 2 KB mail, 80% of it the Map's call per rune (profiled), for text it mostly keeps as is.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20:
			if c != '\n' && c != '\t' {
				return true
			}
		case c == 0x7f:
			return true
		case c == 0xc2: // U+0080-U+009F are C2 80-C2 9F
			if i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f {
				return true
			}
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// file applies the attachment policy to one file: at most MaxFileBytes, all kept
// files at most MaxTotalBytes, extension on the allow-list and content matching it; a refused
// file does not refuse the message.
func (p *Parser) file(m *Message, filename, contentType string, content []byte) {
	name := cleanName(filename)
	forwarded := contentType == "message/rfc822"
	if name == "" {
		name = "forwarded-message.eml"
	}
	var total int64
	for _, a := range m.Attachments {
		total += int64(a.Size)
	}
	ext := strings.ToLower(path.Ext(name))
	size := int64(len(content))
	refuse := func(reason string) { m.Refused = append(m.Refused, Refused{name, reason}) }
	switch {
	case !forwarded && !p.allowed(ext):
		refuse(fmt.Sprintf("files of type %q are not accepted", ext))
	case size > p.policy.MaxFileBytes:
		refuse(fmt.Sprintf("the file is larger than %d bytes", p.policy.MaxFileBytes))
	case p.policy.MaxTotalBytes > 0 && total+size > p.policy.MaxTotalBytes:
		refuse(fmt.Sprintf("the attachments of one message may not exceed %d bytes together", p.policy.MaxTotalBytes))
	case !forwarded && sniffFamily(ext, content, p.allowed) != "":
		refuse(sniffFamily(ext, content, p.allowed))
	default:
		sum := sha256.Sum256(content)
		m.Attachments = append(m.Attachments, Attachment{
			Filename: name, ContentType: OneLine(contentType), Size: len(content),
			SHA256: hex.EncodeToString(sum[:]), Data: content,
		})
	}
}

func (p *Parser) allowed(ext string) bool {
	for _, a := range p.policy.AllowedExtensions {
		if a == ext {
			return true
		}
	}
	return false
}

// SafeFilename keeps the last path element of name and removes control and quoting characters.
func SafeFilename(name string) string {
	name = OneLine(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`"<>:|?*`, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	return name
}
