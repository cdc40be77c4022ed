// Package outbound renders the mails of SPEC §4, and delivers queued mail through the relay
// or into a Maildir, with retries, backoff and dead letters.
package outbound

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/mailgate/mailgate/mail"
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
}

// NewRenderer parses the built-in templates (one set per mail.Languages), then the files of
// dir/<lang>/<name>.txt when dir is set, which replace the built-in of the same name.
func NewRenderer(hostname, fromName, dir string) (*Renderer, error) {
	r := &Renderer{hostname: hostname, fromName: fromName, tmpl: map[string]*template.Template{}}
	for _, lang := range mail.Languages {
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
	// Files are attached to notices so that agents see what the customer sent.
	Files []mail.Attachment
	Now   time.Time
}

type view struct {
	Tag, Subject, Queue, Author, Text, Status, Recipient, FromName, RelatedTag string
	Related, Forged, TagRefused, Internal, StatusChanged                       bool
	Refused                                                                    []ticket.Refused
	// Named are the kept files the sender gave no name, listed with the names we gave them.
	Named         []ticket.Attachment
	CommandErrors []ticket.CommandError
}

// NewID returns a random identifier for outbound mails and Message-IDs.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Render returns the mail's bytes, its Message-ID and its subject.
func (r *Renderer) Render(in Input) (raw []byte, msgID, subject string, err error) {
	t := in.Ticket
	author := in.Message.Author
	if in.AuthorName != "" {
		author = in.AuthorName + " <" + in.Message.Author + ">"
	}
	v := view{
		Tag: ticket.Tag(t.ID), Subject: mail.Bound(t.Subject, mail.MaxSubjectBytes), Queue: t.Queue, Author: author, Text: in.Message.Text,
		Status: t.Status, Recipient: in.To, FromName: r.fromName, Related: t.RelatedTo != 0,
		RelatedTag: ticket.Tag(t.RelatedTo), Forged: t.Forged, TagRefused: t.RelatedTo != 0,
		Internal: in.Message.Internal, StatusChanged: in.StatusChanged, Refused: in.Message.Refused,
		CommandErrors: in.CommandErrors, Named: generatedNames(in.Message.Attachments),
	}
	name := in.Template
	if name == "" {
		name = in.Kind
	}
	set := r.tmpl[in.Lang]
	if set == nil || set.Lookup(name+".txt") == nil {
		set = r.tmpl["en"]
	}
	var body bytes.Buffer
	if err := set.ExecuteTemplate(&body, name+".txt", v); err != nil {
		return nil, "", "", fmt.Errorf("render %s: %w", name, err)
	}

	subject = ticket.OutboundSubject(t.ID, t.Subject)
	if in.Kind == "error_reply" && in.Template == "" {
		subject = "Commands not applied: " + subject
	}
	lang := in.Lang
	if lang == "" {
		lang = "en"
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
	// go-message encodes non-ASCII as RFC 2047 words (SPEC §4: no CR/LF from input).
	h.SetAddressList("From", []*gomail.Address{{Name: mail.Bound(mail.OneLine(fromName), mail.MaxNameBytes), Address: t.Queue}})
	h.SetAddressList("To", []*gomail.Address{{Address: in.To}})
	if in.Kind == "notice" || in.Kind == "update" {
		h.SetAddressList("Reply-To", []*gomail.Address{{Address: t.Queue}})
	}
	h.SetSubject(mail.Bound(mail.OneLine(subject), mail.MaxSubjectBytes))
	h.SetDate(in.Now)
	msgID = NewID() + "@" + r.hostname
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
	if len(in.Files) == 0 {
		w, err := gomail.CreateInlineWriter(&buf, h)
		if err != nil {
			return nil, "", "", fmt.Errorf("write %s header: %w", in.Kind, err)
		}
		if err := writeAlternatives(w, text); err != nil {
			return nil, "", "", err
		}
		return buf.Bytes(), "<" + msgID + ">", subject, nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, "", "", fmt.Errorf("write %s header: %w", in.Kind, err)
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return nil, "", "", err
	}
	if err := writeAlternatives(iw, text); err != nil {
		return nil, "", "", err
	}
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
			return nil, "", "", err
		}
		_, _ = aw.Write(f.Data)
		_ = aw.Close()
	}
	if err := mw.Close(); err != nil {
		return nil, "", "", err
	}
	return buf.Bytes(), "<" + msgID + ">", subject, nil
}

// writeAlternatives writes the text and its HTML rendering as multipart/alternative parts.
func writeAlternatives(w *gomail.InlineWriter, text string) error {
	for _, part := range []struct{ ct, body string }{{"text/plain", text}, {"text/html", textToHTML(text)}} {
		var ph gomail.InlineHeader
		ph.SetContentType(part.ct, map[string]string{"charset": "utf-8"})
		pw, err := w.CreatePart(ph)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, part.body); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return w.Close()
}

// textToHTML renders the plain text as escaped HTML paragraphs; the text stays the source of
// truth, so both parts always say the same.
func textToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n")
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		lines := strings.Split(html.EscapeString(para), "\n")
		b.WriteString("<p>" + strings.Join(lines, "<br>\n") + "</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

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
