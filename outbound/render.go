// Package outbound renders the mails mailgate sends, and delivers queued mail through the relay
// or into a Maildir, with retries, backoff and dead letters.
package outbound

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

//go:embed templates
var templateFS embed.FS

// Renderer builds outbound mails. One value serves all goroutines.
type Renderer struct {
	hostname string
	fromName string
	// tmpl holds one template set per language; "en" has every template.
	tmpl map[string]*template.Template
	// labels holds the words of each language shown instead of identifiers.
	labels map[string]labels
}

// NewRenderer parses the built-in templates (one set per mail.Languages), then the files of
// dir/<lang>/<name>.txt when dir is set, which replace the built-in of the same name.
func NewRenderer(hostname, fromName, dir string) (*Renderer, error) {
	r := &Renderer{hostname: hostname, fromName: fromName, tmpl: map[string]*template.Template{}, labels: map[string]labels{}}
	for _, lang := range mail.Languages {
		l, err := loadLabels(dir, lang)
		if err != nil {
			return nil, err
		}
		r.labels[lang] = l
		t, err := template.New("").ParseFS(templateFS, "templates/"+lang+"/*.txt")
		if err != nil {
			return nil, fmt.Errorf("built-in templates %s: %w", lang, err)
		}
		if dir != "" {
			files, _ := filepath.Glob(filepath.Join(dir, lang, "*.txt"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, fmt.Errorf("template %s: %w", f, err)
				}
				if _, err := t.New(filepath.Base(f)).Parse(string(b)); err != nil {
					return nil, fmt.Errorf("template %s: %w", f, err)
				}
			}
		}
		r.tmpl[lang] = t
	}
	return r, nil
}

// MustRenderer is NewRenderer with the built-in templates only, which always parse.
func MustRenderer(hostname, fromName string) *Renderer {
	r, err := NewRenderer(hostname, fromName, "")
	if err != nil {
		panic(err)
	}
	return r
}

// Input is what one mail is about.
type Input struct {
	Kind string
	// Template is the text to use when it is not the kind's own (follow, auto_close).
	Template      string
	Lang          string
	To            string
	Ticket        ticket.Ticket
	Message       ticket.Message
	AuthorName    string
	StatusChanged bool
	CommandErrors []ticket.CommandError
	// Files are attached to notices and updates so that people see what was sent.
	Files []mail.Attachment
	Now   time.Time
	// ToAgent: the recipient is an agent, who sees addresses and status names; anyone else
	// sees display names and status labels (no mail shows one follower's address to another).
	ToAgent bool
	// Model is the desk's ticket model (status labels, the link); nil is the built-in one.
	Model *ticket.Model
	// Withheld is how many sensitive files were left out of this copy.
	Withheld int
	// NotAdded are the people the recipient named who could not be added.
	NotAdded []ticket.NotAdded
	// RecipientName greets the recipient by name when known.
	RecipientName string
	// FileRefs leaves out the bodies of files of FileRefMin bytes or more: the mail lists where
	// they go (Mail.Files), and the worker puts them back at send time.
	FileRefs bool
}

// Mail is a rendered mail.
type Mail struct {
	Raw            []byte
	MsgID, Subject string
	// Text is the text/plain part as written, what a reply to this mail may quote.
	Text string
	// Files are the files left out of Raw (Input.FileRefs), in the order they go.
	Files []store.FileRef
}

type view struct {
	Tag, Subject, Queue, Author, Text, Status, Recipient, FromName, RelatedTag string
	Related, Forged, TagRefused, Internal, StatusChanged, ToAgent, Sensitive   bool
	Refused                                                                    []ticket.Refused
	CommandErrors                                                              []ticket.CommandError
	// Name is the recipient's display name ("" when unknown); Link the ticket's URL.
	Name, Link, StatusName string
	Withheld               int
	NotAdded               []ticket.NotAdded
	Fields                 []FieldValue
	// Statuses and Priorities list the valid values, "|"-separated, for error replies.
	Statuses, Priorities string
	// AuthorRole is the role of the message's author (customer, agent, follower).
	AuthorRole string
	// Named are the kept files the sender gave no name, listed with the names we gave them.
	Named []ticket.Attachment
}

// FieldValue is one set free-text field, for agents' mail.
type FieldValue struct{ Name, Value string }

