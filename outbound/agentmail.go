package outbound

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

// Kinds of mail to agents that no inbound message caused; also labels of
// mailgate_outbound_sent_total.
const (
	KindSLAWarning    = "sla_warning"
	KindSLABreach     = "sla_breach"
	KindDigest        = "digest"
	KindNoticeSummary = "notice_summary"
)

// AgentMail is a mail to an agent or a notify address about the desk rather than about one
// inbound message: service-level warnings and breaches, the daily digest, the summary of
// gathered new-ticket notices. Always English, like every mail to agents.
type AgentMail struct {
	Kind    string
	To      string
	Queue   string // the From address
	Subject string
	// Ticket, when set, threads the mail with the ticket's other mail and tags it.
	Ticket *ticket.Ticket
	// Data is the template's view: SLAView, DigestView or SummaryView.
	Data any
	Now  time.Time
}

// SLAView is what the sla_warning and sla_breach templates see.
type SLAView struct {
	Tag, Subject, Queue, Status, Priority, Assignee string
	// Target is first_response or resolution; TargetName says it in words.
	Target, TargetName string
	// Due is the due time in the desk's time zone, DueUTC in UTC.
	Due, DueUTC string
	Link        string
}

// DigestView is what the digest template sees.
type DigestView struct {
	Queue, Date string
	Tickets     []DigestLine
	// More counts the open tickets not listed (the mail lists the first ones only).
	More int
}

// DigestLine is one open ticket in the digest.
type DigestLine struct {
	Tag, Subject, Status, Priority, Age, Due, Link string
	Breached                                       []string
	Paused                                         bool
}

// SummaryView is what the notice_summary template sees.
type SummaryView struct {
	Count    int
	Interval string
	Tickets  []SummaryLine
}

// SummaryLine is one new ticket whose notice was gathered into the summary.
type SummaryLine struct {
	Tag, Subject, Queue, Creator, Link string
}

// RenderAgentMail renders m with the template named by its kind.
func (r *Renderer) RenderAgentMail(m AgentMail) (raw []byte, msgID string, err error) {
	var body bytes.Buffer
	if err := r.tmpl["en"].ExecuteTemplate(&body, m.Kind+".txt", m.Data); err != nil {
		return nil, "", fmt.Errorf("render %s: %w", m.Kind, err)
	}
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Name: mail.OneLine(r.fromName), Address: m.Queue}})
	h.SetAddressList("To", []*gomail.Address{{Address: m.To}})
	h.SetSubject(mail.OneLine(m.Subject))
	h.SetDate(m.Now)
	msgID = NewID() + "@" + r.hostname
	h.SetMessageID(msgID)
	if m.Ticket != nil {
		if refs := threadRefs(m.Ticket.RootMessageID, ""); len(refs) > 0 {
			h.SetMsgIDList("References", refs)
		}
		h.Set("X-Mailgate-Ticket", ticket.Tag(m.Ticket.ID))
		// An agent who presses Reply writes to the ticket.
		h.SetAddressList("Reply-To", []*gomail.Address{{Address: m.Ticket.Queue}})
	}
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("X-Auto-Response-Suppress", "All")
	h.Set(mail.LoopHeader, r.hostname)
	h.Set("Content-Language", "en")
	var buf bytes.Buffer
	if err := writeAlternativeMail(&buf, &h, strings.TrimRight(body.String(), "\n")+"\n"); err != nil {
		return nil, "", fmt.Errorf("write %s: %w", m.Kind, err)
	}
	return buf.Bytes(), "<" + msgID + ">", nil
}
