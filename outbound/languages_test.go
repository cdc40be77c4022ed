package outbound

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

// textOf returns the text/plain part of a rendered mail.
func textOf(t *testing.T, raw []byte) string {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal("no text part")
		}
		if ct, _, _ := p.Header.(*gomail.InlineHeader).ContentType(); ct == "text/plain" {
			b, _ := io.ReadAll(p.Body)
			return string(b)
		}
	}
}

// TestEveryLanguageHasEveryTemplate: a language with a missing customer template would fall
// back to English for that mail only, mid-conversation. French has the full customer set
// (the templates only agents receive are English only).
func TestEveryLanguageHasEveryTemplate(t *testing.T) {
	en, _ := fs.Glob(templateFS, "templates/fr/*")
	for _, lang := range mail.Languages {
		for _, f := range en {
			name := path.Base(f)
			b, err := fs.ReadFile(templateFS, "templates/"+lang+"/"+name)
			if err != nil {
				t.Errorf("%s has no %s", lang, name)
				continue
			}
			if lang != "en" && bytes.Equal(b, mustRead(t, "templates/en/"+name)) {
				t.Errorf("%s/%s is the English text", lang, name)
			}
		}
	}
}

func mustRead(t *testing.T, f string) []byte {
	b, err := fs.ReadFile(templateFS, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAckNamesGeneratedFiles: the acknowledgement says, in the customer's language, under
// which names their unnamed files (pasted screenshots) were kept, and which were refused.
func TestAckNamesGeneratedFiles(t *testing.T) {
	r := MustRenderer("mx.support.example", "Example Support")
	for _, lang := range mail.Languages {
		in := Input{Kind: "ack", Lang: lang, To: "alice@customer.example",
			Ticket: ticket.Ticket{ID: 30001, Queue: "support@example.com", Subject: "Screenshot"},
			Message: ticket.Message{MessageID: "<m1@customer.example>", Author: "alice@customer.example", Role: ticket.RoleCustomer,
				Attachments: []ticket.Attachment{{Filename: "report.pdf"}, {Filename: "image-1.png", GeneratedName: true}},
				Refused:     []ticket.Refused{{Filename: "image-2.gif", Reason: "files of type \".gif\" are not accepted"}}},
		}
		raw, _, _, err := r.Render(in)
		if err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		text := textOf(t, raw)
		if !strings.Contains(text, "image-1.png") || strings.Contains(text, "report.pdf") || !strings.Contains(text, "image-2.gif") {
			t.Errorf("%s ack does not list the generated name and the refused file alone:\n%s", lang, text)
		}
	}
}

// TestBoundedHeaders: a ticket stored with a huge subject (before subjects were bounded)
// still gives a bounded Subject header.
func TestBoundedHeaders(t *testing.T) {
	r := MustRenderer("mx.support.example", "Example Support")
	in := sample()
	in.Ticket.Subject = strings.Repeat("long ", 30000)
	raw, _, _, err := r.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 20000 {
		t.Fatalf("mail of %d bytes for a huge subject", len(raw))
	}
}