// NewID returns a random identifier for outbound mails and Message-IDs.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Render returns the mail's bytes, its Message-ID and its subject.
func (r *Renderer) Render(in Input) (raw []byte, msgID, subject string, err error) {
	m, err := r.RenderMail(in)
	return m.Raw, m.MsgID, m.Subject, err
}

// RenderMail renders one mail; with in.FileRefs its large files are left out (Mail.Files).
func (r *Renderer) RenderMail(in Input) (Mail, error) {
	var subject string
	t := in.Ticket
	lang := in.Lang
	if r.tmpl[lang] == nil {
		lang = "en"
	}
	model := in.Model
	if model == nil {
		model = ticket.DefaultModel()
	}
	v := view{
		Tag: ticket.Tag(t.ID), Subject: mail.Bound(t.Subject, mail.MaxSubjectBytes), Queue: t.Queue, Author: r.authorFor(in, lang), Text: in.Message.Text,
		Status: t.Status, StatusName: t.Status, Recipient: in.To, FromName: r.fromName, Related: t.RelatedTo != 0,
		RelatedTag: ticket.Tag(t.RelatedTo), Forged: t.Forged, TagRefused: t.RelatedTo != 0,
		Internal: in.Message.Internal, StatusChanged: in.StatusChanged, Refused: in.Message.Refused,
		CommandErrors: in.CommandErrors, ToAgent: in.ToAgent, Sensitive: t.Sensitive, AuthorRole: in.Message.Role,
		Name: mail.OneLine(in.RecipientName), Link: model.URL(t.ID), Withheld: in.Withheld, NotAdded: in.NotAdded,
		Named: generatedNames(in.Message.Attachments),
	}
	v.Statuses, v.Priorities = strings.Join(model.Statuses(), "|"), strings.Join(model.Priorities(), "|")
	if !in.ToAgent {
		v.Status = r.statusLabel(model, t.Status, lang)
	} else {
		for _, f := range model.Fields() {
			if val := t.Fields[f]; val != "" {
				v.Fields = append(v.Fields, FieldValue{f, val})
			}
		}
	}
	name := in.Template
	if name == "" {
		name = in.Kind
	}
	file := name + ".txt"
	set := r.tmpl[in.Lang]
	if set == nil || set.Lookup(file) == nil {
		set = r.tmpl["en"]
	}
	var body bytes.Buffer
	body.Grow(len(v.Text) + 1024) // the templates' own words are well under 1 KB
	if err := set.ExecuteTemplate(&body, file, v); err != nil {
		return Mail{}, fmt.Errorf("render %s: %w", name, err)
	}

	subject = ticket.OutboundSubject(t.ID, t.Subject)
	switch {
	case in.Kind == "error_reply" && in.Template == "":
		subject = "Commands not applied: " + subject
	case in.Template == "unknown_ticket":
		subject = "Unknown ticket " + ticket.Tag(t.ID) + ": " + t.Subject
	}
	var h gomail.Header
	fromName := r.fromName
	if in.Message.Role == ticket.RoleAgent && in.Kind == "update" {
		name := in.AuthorName
		if name == "" {
			name, _, _ = strings.Cut(in.Message.Author, "@")
		}
		fromName = name + " via " + r.fromName
	}
	// Every value below is either ours or passed through mail.OneLine / msg-id filtering, and
	// go-message encodes non-ASCII as RFC 2047 words (no CR/LF from input in a header).
	h.SetAddressList("From", []*gomail.Address{{Name: mail.Bound(mail.OneLine(fromName), mail.MaxNameBytes), Address: t.Queue}})
	h.SetAddressList("To", []*gomail.Address{{Address: in.To}})
	if in.Kind == "notice" || in.Kind == "update" {
		h.SetAddressList("Reply-To", []*gomail.Address{{Address: t.Queue}})
	}
	h.SetSubject(mail.Bound(mail.OneLine(subject), mail.MaxSubjectBytes))
	h.SetDate(in.Now)
	msgID := ticket.MessageID(NewID(), t.ID, r.hostname)
	h.SetMessageID(msgID)
	refs := threadRefs(t.RootMessageID, in.Message.MessageID)
	if in.Message.MessageID != "" {
		h.SetMsgIDList("In-Reply-To", []string{strings.Trim(in.Message.MessageID, "<>")})
	}
	if len(refs) > 0 {
		h.SetMsgIDList("References", refs)
	}
	if in.Kind == "ack" || in.Kind == "error_reply" {
		h.Set("Auto-Submitted", "auto-replied")
	} else {
		h.Set("Auto-Submitted", "auto-generated")
	}
	// RFC 3834 §5: ask other responders not to answer us.
	h.Set("X-Auto-Response-Suppress", "All")
	h.Set(mail.LoopHeader, r.hostname)
	h.Set("X-Mailgate-Ticket", ticket.Tag(t.ID))

	h.Set("Content-Language", lang)
	var buf bytes.Buffer
	text := body.String()
	// The header, the text quoted-printable and its HTML: sized once rather than grown by
	// doubling (bytes.growSlice was a fifth of the bytes a render allocated, profiled).
	size := 2048 + len(text)*5/2
	for _, f := range in.Files {
		if !in.FileRefs || len(f.Data) < FileRefMin {
			size += 512 + len(f.Data)*138/100 // base64 with its line breaks
		}
	}
	buf.Grow(size)
	if len(in.Files) == 0 {
		if err := writeAlternativeMail(&buf, &h, text); err != nil {
			return Mail{}, fmt.Errorf("write %s: %w", in.Kind, err)
		}
		return Mail{Raw: buf.Bytes(), MsgID: "<" + msgID + ">", Subject: subject, Text: text}, nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return Mail{}, fmt.Errorf("write %s header: %w", in.Kind, err)
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return Mail{}, err
	}
	if err := writeAlternatives(iw, text); err != nil {
		return Mail{}, err
	}
	var files []store.FileRef
	for _, f := range in.Files {
		var ah gomail.AttachmentHeader
		ct := f.ContentType
		if ct == "" || strings.ContainsAny(ct, "\r\n;") {
			ct = "application/octet-stream"
		}
		ah.SetContentType(ct, nil)
		ah.SetFilename(mail.SafeFilename(f.Filename))
		aw, err := mw.CreateAttachment(ah)
		if err != nil {
			return Mail{}, err
		}
		if in.FileRefs && len(f.Data) >= FileRefMin {
			// The part's header is written: its body starts here.
			files = append(files, store.FileRef{At: buf.Len(), SHA256: fileSHA(f)})
		} else {
			_, _ = aw.Write(f.Data)
		}
		_ = aw.Close()
	}
	if err := mw.Close(); err != nil {
		return Mail{}, err
	}
	return Mail{Raw: buf.Bytes(), MsgID: "<" + msgID + ">", Subject: subject, Text: text, Files: files}, nil
}

