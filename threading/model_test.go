package threading

import (
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

// deskPolicy is policy() on a desk with its own statuses (a Freshdesk-style desk).
func deskPolicy(t *testing.T) Policy {
	t.Helper()
	m, err := ticket.NewModel(ticket.Spec{
		Statuses: []ticket.StatusDef{
			{Name: "new", Class: ticket.ClassNew}, {Name: "pending", Class: ticket.ClassOpen},
			{Name: "waiting_on_customer", Class: ticket.ClassWaitingCustomer},
			{Name: "to_deploy", Class: ticket.ClassWaitingOther}, {Name: "standby", Class: ticket.ClassWaitingOther},
			{Name: "done", Class: ticket.ClassResolved}, {Name: "archived", Class: ticket.ClassClosed},
		},
		Priorities: []string{"low", "medium", "high"}, DefaultPriority: "medium",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := policy()
	p.Model = m
	return p
}

func onDesk(p Policy, status string) *ticket.Ticket {
	tk := existing()
	p.TicketModel().SetStatus(tk, status)
	return tk
}

func TestLifeCycleOnClasses(t *testing.T) {
	p := deskPolicy(t)
	now := time.Now()
	apply := func(tk *ticket.Ticket, from, text string) Change {
		m := msg(from, func(m *mail.Message) { m.Text = text })
		return Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p), m, p, nil, Facts{}, now)
	}
	m := msg("alice@customer.example")
	c := Apply(Decide(m, Facts{EnvelopeFrom: "a"}, p), m, p, nil, Facts{}, now)
	if c.Ticket.Status != "new" || c.Ticket.StatusClass != ticket.ClassNew || c.Ticket.Priority != "medium" {
		t.Fatalf("new ticket = %s/%s/%s", c.Ticket.Status, c.Ticket.StatusClass, c.Ticket.Priority)
	}
	tests := []struct {
		name, from, status, text, want, event string
	}{
		{"first agent reply", "bob@example.com", "new", "On it.", "pending", "status"},
		{"note keeps new", "bob@example.com", "new", "#note\nhmm", "new", ""},
		{"customer reply on waiting_customer", "alice@customer.example", "waiting_on_customer", "Here.", "pending", "status"},
		{"customer reply on resolved class", "alice@customer.example", "done", "Again.", "pending", "reopen"},
		{"customer reply on closed class", "alice@customer.example", "archived", "Again.", "pending", "reopen"},
		{"customer reply leaves waiting_other alone", "alice@customer.example", "to_deploy", "News?", "to_deploy", ""},
		{"customer #close", "alice@customer.example", "standby", "#close\nThanks", "archived", "status"},
		{"agent #status by any spelling", "bob@example.com", "pending", "#status Waiting on customer\nYour turn.", "waiting_on_customer", "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := apply(onDesk(p, tc.status), tc.from, tc.text)
			if c.Ticket.Status != tc.want || c.Ticket.StatusClass != p.TicketModel().Class(tc.want) {
				t.Fatalf("status = %s (%s), want %s", c.Ticket.Status, c.Ticket.StatusClass, tc.want)
			}
			if (tc.event == "") != (len(c.Events) == 0) || (tc.event != "" && c.Events[0].Kind != tc.event) {
				t.Fatalf("events = %+v, want %q", c.Events, tc.event)
			}
		})
	}
	ac := AutoClose(*onDesk(p, "done"), p, now)
	if ac.Ticket.Status != "archived" || ac.Ticket.StatusClass != ticket.ClassClosed {
		t.Fatalf("auto-close = %s", ac.Ticket.Status)
	}
}

func TestRemovedStatusStillFollowsItsClass(t *testing.T) {
	p := deskPolicy(t)
	tk := onDesk(p, "done")
	tk.Status = "solved_elsewhere" // a status a reload removed; its class was stored with it
	m := msg("alice@customer.example", func(m *mail.Message) { m.Text = "Back again." })
	c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p), m, p, nil, Facts{}, time.Now())
	if c.Ticket.Status != "pending" || c.Events[0].Kind != "reopen" {
		t.Fatalf("status %s events %+v", c.Ticket.Status, c.Events)
	}
}

