package threading

import (
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

func policy() Policy {
	return Policy{
		IsSupport: func(a string) bool {
			return a == "support@example.com" || a == "billing@example.com" || a == "helpdesk@example.com"
		},
		IsAgent:       func(a string) bool { return strings.HasSuffix(a, "@example.com") },
		Queues:        []string{"support@example.com", "billing@example.com"},
		MaxReceived:   50,
		UseReferences: true,
	}
}

func msg(from string, mods ...func(*mail.Message)) *mail.Message {
	m := &mail.Message{From: from, To: []string{"support@example.com"}, Subject: "Printer on fire",
		MessageID: "<m1@x>", Text: "It is on fire."}
	for _, f := range mods {
		f(m)
	}
	return m
}

func existing() *ticket.Ticket {
	return &ticket.Ticket{ID: 30001, Queue: "support@example.com", Subject: "Printer on fire", Status: ticket.StatusNew,
		Priority: "normal", Creator: "alice@customer.example", Organization: "customer.example",
		Followers: []string{"alice@customer.example"}, Version: 1}
}

func TestPrecheck(t *testing.T) {
	p := policy()
	tests := []struct {
		name   string
		m      *mail.Message
		ignore bool
		want   *Action
	}{
		{"support address in To goes on", msg("a@c.example"), false, nil},
		{"alias in To goes on", msg("a@c.example", func(m *mail.Message) { m.To = []string{"helpdesk@example.com"} }), false, nil},
		{"rule 5: only in Cc is rejected", msg("a@c.example", func(m *mail.Message) { m.To = []string{"x@c.example"}; m.Cc = []string{"support@example.com"} }),
			false, &Action{Kind: Reject, Reason: ReasonNotInTo, Outcome: OutcomeRejected}},
		{"rule 5 with not_in_to ignore", msg("a@c.example", func(m *mail.Message) { m.To = nil }),
			true, &Action{Kind: Ignore, Reason: ReasonNotInTo, Outcome: OutcomeIgnored}},
		{"too many Received headers", msg("a@c.example", func(m *mail.Message) { m.ReceivedCount = 51 }),
			false, &Action{Kind: Reject, Reason: ReasonLoop, Outcome: OutcomeRejected}},
		{"our own loop marker is dropped", msg("a@c.example", func(m *mail.Message) { m.Looped = true }),
			false, &Action{Kind: Ignore, Reason: ReasonOwnMarker, Outcome: OutcomeIgnored}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pp := p
			pp.NotInToIgnore = tc.ignore
			got := Precheck(tc.m, pp)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("Precheck = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestQueue(t *testing.T) {
	p := policy()
	if q := Queue([]string{"x@y", "billing@example.com"}, p); q != "billing@example.com" {
		t.Errorf("queue = %q", q)
	}
	if q := Queue([]string{"helpdesk@example.com"}, p); q != "support@example.com" {
		t.Errorf("an alias files into the first queue, got %q", q)
	}
}

func TestDecide(t *testing.T) {
	p := policy()
	tests := []struct {
		name    string
		m       *mail.Message
		f       Facts
		p       func(*Policy)
		kind    Kind
		outcome string
		role    string
		related int64
	}{
		{"new ticket", msg("alice@customer.example"), Facts{EnvelopeFrom: "alice@customer.example"}, nil, Create, OutcomeCreated, "", 0},
		{"rule 6: duplicate", msg("alice@customer.example"), Facts{Duplicate: true}, nil, Duplicate, OutcomeDuplicate, "", 0},
		{"rule 7: no active account", msg("alice@customer.example"), Facts{EnvelopeFrom: "a"}, func(p *Policy) { p.RequireActive = true }, Reject, OutcomeRejected, "", 0},
		{"rule 7: agents need no account", msg("bob@example.com"), Facts{EnvelopeFrom: "a"}, func(p *Policy) { p.RequireActive = true }, Create, OutcomeCreated, "", 0},
		{"rule 7: active account passes", msg("alice@customer.example"), Facts{EnvelopeFrom: "a", SenderActive: true}, func(p *Policy) { p.RequireActive = true }, Create, OutcomeCreated, "", 0},
		{"rule 8: auto-submitted never opens a ticket", msg("alice@customer.example", func(m *mail.Message) { m.Auto = true }), Facts{EnvelopeFrom: "a"}, nil, Ignore, OutcomeAuto, "", 0},
		{"rule 8: null sender never opens a ticket", msg("mailer-daemon@x.example"), Facts{EnvelopeFrom: ""}, nil, Ignore, OutcomeAuto, "", 0},
		{"rule 8: auto reply threads as auto", msg("alice@customer.example", func(m *mail.Message) { m.Auto = true }),
			Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, nil, Append, OutcomeAuto, ticket.RoleCustomer, 0},
		{"rule 9: creator reply", msg("alice@customer.example"), Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, nil, Append, OutcomeThreaded, ticket.RoleCustomer, 0},
		{"rule 9: colleague with organization policy", msg("carol@customer.example"), Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing(), SenderOrg: "customer.example"},
			func(p *Policy) { p.OrgReplies = true }, Append, OutcomeThreaded, ticket.RoleCustomer, 0},
		{"rule 9: colleague with creator policy is rerouted", msg("carol@customer.example"), Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing(), SenderOrg: "customer.example"},
			nil, Create, OutcomeRerouted, "", 30001},
		{"rule 9: failed auth goes to a new ticket", msg("alice@customer.example"), Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing(), Verdict: VerdictFail},
			func(p *Policy) { p.RequireAuth = true }, Create, OutcomeRerouted, "", 30001},
		{"rule 10: agent reply", msg("bob@example.com"), Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, nil, Append, OutcomeThreaded, ticket.RoleAgent, 0},
		{"rule 11: stranger with a tag", msg("mallory@evil.example"), Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, nil, Create, OutcomeRerouted, "", 30001},
		{"rule 11: unknown ticket", msg("mallory@evil.example"), Facts{EnvelopeFrom: "a", TagID: 99999}, nil, Create, OutcomeRerouted, "", 99999},
		{"rule 11: stranger auto-reply with a tag is ignored", msg("mallory@evil.example", func(m *mail.Message) { m.Auto = true }),
			Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, nil, Ignore, OutcomeAuto, "", 0},
		{"references thread the creator's reply", msg("alice@customer.example"), Facts{EnvelopeFrom: "a", Referenced: existing()}, nil, Append, OutcomeThreaded, ticket.RoleCustomer, 0},
		{"references do not let a stranger in", msg("mallory@evil.example"), Facts{EnvelopeFrom: "a", Referenced: existing()}, nil, Create, OutcomeRerouted, "", 30001},
		{"references off", msg("alice@customer.example"), Facts{EnvelopeFrom: "a", Referenced: existing()}, func(p *Policy) { p.UseReferences = false }, Create, OutcomeCreated, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pp := p
			if tc.p != nil {
				tc.p(&pp)
			}
			a := Decide(tc.m, tc.f, pp)
			if a.Kind != tc.kind || a.Outcome != tc.outcome || a.Role != tc.role || a.RelatedTo != tc.related {
				t.Fatalf("Decide = kind %d outcome %s role %q related %d; want %d %s %q %d", a.Kind, a.Outcome, a.Role, a.RelatedTo, tc.kind, tc.outcome, tc.role, tc.related)
			}
			if a.Kind == Create && (a.Subject == "" || strings.Contains(a.Subject, "#TID")) {
				t.Fatalf("new ticket subject %q keeps a tag", a.Subject)
			}
		})
	}
}