// authorFor names the author of the message a mail carries: "Name <address>" for agents, and
// for anyone else only a display name, else a word ("Support", "The customer") in lang.
func (r *Renderer) authorFor(in Input, lang string) string {
	if in.ToAgent {
		if in.AuthorName != "" {
			return in.AuthorName + " <" + in.Message.Author + ">"
		}
		return in.Message.Author
	}
	if n := mail.OneLine(in.AuthorName); n != "" && !strings.Contains(n, "@") {
		return n
	}
	role := in.Message.Role
	if role == "" {
		role = ticket.RoleCustomer
	}
	return r.authorWord(role, lang)
}

// The headers of the two alternatives, made once and only read after (go-message copies a
// header before changing it, and textproto.WriteHeader does not change one), so they are
// shared by all goroutines. Without a Content-Transfer-Encoding go-message writes a text part
// quoted-printable, which encodes a byte at a time (a third of the CPU of rendering a 2 KB
// notice, profiled); the 7bit ones spare that to the parts that need no encoding.
var (
	textPart, htmlPart         = partHeader("text/plain", ""), partHeader("text/html", "")
	textPart7bit, htmlPart7bit = partHeader("text/plain", "7bit"), partHeader("text/html", "7bit")
)

func partHeader(ct, cte string) gomail.InlineHeader {
	var h gomail.InlineHeader
	h.SetContentType(ct, map[string]string{"charset": "utf-8"})
	if cte != "" {
		h.Set("Content-Transfer-Encoding", cte)
	}
	return h
}

// asWritten is h as go-message's InlineWriter writes it (mail.initInlineHeader): inline, and
// quoted-printable unless it says otherwise.
func asWritten(h gomail.InlineHeader) textproto.Header {
	c := gomail.InlineHeader{Header: h.Header.Copy()}
	c.Set("Content-Disposition", "inline")
	if !c.Has("Content-Transfer-Encoding") {
		c.Set("Content-Transfer-Encoding", "quoted-printable")
	}
	return c.Header.Header
}

