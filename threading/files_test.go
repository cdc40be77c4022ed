package threading

import (
	"testing"
	"time"

	"github.com/mailgate/mailgate/mail"
)

// TestApplyKeepsGeneratedNames: the ticket remembers which file names mailgate made up, so
// that the acknowledgement can tell the sender what their pasted images are called.
func TestApplyKeepsGeneratedNames(t *testing.T) {
	p := policy()
	m := msg("alice@customer.example", func(m *mail.Message) {
		m.Attachments = []mail.Attachment{{Filename: "report.pdf"}, {Filename: "image-1.png", Generated: true}}
	})
	c := Apply(Decide(m, Facts{EnvelopeFrom: "a"}, p), m, p, nil, Facts{SenderOrg: "customer.example"}, time.Now())
	got := c.Message.Attachments
	if len(got) != 2 || got[0].GeneratedName || !got[1].GeneratedName {
		t.Fatalf("attachments = %+v", got)
	}
}
