package threading

import (
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

// Mail kinds, also the labels of mailgate_outbound_sent_total.
const (
	MailAck        = "ack"
	MailNotice     = "notice"
	MailUpdate     = "update"
	MailErrorReply = "error_reply"
)

// Mail is one mail a change causes: one recipient each, so no mail shows one follower's
// address to another.
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
	// NotAdded are the people a customer named (mention, #follow, #unfollow) who could not be
	// added or removed, and why; the customer is told.
	NotAdded []ticket.NotAdded
}

// Apply computes the change of a Create or Append action. notify is agents.notify for the
// ticket's queue; f the facts the action was decided on.
func Apply(a Action, m *mail.Message, p Policy, notify []string, f Facts, now time.Time) Change {
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
	var c Change
	if a.Kind == Create {
		c = applyCreate(a, m, msg, p, notify, f, now)
	} else {
		c = applyAppend(a, m, msg, p, notify, f, now)
	}
	// From the message that marked the ticket sensitive on, its files go to agents only.
	if c.Ticket.Sensitive {
		for i := range c.Message.Attachments {
			c.Message.Attachments[i].Sensitive = true
		}
	}
	return c
}

func applyCreate(a Action, m *mail.Message, msg ticket.Message, p Policy, notify []string, f Facts, now time.Time) Change {
	model := p.TicketModel()
	t := ticket.Ticket{
		Queue: a.Queue, Subject: a.Subject, Priority: model.DefaultPriority(),
		Creator: m.From, CreatorName: m.FromName, Organization: f.SenderOrg, Followers: []string{m.From},
		CreatedAt: now, UpdatedAt: now, RelatedTo: a.RelatedTo, Forged: a.Forged,
		RootMessageID: m.MessageID, Language: mail.DetectLanguage(m),
	}
	model.SetStatus(&t, model.Initial())
	if p.CcFollow {
		for _, cc := range m.Cc {
			if !p.IsSupport(cc) {
				t.AddFollower(cc)
			}
		}
	}
	c := Change{New: true, Message: msg}
	if !p.IsAgent(m.From) && !a.Forged {
		// The opening mail may already say what a customer's reply can: #sensitive, #follow,
		// and mentions of colleagues.
		cmds, _ := ticket.ParseCommands(m.Text)
		cc := ticket.ParseCustomerCommands(cmds)
		cc.Close, cc.Unfollow = false, nil
		c.Message.Text = ticket.WithoutLines(m.Text, cc.Lines)
		c.Ticket = t
		applyCustomerCommands(&c, cc, m.From, p, f, now)
		addCustomerMentions(&c, ticket.Mentions(c.Message.Text), m.From, p, f, now)
		t = c.Ticket
	}
	c.Ticket = t
	// A forged From gets no acknowledgement: no backscatter to the victim.
	if !a.Forged {
		c.Mails = append(c.Mails, Mail{Kind: MailAck, To: m.From, ToAgent: p.IsAgent(m.From)})
	}
	for _, n := range notify {
		c.Mails = append(c.Mails, Mail{Kind: MailNotice, To: n, ToAgent: true})
	}
	for _, fl := range t.Followers {
		if fl != m.From && eventFor(c.Events, "follow", fl) {
			c.Mails = append(c.Mails, Mail{Kind: MailUpdate, Template: "follow", To: fl, ToAgent: p.IsAgent(fl)})
		}
	}
	c.Mails = dropSupport(c.Mails, p)
	return c
}