func TestSensitiveMarksAttachments(t *testing.T) {
	p := policy()
	withFile := func(text string) func(*mail.Message) {
		return func(m *mail.Message) {
			m.Text = text
			m.Attachments = []mail.Attachment{{Filename: "passport.pdf", Size: 3}}
		}
	}
	m := msg("alice@customer.example", withFile("#sensitive\nMy passport."))
	c := Apply(Decide(m, Facts{EnvelopeFrom: "a"}, p), m, p, nil, Facts{}, time.Now())
	if !c.Ticket.Sensitive || !c.Message.Attachments[0].Sensitive || c.Message.Text != "My passport." {
		t.Fatalf("customer #sensitive on a new ticket: %+v %+v", c.Ticket, c.Message)
	}
	m = msg("alice@customer.example", withFile("A photo."))
	c = Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, p), m, p, nil, Facts{}, time.Now())
	if c.Ticket.Sensitive || c.Message.Attachments[0].Sensitive {
		t.Fatal("not sensitive until marked")
	}
	tk := existing()
	tk.Sensitive = true
	m = msg("bob@example.com", withFile("The fix."))
	c = Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p), m, p, nil, Facts{}, time.Now())
	if !c.Message.Attachments[0].Sensitive {
		t.Fatal("every attachment after the mark is sensitive, agents' too")
	}
}

func TestMentionsAndCustomerFollows(t *testing.T) {
	p := policy()
	p.AgentMention = func(local, _ string) string { return local + "@example.com" }
	now := time.Now()
	t.Run("agent mentions an agent in a note", func(t *testing.T) {
		m := msg("bob@example.com", func(m *mail.Message) { m.Text = "#note\n@carol can you look? cc @alice@customer.example" })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, p), m, p, nil, Facts{}, now)
		if !c.Ticket.IsFollower("carol@example.com") || c.Ticket.FollowersAddedBy["carol@example.com"] != ticket.FollowerAddedByAgent {
			t.Fatalf("followers %v", c.Ticket.Followers)
		}
		if got := kinds(c.Mails); got != "update:carol@example.com" {
			t.Fatalf("mails = %s (the note reaches the mentioned agent only)", got)
		}
		if c.Mails[0].Template != "follow" {
			t.Fatal("a mentioned agent is told why")
		}
	})
	facts := Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing(), SenderOrg: "acme",
		People: map[string]Person{"lee@acme.example": {Organization: "acme", Active: true}, "old@acme.example": {Organization: "acme"}}}
	t.Run("customer mentions a colleague and a stranger", func(t *testing.T) {
		m := msg("alice@customer.example", func(m *mail.Message) {
			m.Text = "@lee@acme.example and @old@acme.example and @mallory@evil.example please see"
		})
		c := Apply(Decide(m, facts, p), m, p, nil, facts, now)
		if !c.Ticket.IsFollower("lee@acme.example") || c.Ticket.IsFollower("old@acme.example") || c.Ticket.IsFollower("mallory@evil.example") {
			t.Fatalf("followers = %v", c.Ticket.Followers)
		}
		if len(c.NotAdded) != 2 || !strings.Contains(kinds(c.Mails), "error_reply:alice@customer.example") {
			t.Fatalf("not added %v mails %s", c.NotAdded, kinds(c.Mails))
		}
	})
	t.Run("customer follow and unfollow within the organization", func(t *testing.T) {
		tk := existing()
		tk.AddFollowerBy("lee@acme.example", ticket.FollowerAddedByCustomer)
		f := facts
		f.Tagged = tk
		m := msg("alice@customer.example", func(m *mail.Message) {
			m.Text = "#unfollow lee@acme.example\n#unfollow alice@customer.example\n#follow bob@example.com\nThanks"
		})
		c := Apply(Decide(m, f, p), m, p, nil, f, now)
		if c.Ticket.IsFollower("lee@acme.example") || !c.Ticket.IsFollower("alice@customer.example") || c.Ticket.IsFollower("bob@example.com") {
			t.Fatalf("followers = %v", c.Ticket.Followers)
		}
		if c.Message.Text != "Thanks" || len(c.NotAdded) != 2 {
			t.Fatalf("text %q not added %v", c.Message.Text, c.NotAdded)
		}
	})
	t.Run("reply_policy organization: same domain is a colleague", func(t *testing.T) {
		pp := p
		pp.OrgReplies = true
		m := msg("alice@customer.example", func(m *mail.Message) { m.Text = "#follow kim@customer.example\n@jo see this" })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, pp), m, pp, nil, Facts{}, now)
		if !c.Ticket.IsFollower("kim@customer.example") || !c.Ticket.IsFollower("jo@customer.example") {
			t.Fatalf("followers = %v", c.Ticket.Followers)
		}
	})
}

