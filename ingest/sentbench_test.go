package ingest

import (
	"testing"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// BenchmarkSentTexts is the cost of keeping the texts of an acknowledgement and a notice.
func BenchmarkSentTexts(b *testing.B) {
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
			b.Fatal(err)
		}
		mails = append(mails, store.Outgoing{MessageID: m.MsgID, Raw: m.Raw, Text: m.Text})
	}
	for b.Loop() {
		sentTexts(30001, mails)
	}
}
