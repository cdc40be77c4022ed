package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// The text kept for a queued mail is the text a client shows, the same the parser reads from
// it; mails with files (notices) included.
func TestSentTextsAreWhatClientsShow(t *testing.T) {
	r := outbound.MustRenderer("mx.example", "Support")
	tk := ticket.Ticket{ID: 30001, Queue: "support@example.com", Subject: "Printer on fire", Creator: "a@c.example"}
	msg := ticket.Message{Author: "a@c.example", Text: "It is on fire.\nÇa brûle, vraiment."}
	var mails []store.Outgoing
	for _, in := range []outbound.Input{
		{Kind: "ack", To: "a@c.example", Ticket: tk, Message: msg, Now: time.Now(), Lang: "fr"},
		{Kind: "notice", To: "team@example.com", Ticket: tk, Message: msg, Now: time.Now(), Lang: "en",
			Files: []mail.Attachment{{Filename: "photo.png", ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n")}}},
	} {
		m, err := r.RenderMail(in)
		if err != nil {
			t.Fatal(err)
		}
		mails = append(mails, store.Outgoing{MessageID: m.MsgID, Raw: m.Raw, Text: m.Text})
	}
	got := sentTexts(30001, mails)
	if len(got) != 2 {
		t.Fatalf("sent texts: %+v", got)
	}
	p := mail.NewParser(mail.Policy{})
	for i, s := range got {
		m, err := p.Parse(mails[i].Raw)
		if err != nil {
			t.Fatal(err)
		}
		if s.Text != m.Text || s.MessageID != mails[i].MessageID || s.TicketID != 30001 {
			t.Errorf("mail %d: kept %q, a client shows %q", i, s.Text, m.Text)
		}
		if want := []string{"Bonjour", "Ça brûle"}[i]; !strings.Contains(s.Text, want) {
			t.Errorf("mail %d: the text lacks %q: %q", i, want, s.Text)
		}
	}
}
