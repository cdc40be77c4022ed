package threading

import (
	"time"

	"github.com/mailgate/mailgate/ticket"
)

// Why a person a customer named was not added (ticket.NotAdded.Reason); templates say it in words.
const (
	notColleague = "not_colleague" // not a person of the author's organization
	creatorStays = "creator"       // the creator always follows the ticket
)

// applyCustomerCommands applies a customer's #sensitive, #follow and #unfollow to c.Ticket.
// Customers may add and remove people of their own organization only; nobody removes the
// creator.
func applyCustomerCommands(c *Change, cc ticket.CustomerCommands, author string, p Policy, f Facts, now time.Time) {
	ev := func(kind, detail string) {
		c.Events = append(c.Events, ticket.Event{At: now, By: author, Kind: kind, Detail: detail})
	}
	if cc.Sensitive && !c.Ticket.Sensitive {
		c.Ticket.Sensitive = true
		ev("sensitive", "marked sensitive")
	}
	for _, a := range cc.Follow {
		if a == author {
			continue
		}
		if !colleague(a, author, p, f) {
			c.NotAdded = append(c.NotAdded, ticket.NotAdded{Address: a, Reason: notColleague})
			continue
		}
		if c.Ticket.AddFollowerBy(a, ticket.FollowerAddedByCustomer) {
			ev("follow", a)
		}
	}
	for _, a := range cc.Unfollow {
		switch {
		case a == c.Ticket.Creator:
			c.NotAdded = append(c.NotAdded, ticket.NotAdded{Address: a, Reason: creatorStays})
		case a != author && !colleague(a, author, p, f):
			c.NotAdded = append(c.NotAdded, ticket.NotAdded{Address: a, Reason: notColleague})
		case c.Ticket.RemoveFollower(a):
			ev("unfollow", a)
		}
	}
}

// addCustomerMentions makes the colleagues a customer mentions followers; anyone else is
// ignored, and the customer is told who and why.
func addCustomerMentions(c *Change, mentions []string, author string, p Policy, f Facts, now time.Time) {
	dom := ticket.Organization(author)
	for _, mt := range mentions {
		a := ticket.MentionAddress(mt, dom)
		if a == "" || a == author || c.Ticket.IsFollower(a) {
			continue
		}
		if !colleague(a, author, p, f) {
			c.NotAdded = append(c.NotAdded, ticket.NotAdded{Address: a, Reason: notColleague})
			continue
		}
		if c.Ticket.AddFollowerBy(a, ticket.FollowerAddedByCustomer) {
			c.Events = append(c.Events, ticket.Event{At: now, By: author, Kind: "follow", Detail: a})
		}
	}
}

// addAgentMentions makes the agents an agent mentions (in a note too) followers; a mention of
// anyone else is plain text.
func addAgentMentions(c *Change, mentions []string, author string, p Policy, now time.Time) {
	for _, mt := range mentions {
		a := ""
		if local, _, full := cutAt(mt); full {
			a = ticket.PlainAddress(mt)
		} else if p.AgentMention != nil {
			a = p.AgentMention(local, author)
		}
		if a == "" || a == author || !p.IsAgent(a) || p.IsSupport(a) {
			continue
		}
		if c.Ticket.AddFollowerBy(a, ticket.FollowerAddedByAgent) {
			c.Events = append(c.Events, ticket.Event{At: now, By: author, Kind: "follow", Detail: a})
		}
	}
}

func cutAt(s string) (local, domain string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// colleague reports whether a customer may add a to their ticket: a person of the author's
// organization (an active account of the same organization, or with reply_policy
// organization, an address of the same domain). Agents and our own addresses are not.
func colleague(a, author string, p Policy, f Facts) bool {
	if p.IsAgent(a) || p.IsSupport(a) {
		return false
	}
	if pr, ok := f.People[a]; ok && pr.Active && pr.Organization != "" && pr.Organization == f.SenderOrg {
		return true
	}
	return p.OrgReplies && ticket.Organization(a) == ticket.Organization(author)
}