func TestDecideForgedVerdict(t *testing.T) {
	a := Decide(msg("alice@customer.example"), Facts{EnvelopeFrom: "a", Verdict: VerdictFail}, policy())
	if a.Kind != Create || !a.Forged {
		t.Fatalf("action = %+v", a)
	}
	c := Apply(a, msg("alice@customer.example"), policy(), []string{"team@example.com"}, Facts{SenderOrg: "customer.example"}, time.Now())
	for _, m := range c.Mails {
		if m.Kind == MailAck {
			t.Fatal("no acknowledgement goes to a forged From")
		}
	}
}

func kinds(ms []Mail) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Kind+":"+m.To)
	}
	return strings.Join(s, " ")
}

func TestApply(t *testing.T) {
	p := policy()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	notify := []string{"team@example.com"}
	t.Run("create sends ack and notice", func(t *testing.T) {
		m := msg("alice@customer.example", func(m *mail.Message) { m.Cc = []string{"boss@customer.example"} })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a"}, p), m, p, notify, Facts{SenderOrg: "customer.example"}, now)
		if !c.New || c.Ticket.Status != ticket.StatusNew || c.Ticket.Creator != "alice@customer.example" || c.Ticket.Queue != "support@example.com" {
			t.Fatalf("ticket = %+v", c.Ticket)
		}
		if got := kinds(c.Mails); got != "ack:alice@customer.example notice:team@example.com" {
			t.Fatalf("mails = %s", got)
		}
		if len(c.Ticket.Followers) != 1 {
			t.Fatalf("cc_policy ignore: Cc is not a follower: %v", c.Ticket.Followers)
		}
	})
	t.Run("cc_policy follow", func(t *testing.T) {
		pp := p
		pp.CcFollow = true
		m := msg("alice@customer.example", func(m *mail.Message) { m.Cc = []string{"boss@customer.example", "billing@example.com"} })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a"}, pp), m, pp, notify, Facts{}, now)
		if strings.Join(c.Ticket.Followers, ",") != "alice@customer.example,boss@customer.example" {
			t.Fatalf("followers = %v", c.Ticket.Followers)
		}
	})
	t.Run("agent reply opens, follows and mails the creator", func(t *testing.T) {
		m := msg("bob@example.com", func(m *mail.Message) { m.Text = "Unplug it.\n\nOn Sun, Nov 22, 2026 Alice <a@b> wrote:\n> fire" })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, p), m, p, notify, Facts{}, now)
		if c.Ticket.Status != ticket.StatusOpen || !c.Ticket.IsFollower("bob@example.com") || c.Message.Text != "Unplug it." {
			t.Fatalf("ticket %+v text %q", c.Ticket, c.Message.Text)
		}
		if got := kinds(c.Mails); got != "update:alice@customer.example" {
			t.Fatalf("mails = %s", got)
		}
	})
	t.Run("internal note never reaches the customer", func(t *testing.T) {
		tk := existing()
		tk.Followers = append(tk.Followers, "carol@example.com")
		m := msg("bob@example.com", func(m *mail.Message) { m.Text = "#note\nCustomer is difficult." })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p), m, p, notify, Facts{}, now)
		if !c.Message.Internal || c.Message.Text != "Customer is difficult." {
			t.Fatalf("message = %+v", c.Message)
		}
		if got := kinds(c.Mails); got != "update:carol@example.com" {
			t.Fatalf("mails = %s", got)
		}
	})
	t.Run("bad command: stored internal, error reply only", func(t *testing.T) {
		m := msg("bob@example.com", func(m *mail.Message) { m.Text = "#status done\nHello customer" })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, p), m, p, notify, Facts{}, now)
		if !c.Message.Internal || len(c.CommandErrors) != 1 || c.Ticket.Status != ticket.StatusNew {
			t.Fatalf("change = %+v", c)
		}
		if got := kinds(c.Mails); got != "error_reply:bob@example.com" {
			t.Fatalf("mails = %s", got)
		}
	})
	t.Run("creator reply reopens a resolved ticket and tells the queue", func(t *testing.T) {
		tk := existing()
		tk.Status = ticket.StatusResolved
		m := msg("alice@customer.example", func(m *mail.Message) { m.Text = "#status closed\nIt burns again." })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p), m, p, notify, Facts{}, now)
		if c.Ticket.Status != ticket.StatusOpen || !c.StatusChanged || len(c.Events) != 1 || c.Events[0].Kind != "reopen" {
			t.Fatalf("change = %+v", c)
		}
		if !strings.Contains(c.Message.Text, "#status closed") {
			t.Fatal("a customer's # line other than #close is plain text")
		}
		if got := kinds(c.Mails); got != "update:team@example.com" {
			t.Fatalf("mails = %s", got)
		}
	})
	t.Run("customer #close", func(t *testing.T) {
		m := msg("alice@customer.example", func(m *mail.Message) { m.Text = "#close\nThanks, all good." })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, p), m, p, notify, Facts{}, now)
		if c.Ticket.Status != ticket.StatusClosed || c.Message.Text != "Thanks, all good." {
			t.Fatalf("change = %+v", c)
		}
	})
	t.Run("auto reply is recorded without mail", func(t *testing.T) {
		m := msg("alice@customer.example", func(m *mail.Message) { m.Auto = true })
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: existing()}, p), m, p, notify, Facts{}, now)
		if !c.Message.Auto || len(c.Mails) != 0 {
			t.Fatalf("change = %+v", c)
		}
	})
	t.Run("no mail to our own addresses", func(t *testing.T) {
		tk := existing()
		tk.Followers = append(tk.Followers, "billing@example.com")
		m := msg("bob@example.com")
		c := Apply(Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p), m, p, notify, Facts{}, now)
		if strings.Contains(kinds(c.Mails), "billing@") {
			t.Fatalf("mails = %s", kinds(c.Mails))
		}
	})
}
