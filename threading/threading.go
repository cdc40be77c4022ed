// Package threading is the decision of the inbound rules: given a parsed message and the ticket it names,
// what happens to it. Pure functions over plain values; no network, Redis or SMTP.
package threading

import (
	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/reason"
	"github.com/mailgate/mailgate/ticket"
)

// Kind is what is done with a message.
type Kind int

const (
	Reject    Kind = iota // answered 5xx, nothing stored
	Ignore                // answered 250, nothing stored
	Duplicate             // answered 250, nothing new (rule 6)
	Create                // a new ticket (rule 11)
	Append                // added to an existing ticket (rules 9, 10)
	// Bounce: answered 250, nothing stored, the sender gets an error reply (an agent's tag
	// names no ticket: opening one in the agent's name would help nobody).
	Bounce
)

// Reason says why a message is rejected or ignored; the one list, with each reason's SMTP
// reply, is package reason.
type Reason = reason.Reason

const (
	ReasonNone          = reason.None
	ReasonLoop          = reason.Loop
	ReasonOwnMarker     = reason.OwnMarker
	ReasonNotInTo       = reason.NotInTo
	ReasonNoAccount     = reason.NoAccount
	ReasonAuto          = reason.Auto
	ReasonCommentOnly   = reason.CommentOnly
	ReasonUnknownTicket = reason.UnknownTicket
)

// Outcome labels of mailgate_messages_total.
const (
	OutcomeCreated   = "created"
	OutcomeThreaded  = "threaded"
	OutcomeRerouted  = "rerouted"
	OutcomeDuplicate = "duplicate"
	OutcomeRejected  = "rejected"
	OutcomeIgnored   = "ignored"
	OutcomeAuto      = "auto"
)

// Policy is the part of the configuration the decision reads.
type Policy struct {
	IsSupport     func(addr string) bool
	IsAgent       func(addr string) bool
	IsComment     func(addr string) bool // nil: no comment addresses
	MaxReceived   int
	NotInToIgnore bool     // tickets.not_in_to: ignore
	OrgReplies    bool     // tickets.reply_policy: organization
	RequireActive bool     // accounts.require_active
	UseReferences bool     // threading.use_references
	RequireAuth   bool     // auth.require_for_replies is dkim or dmarc
	CcFollow      bool     // tickets.cc_policy: follow
	Queues        []string // support.addresses, in order
	// Model is the desk's ticket model (statuses and their classes, priorities, types, fields);
	// nil is the built-in one.
	Model *ticket.Model
	// AgentMention turns an agent's `@local-part` mention into an agent's address ("" if it
	// names none); nil: only `@address` mentions of agents count.
	AgentMention func(local, author string) string
}

// TicketModel is the policy's ticket model.
func (p Policy) TicketModel() *ticket.Model {
	if p.Model == nil {
		return ticket.DefaultModel()
	}
	return p.Model
}

// Verdict is the sender-authentication result for the From domain.
type Verdict int

const (
	VerdictNone Verdict = iota // nothing trusted says anything
	VerdictPass
	VerdictFail // a trusted host says the From is forged
)

// Facts are what the store knows about a message: read before the decision, checked again
// (ticket version) when the result is written.
type Facts struct {
	EnvelopeFrom string // "" for the null sender <>
	Duplicate    bool
	// TagID is the ticket named in the subject (0: none); Tagged is that ticket if it exists.
	TagID  int64
	Tagged *ticket.Ticket
	// Referenced is the ticket found through In-Reply-To/References when there is no tag.
	Referenced *ticket.Ticket
	// ReferencedByName: Referenced came from a Message-ID that names its ticket, which anyone
	// can write. For a sender who may not add to that ticket it counts as no reference at all:
	// the acknowledgement must not tell whether the ticket it names exists.
	ReferencedByName bool
	// SenderOrg is the sender's organisation (account, else domain); SenderActive whether
	// the sender has an active account.
	SenderOrg    string
	SenderActive bool
	Verdict      Verdict
	// People are the accounts of the addresses a customer's message names (mentions,
	// #follow, #unfollow), to tell colleagues from strangers. Missing: no account.
	People map[string]Person
}

// Person is what the store knows of an address a customer names.
type Person struct {
	Organization string
	Active       bool
}

// Action is the decision.
type Action struct {
	Kind    Kind
	Reason  Reason
	Outcome string
	// For Append: the ticket and the author's role. For Create: the queue, subject, and the
	// ticket whose tag could not be used (RelatedTo).
	Ticket    *ticket.Ticket
	Role      string
	Auto      bool
	Queue     string
	Subject   string
	RelatedTo int64
	Forged    bool
	// Internal is set for an agent's mail to a comment address.
	Internal bool
	// Sent, for Append, holds the texts of our own mails the message answers (see QuotedIDs);
	// their quoted copies are removed exactly from the stored text.
	Sent *Sent
}