func applyAppend(a Action, m *mail.Message, msg ticket.Message, p Policy, notify []string, f Facts, now time.Time) Change {
	model := p.TicketModel()
	t := *a.Ticket
	t.Followers = append([]string(nil), a.Ticket.Followers...)
	c := Change{Message: msg}
	prev, prevClass := t.Status, model.ClassOf(&t)
	text := mail.ReplyText(m, a.Sent.texts())
	switch a.Role {
	case ticket.RoleAgent:
		c.Message.Role = ticket.RoleAgent
		cmds, rest := ticket.ParseCommands(text)
		c.Message.Text = rest
		if !a.Auto {
			eff, errs := ticket.ApplyAgentCommands(&t, cmds, ticket.Env{Model: model, Author: m.From, IsAgent: p.IsAgent, Now: now})
			if len(errs) > 0 {
				// A botched command must not leak a message meant as a #note: keep it
				// internal and tell only the agent.
				c.Message.Internal = true
				c.CommandErrors = errs
				c.Mails = []Mail{{Kind: MailErrorReply, To: m.From, ToAgent: true}}
				c.Ticket = *a.Ticket
				c.Ticket.UpdatedAt = now
				return c
			}
			c.Message.Internal = eff.Internal || a.Internal
			c.Events = eff.Events
			if prevClass == ticket.ClassNew && !hasEvent(eff.Events, "status") && !c.Message.Internal {
				model.SetStatus(&t, model.FirstAgentReply())
			}
			t.AddFollower(m.From)
			c.Ticket = t
			addAgentMentions(&c, ticket.Mentions(rest), m.From, p, now)
			t = c.Ticket
		}
	case ticket.RoleFollower:
		c.Message.Role = ticket.RoleFollower
		c.Message.Text = text
	default:
		cmds, _ := ticket.ParseCommands(text)
		c.Message.Text = text
		if !a.Auto {
			cc := ticket.ParseCustomerCommands(cmds)
			c.Message.Text = ticket.WithoutLines(text, cc.Lines)
			switch {
			case cc.Close:
				model.SetStatus(&t, model.Closed())
			case prevClass == ticket.ClassResolved || prevClass == ticket.ClassClosed || prevClass == ticket.ClassWaitingCustomer:
				model.SetStatus(&t, model.Reopen())
			}
			c.Ticket = t
			applyCustomerCommands(&c, cc, m.From, p, f, now)
			addCustomerMentions(&c, ticket.Mentions(c.Message.Text), m.From, p, f, now)
			t = c.Ticket
		}
	}
	if t.Status != prev {
		c.StatusChanged = true
		if !hasEvent(c.Events, "status") {
			kind := "status"
			if prevClass == ticket.ClassResolved || prevClass == ticket.ClassClosed {
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
	for _, fl := range t.Followers {
		isAgent := p.IsAgent(fl)
		agentFollowing = agentFollowing || isAgent
		if fl == m.From || (c.Message.Internal && !isAgent) {
			continue
		}
		ml := Mail{Kind: MailUpdate, To: fl, ToAgent: isAgent}
		// Someone just added (#follow, a mention) first gets a mail saying why (it carries the text).
		if eventFor(c.Events, "follow", fl) && !a.Ticket.IsFollower(fl) {
			ml.Template = "follow"
		}
		c.Mails = append(c.Mails, ml)
	}
	// A refused attachment does not refuse the message, and the sender is told.
	if len(c.Message.Refused) > 0 {
		c.Mails = append(c.Mails, Mail{Kind: MailErrorReply, Template: "refused", To: m.From, ToAgent: p.IsAgent(m.From)})
	}
	if len(c.NotAdded) > 0 {
		c.Mails = append(c.Mails, Mail{Kind: MailErrorReply, Template: "not_added", To: m.From, ToAgent: p.IsAgent(m.From)})
	}
	// Until an agent follows the ticket, the queue's notify list hears of customer replies.
	if !agentFollowing && a.Role != ticket.RoleAgent {
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
	p.TicketModel().SetStatus(&t, p.TicketModel().Closed())
	t.UpdatedAt = now
	c := Change{Ticket: t, StatusChanged: true,
		Events: []ticket.Event{{At: now, By: "mailgate", Kind: "auto_close", Detail: prev + " -> " + t.Status}}}
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