var (
	textWire, htmlWire         = asWritten(textPart), asWritten(htmlPart)
	textWire7bit, htmlWire7bit = asWritten(textPart7bit), asWritten(htmlPart7bit)
)

// alternative is one part of a multipart/alternative body: its header for go-message's
// InlineWriter and as written, and its body as it goes out or, when qp, before
// quoted-printable encoding.
type alternative struct {
	h    gomail.InlineHeader
	wire textproto.Header
	body []byte
	qp   bool
}

// alternatives makes the text and its HTML rendering into parts, each 7bit when it can be.
func alternatives(text string) [2]alternative {
	var out [2]alternative
	for i, part := range []struct {
		h7bit, hqp       gomail.InlineHeader
		wire7bit, wireqp textproto.Header
		body             string
	}{
		{textPart7bit, textPart, textWire7bit, textWire, text},
		{htmlPart7bit, htmlPart, htmlWire7bit, htmlWire, textToHTML(text)},
	} {
		switch lfs, ok := sevenBit(part.body); {
		case ok && lfs > 0:
			out[i] = alternative{h: part.h7bit, wire: part.wire7bit, body: appendCRLF(make([]byte, 0, len(part.body)+lfs), part.body)}
		case ok:
			out[i] = alternative{h: part.h7bit, wire: part.wire7bit, body: []byte(part.body)} // CRLF already, or one line
		default:
			out[i] = alternative{h: part.hqp, wire: part.wireqp, body: []byte(part.body), qp: true}
		}
	}
	return out
}

// writeAlternativeMail writes a mail of header h whose body is text and its HTML rendering as
// multipart/alternative. It uses go-message's textproto layer (header writer, multipart writer)
// and the quoted-printable writer go-message itself uses, not mail.CreateInlineWriter, which
// copies the header twice, parses the Content-Type it has just set and passes each 7bit body
// through a line wrapper a byte at a time: half the cost of rendering a notice (profiled).
// Byte for byte it writes what CreateInlineWriter would, up to the random boundary.
func writeAlternativeMail(buf *bytes.Buffer, h *gomail.Header, text string) error {
	mw := textproto.NewMultipartWriter(buf)
	h.Set("MIME-Version", "1.0")
	h.SetContentType("multipart/alternative", map[string]string{"boundary": mw.Boundary()})
	if err := textproto.WriteHeader(buf, h.Header.Header); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	for _, a := range alternatives(text) {
		pw, err := mw.CreatePart(a.wire)
		if err != nil {
			return fmt.Errorf("write part: %w", err)
		}
		if a.qp {
			qw := quotedprintable.NewWriter(pw)
			if _, err := qw.Write(a.body); err != nil {
				return fmt.Errorf("write part: %w", err)
			}
			err = qw.Close()
		} else {
			_, err = pw.Write(a.body)
		}
		if err != nil {
			return fmt.Errorf("write part: %w", err)
		}
	}
	return mw.Close()
}

// writeAlternatives writes the text and its HTML rendering as the parts of w, a
// multipart/alternative nested in a mail with files.
func writeAlternatives(w *gomail.InlineWriter, text string) error {
	for _, a := range alternatives(text) {
		pw, err := w.CreatePart(a.h)
		if err != nil {
			return fmt.Errorf("write part: %w", err)
		}
		if _, err := pw.Write(a.body); err != nil {
			return fmt.Errorf("write part: %w", err)
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("write part: %w", err)
		}
	}
	return w.Close()
}

// maxLine is the longest line, in octets without its CRLF, that a 7bit body may have (RFC 5322
// §2.1.1).
const maxLine = 998

