package threading

import (
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

// Mail kinds, also the labels of mailgate_outbound_sent_total (SPEC §7).
const (
	MailAck        = "ack"
	MailNotice     = "notice"
	MailUpdate     = "update"
	MailErrorReply = "error_reply"
)

// Mail is one mail a change causes: one recipient each, so no mail shows one follower's
// address to another (SPEC §4).
type Mail struct {
	Kind string
	// Template names the text when it is not the kind's own (follow, auto_close).
	Template string
	To       string
	// ToAgent is set when the recipient is an agent (or agents.notify): such mail is never
	// capped and may carry internal notes.
	ToAgent bool
}

// Change is everything a Create or Append action writes: the ticket after the change, the
// message, the timeline events and the mails to send.
type Change struct {
	New           bool
	Ticket        ticket.Ticket
	Message       ticket.Message
	Events        []ticket.Event
	StatusChanged bool
	Mails         []Mail
	CommandErrors []ticket.CommandError
}

// Apply computes the change of a Create or Append action. notify is agents.notify for the
// ticket's queue; org the organisation recorded for a new ticket's creator.
func Apply(a Action, m *mail.Message, p Policy, notify []string, org string, now time.Time) Change {
	msg := ticket.Message{
		MessageID:  m.MessageID,
		Author:     m.From,
		Role:       ticket.RoleCustomer,
		Auto:       a.Auto,
		ReceivedAt: now,
		Text:       m.Text,
	}
	for _, at := range m.Attachments {
		msg.Attachments = append(msg.Attachments, ticket.Attachment{Filename: at.Filename, ContentType: at.ContentType, Size: at.Size, SHA256: at.SHA256})
	}
	for _, r := range m.Refused {
		msg.Refused = append(msg.Refused, ticket.Refused{Filename: r.Filename, Reason: r.Reason})
	}
	if msg.Attachments == nil {
		msg.Attachments = []ticket.Attachment{}
	}
	for i, at := range m.Attachments {
		msg.Attachments[i].GeneratedName = at.Generated
	}
	if a.Kind == Create {
		return applyCreate(a, m, msg, p, notify, org, now)
	}
	return applyAppend(a, m, msg, p, notify, now)
}

func applyCreate(a Action, m *mail.Message, msg ticket.Message, p Policy, notify []string, org string, now time.Time) Change {
	t := ticket.Ticket{
		Queue: a.Queue, Subject: a.Subject, Status: ticket.StatusNew, Priority: "normal",
		Creator: m.From, Organization: org, Followers: []string{m.From},
		CreatedAt: now, UpdatedAt: now, RelatedTo: a.RelatedTo, Forged: a.Forged,
		RootMessageID: m.MessageID, Language: mail.DetectLanguage(m),
	}
	if p.CcFollow {
		for _, cc := range m.Cc {
			if !p.IsSupport(cc) {
				t.AddFollower(cc)
			}
		}
	}
	c := Change{New: true, Ticket: t, Message: msg}
	// A forged From gets no acknowledgement: no backscatter to the victim (SPEC §2).
	if !a.Forged {
		c.Mails = append(c.Mails, Mail{Kind: MailAck, To: m.From, ToAgent: p.IsAgent(m.From)})
	}
	for _, n := range notify {
		c.Mails = append(c.Mails, Mail{Kind: MailNotice, To: n, ToAgent: true})
	}
	c.Mails = dropSupport(c.Mails, p)
	return c
}

func applyAppend(a Action, m *mail.Message, msg ticket.Message, p Policy, notify []string, now time.Time) Change {
	t := *a.Ticket
	t.Followers = append([]string(nil), a.Ticket.Followers...)
	c := Change{Message: msg}
	prev := t.Status
	text := mail.StripQuotes(m.Text)
	switch a.Role {
	case ticket.RoleAgent:
		c.Message.Role = ticket.RoleAgent
		cmds, rest := ticket.ParseCommands(text)
		c.Message.Text = rest
		if !a.Auto {
			eff, errs := ticket.ApplyAgentCommands(&t, cmds, m.From, p.IsAgent, now)
			if len(errs) > 0 {
				// A botched command must not leak a message meant as a #note: keep it
				// internal and tell only the agent.
				c.Message.Internal = true
				c.CommandErrors = errs
				c.Mails = []Mail{{Kind: MailErrorReply, To: m.From, ToAgent: true}}
				c.Ticket = t
				c.Ticket.UpdatedAt = now
				return c
			}
			c.Message.Internal = eff.Internal || a.Internal
			c.Events = eff.Events
			if t.Status == ticket.StatusNew && !hasEvent(eff.Events, "status") && !c.Message.Internal {
				t.Status = ticket.StatusOpen
			}
			t.AddFollower(m.From)
		}
	default:
		cmds, rest := ticket.ParseCommands(text)
		c.Message.Text = text
		if !a.Auto {
			switch {
			case ticket.CustomerCloses(cmds):
				c.Message.Text = rest
				t.Status = ticket.StatusClosed
			case t.Status == ticket.StatusResolved || t.Status == ticket.StatusClosed || t.Status == ticket.StatusWaitingOnCustomer:
				t.Status = ticket.StatusOpen
			}
		}
	}
	if t.Status != prev {
		c.StatusChanged = true
		if !hasEvent(c.Events, "status") {
			kind := "status"
			if prev == ticket.StatusResolved || prev == ticket.StatusClosed {
				kind = "reopen"
			}
			c.Events = append(c.Events, ticket.Event{At: now, By: m.From, Kind: kind, Detail: prev + " -> " + t.Status})
		}
	}
	t.UpdatedAt = now
	c.Ticket = t
	if a.Auto {
		return c // rule 8: recorded, never triggers mail
	}
	agentFollowing := false
	for _, f := range t.Followers {
		isAgent := p.IsAgent(f)
		agentFollowing = agentFollowing || isAgent
		if f == m.From || (c.Message.Internal && !isAgent) {
			continue
		}
		ml := Mail{Kind: MailUpdate, To: f, ToAgent: isAgent}
		// Someone just added by #follow first gets a mail saying why (it carries the text).
		if eventFor(c.Events, "follow", f) && !a.Ticket.IsFollower(f) {
			ml.Template = "follow"
		}
		c.Mails = append(c.Mails, ml)
	}
	// SPEC §2: a refused attachment does not refuse the message, and the sender is told.
	if len(c.Message.Refused) > 0 {
		c.Mails = append(c.Mails, Mail{Kind: MailErrorReply, Template: "refused", To: m.From, ToAgent: p.IsAgent(m.From)})
	}
	// Until an agent follows the ticket, the queue's notify list hears of customer replies.
	if !agentFollowing && a.Role == ticket.RoleCustomer {
		for _, n := range notify {
			c.Mails = append(c.Mails, Mail{Kind: MailUpdate, To: n, ToAgent: true})
		}
	}
	c.Mails = dropSupport(c.Mails, p)
	return c
}

func eventFor(evs []ticket.Event, kind, detail string) bool {
	for _, e := range evs {
		if e.Kind == kind && e.Detail == detail {
			return true
		}
	}
	return false
}

// AutoClose closes a resolved ticket that had no customer reply for tickets.auto_close_after,
// telling the creator (issue: status life cycle).
func AutoClose(t ticket.Ticket, p Policy, now time.Time) Change {
	t.Followers = append([]string(nil), t.Followers...)
	prev := t.Status
	t.Status = ticket.StatusClosed
	t.UpdatedAt = now
	c := Change{Ticket: t, StatusChanged: true,
		Events: []ticket.Event{{At: now, By: "mailgate", Kind: "auto_close", Detail: prev + " -> " + ticket.StatusClosed}}}
	c.Mails = dropSupport([]Mail{{Kind: MailUpdate, Template: "auto_close", To: t.Creator, ToAgent: p.IsAgent(t.Creator)}}, p)
	return c
}

func hasEvent(evs []ticket.Event, kind string) bool {
	for _, e := range evs {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// dropSupport removes mail to our own support addresses: mailing ourselves would loop.
func dropSupport(ms []Mail, p Policy) []Mail {
	out := ms[:0]
	seen := map[string]bool{}
	for _, m := range ms {
		if p.IsSupport(m.To) || seen[m.To] {
			continue
		}
		seen[m.To] = true
		out = append(out, m)
	}
	return out
}