func TestFollowerAddedByAgentMayAdd(t *testing.T) {
	p := policy()
	tk := existing()
	tk.AddFollowerBy("vendor@parts.example", ticket.FollowerAddedByAgent)
	m := msg("vendor@parts.example", func(m *mail.Message) { m.Text = "#close\nPart shipped." })
	f := Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}
	a := Decide(m, f, p)
	if a.Kind != Append || a.Role != ticket.RoleFollower {
		t.Fatalf("action = %+v", a)
	}
	c := Apply(a, m, p, []string{"team@example.com"}, f, time.Now())
	if c.Message.Role != ticket.RoleFollower || c.Ticket.Status != tk.Status || !strings.Contains(c.Message.Text, "#close") {
		t.Fatalf("a follower gives no commands: %+v", c)
	}
	if got := kinds(c.Mails); got != "update:alice@customer.example update:team@example.com" {
		t.Fatalf("mails = %s", got)
	}
	// A stranger using the tag still opens a new ticket.
	if a := Decide(msg("mallory@evil.example"), f, p); a.Kind != Create || a.Outcome != OutcomeRerouted {
		t.Fatalf("stranger: %+v", a)
	}
}

func TestAgentTagOfNoTicket(t *testing.T) {
	m := msg("bob@example.com", func(m *mail.Message) { m.Subject = "Re: [#TID99999] Printer" })
	a := Decide(m, Facts{EnvelopeFrom: "a", TagID: 99999}, policy())
	if a.Kind != Bounce || a.Reason != ReasonUnknownTicket || a.RelatedTo != 99999 {
		t.Fatalf("action = %+v", a)
	}
	m.Auto = true
	if a := Decide(m, Facts{EnvelopeFrom: "a", TagID: 99999}, policy()); a.Kind == Bounce {
		t.Fatal("no error reply to automatic mail")
	}
}

func TestNewTicketWithMentionAndSensitive(t *testing.T) {
	p := policy()
	m := msg("alice@customer.example", func(m *mail.Message) { m.Text = "#sensitive\n#follow lee@customer.example\nSee @kim too." })
	f := Facts{EnvelopeFrom: "a", SenderOrg: "acme", People: map[string]Person{
		"lee@customer.example": {Organization: "acme", Active: true}, "kim@customer.example": {Organization: "acme", Active: true}}}
	c := Apply(Decide(m, f, p), m, p, []string{"team@example.com"}, f, time.Now())
	if !c.Ticket.Sensitive || !c.Ticket.MayAddAsFollower("lee@customer.example") || !c.Ticket.IsFollower("kim@customer.example") || c.Message.Text != "See @kim too." {
		t.Fatalf("ticket %+v text %q", c.Ticket, c.Message.Text)
	}
	if got := kinds(c.Mails); got != "ack:alice@customer.example notice:team@example.com update:lee@customer.example update:kim@customer.example" {
		t.Fatalf("mails = %s", got)
	}
}