// Precheck applies the rules that need no store: the loop limits and rule 5. It returns nil
// when the message goes on to Decide. Rule 4 (no From) is decided by the parser.
func Precheck(m *mail.Message, p Policy) *Action {
	if m.ReceivedCount > p.MaxReceived {
		return &Action{Kind: Reject, Reason: ReasonLoop, Outcome: OutcomeRejected}
	}
	if m.Looped {
		return &Action{Kind: Ignore, Reason: ReasonOwnMarker, Outcome: OutcomeIgnored}
	}
	if Queue(m.To, p) == "" && !toComment(m, p) {
		if p.NotInToIgnore {
			return &Action{Kind: Ignore, Reason: ReasonNotInTo, Outcome: OutcomeIgnored}
		}
		return &Action{Kind: Reject, Reason: ReasonNotInTo, Outcome: OutcomeRejected}
	}
	return nil
}

// toComment reports whether the message is addressed to a comment address.
func toComment(m *mail.Message, p Policy) bool {
	if p.IsComment == nil {
		return false
	}
	for _, a := range append(append([]string{}, m.To...), m.Cc...) {
		if p.IsComment(a) {
			return true
		}
	}
	return false
}

// Queue is the support address a message was written to: the first support address in To:;
// an alias stands for the first configured address, since aliases are not queues of their own.
func Queue(to []string, p Policy) string {
	alias := false
	for _, a := range to {
		for _, q := range p.Queues {
			if a == q {
				return q
			}
		}
		alias = alias || (p.IsSupport(a) && (p.IsComment == nil || !p.IsComment(a)))
	}
	if alias && len(p.Queues) > 0 {
		return p.Queues[0]
	}
	return ""
}

// Decide applies inbound rules 6 to 11, in order.
func Decide(m *mail.Message, f Facts, p Policy) Action {
	if f.Duplicate {
		return Action{Kind: Duplicate, Outcome: OutcomeDuplicate}
	}
	agent := p.IsAgent(m.From)
	if p.RequireActive && !agent && !f.SenderActive {
		return Action{Kind: Reject, Reason: ReasonNoAccount, Outcome: OutcomeRejected}
	}
	auto := m.Auto || f.EnvelopeFrom == ""

	t, tagged := f.Tagged, true
	if t == nil && f.TagID == 0 && p.UseReferences {
		t, tagged = f.Referenced, false
	}
	if t != nil {
		authOK := !p.RequireAuth || f.Verdict == VerdictPass
		switch {
		case mayReplyAsCustomer(m.From, f.SenderOrg, t, p) && authOK:
			return Action{Kind: Append, Outcome: appendOutcome(auto), Ticket: t, Role: ticket.RoleCustomer, Auto: auto}
		case agent && authOK:
			return Action{Kind: Append, Outcome: appendOutcome(auto), Ticket: t, Role: ticket.RoleAgent, Auto: auto,
				Internal: toComment(m, p)}
		case t.MayAddAsFollower(m.From) && authOK:
			// Someone an agent (or the customer, within the organisation) made a follower was
			// told to reply: their mail belongs to the ticket, not to a new one.
			return Action{Kind: Append, Outcome: appendOutcome(auto), Ticket: t, Role: ticket.RoleFollower, Auto: auto}
		}
	}
	if agent && !auto && f.TagID != 0 && f.Tagged == nil {
		return Action{Kind: Bounce, Reason: ReasonUnknownTicket, Outcome: OutcomeIgnored, RelatedTo: f.TagID,
			Queue: Queue(m.To, p), Subject: ticket.BaseSubject(m.Subject)}
	}
	// Rule 8: automatic mail never opens a ticket.
	if auto {
		return Action{Kind: Ignore, Reason: ReasonAuto, Outcome: OutcomeAuto}
	}
	if toComment(m, p) && Queue(m.To, p) == "" {
		return Action{Kind: Reject, Reason: ReasonCommentOnly, Outcome: OutcomeRejected}
	}
	a := Action{
		Kind:    Create,
		Outcome: OutcomeCreated,
		Queue:   Queue(m.To, p),
		Subject: ticket.BaseSubject(m.Subject),
		Forged:  f.Verdict == VerdictFail,
	}
	if f.TagID != 0 {
		// Rule 11: the same words whether or not ticket TagID exists; only agents see the link.
		a.Outcome = OutcomeRerouted
		a.RelatedTo = f.TagID
	} else if t != nil && !tagged && !f.ReferencedByName {
		a.Outcome = OutcomeRerouted
		a.RelatedTo = t.ID
	}
	return a
}

func appendOutcome(auto bool) string {
	if auto {
		return OutcomeAuto
	}
	return OutcomeThreaded
}

func mayReplyAsCustomer(from, org string, t *ticket.Ticket, p Policy) bool {
	if from == t.Creator {
		return true
	}
	return p.OrgReplies && org != "" && org == t.Organization && !p.IsAgent(from)
}