// sevenBit reports whether body can go as Content-Transfer-Encoding 7bit (RFC 2045 §2.7) and
// read back as its quoted-printable decodes: ASCII without NUL, lines of at most maxLine
// octets, and line ends either all LF (the templates' and the parser's; lfs counts them, each
// to be written as CRLF) or all CRLF. Anything else, a CR alone or LF and CRLF mixed, is left
// to quoted-printable, which turns each of CR, LF and CRLF into a CRLF of its own.
func sevenBit(body string) (lfs int, ok bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	crlfs, start := 0, 0 // start: where the current line begins
	for i := 0; i < len(body); {
		if i+8 <= len(body) {
			// Eight bytes at a time while none is 0x80 or more, nor under 0x0e (NUL, LF, CR
			// and a few controls that rarely occur): a byte at a time, the check of a 2 KB
			// part took ten times as long (5 µs, measured).
			s := body[i : i+8]
			w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
				uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
			if w&highs == 0 && (w-0x0e*ones)&^w&highs == 0 {
				i += 8
				continue
			}
		}
		switch c := body[i]; {
		case c >= 0x80 || c == 0:
			return 0, false
		case c == '\r':
			if i+1 == len(body) || body[i+1] != '\n' || i-start > maxLine {
				return 0, false
			}
			crlfs++
			i++ // past the LF
			start = i + 1
		case c == '\n':
			if i-start > maxLine {
				return 0, false
			}
			lfs++
			start = i + 1
		}
		i++
	}
	if len(body)-start > maxLine || lfs > 0 && crlfs > 0 {
		return 0, false
	}
	return lfs, true
}

// appendCRLF appends s with each LF written as CRLF. go-message's 7bit writer does that too,
// but as a side effect of how it wraps long lines, not as something it promises; and the copy
// replaces the one writing a string to it made anyway.
func appendCRLF(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(append(dst, s[:i]...), '\r', '\n')
		s = s[i+1:]
	}
}

// textToHTML renders the plain text as escaped HTML paragraphs; the text stays the source of
// truth, so both parts always say the same.
// It writes into one builder, without splitting the text into slices of lines.
func textToHTML(text string) string {
	var b strings.Builder
	b.Grow(len(text) + len(text)/8 + 128)
	b.WriteString("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n")
	rest := strings.ReplaceAll(text, "\r\n", "\n")
	for more := true; more; {
		var para string
		para, rest, more = strings.Cut(rest, "\n\n")
		// Indentation, trailing spaces ("-- ") and blank lines inside a paragraph mean
		// nothing in HTML but show as stray whitespace in some clients.
		open := false
		for lmore := true; lmore; {
			var l string
			l, para, lmore = strings.Cut(para, "\n")
			if l = strings.TrimSpace(l); l == "" {
				continue
			}
			if open {
				b.WriteString("<br>\n")
			} else {
				b.WriteString("<p>")
				open = true
			}
			_, _ = htmlEscaper.WriteString(&b, l)
		}
		if open {
			b.WriteString("</p>\n")
		}
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// htmlEscaper escapes as html.EscapeString does, writing to the builder directly.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", "\"", "&#34;")

// threadRefs keeps all of a ticket's mail in one thread: the opening mail first, then the
// message this mail answers.
func threadRefs(root, current string) []string {
	var out []string
	for _, id := range []string{root, current} {
		id = strings.Trim(id, "<>")
		if id != "" && (len(out) == 0 || out[len(out)-1] != id) {
			out = append(out, id)
		}
	}
	return out
}

// RenderQuarantine tells an agent that a message could not be parsed and where it is kept.
func (r *Renderer) RenderQuarantine(to, queue, id, reason, envFrom string, now time.Time) (raw []byte, msgID, subject string) {
	subject = "Message quarantined: " + id
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Name: mail.OneLine(r.fromName), Address: queue}})
	h.SetAddressList("To", []*gomail.Address{{Address: to}})
	h.SetSubject(subject)
	h.SetDate(now)
	msgID = NewID() + "@" + r.hostname
	h.SetMessageID(msgID)
	h.Set("Auto-Submitted", "auto-generated")
	h.Set(mail.LoopHeader, r.hostname)
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	var buf bytes.Buffer
	w, err := gomail.CreateSingleInlineWriter(&buf, h)
	if err == nil {
		fmt.Fprintf(w, "A message could not be parsed and was quarantined; the sender's MTA was told it was accepted.\n\n"+
			"Quarantine ID: %s\nEnvelope sender: %s\nReason: %s\n\nSee it with: mailgate quarantine list\n",
			id, mail.OneLine(envFrom), reason)
		_ = w.Close()
	}
	return buf.Bytes(), "<" + msgID + ">", subject
}

// generatedNames picks the kept files whose names mailgate made up, so that the sender learns
// what their pasted images are called.
func generatedNames(files []ticket.Attachment) []ticket.Attachment {
	var out []ticket.Attachment
	for _, f := range files {
		if f.GeneratedName {
			out = append(out, f)
		}
	}
	return out
}
