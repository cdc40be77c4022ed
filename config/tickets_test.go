package config

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/ticket"
)

const modelYAML = `
redis: {url: redis://127.0.0.1:6379/0}
support: {addresses: [support@example.com]}
tickets:
  first_id: 30001
  statuses:
    new: new
    pending: open
    waiting_on_customer: {class: waiting_customer, label: {en: Waiting for you, fr: "En attente de vous"}}
    waiting_on_third_party: waiting_other
    to_deploy: waiting_other
    under_observation: waiting_other
    standby: waiting_other
    resolved: resolved
    closed: closed
  first_agent_reply_status: pending
  reopen_status: pending
  priorities: [low, medium, high, urgent]
  default_priority: medium
  types: [incident, error, configuration, problem, question, change_request, technical_assistance]
  fields: [ref_client, platform, product]
  url: "https://support.example.com/tickets/{id}"
`

func TestTicketModelSection(t *testing.T) {
	c, err := Parse(strings.NewReader(modelYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := c.TicketModel()
	if got := strings.Join(m.Statuses(), " "); got != "new pending waiting_on_customer waiting_on_third_party to_deploy under_observation standby resolved closed" {
		t.Fatalf("statuses keep their order: %s", got)
	}
	if m.Class("to deploy") != ticket.ClassWaitingOther || m.FirstAgentReply() != "pending" || m.DefaultPriority() != "medium" {
		t.Fatal("model not applied")
	}
	if m.Label("waiting_on_customer", "fr") != "En attente de vous" || m.URL(7) != "https://support.example.com/tickets/7" {
		t.Fatal("labels and url")
	}
	// config check prints the section back, and it reads again the same.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(strings.NewReader(string(out)), nil)
	if err != nil {
		t.Fatalf("round trip: %v\n%s", err, out)
	}
	if strings.Join(c2.TicketModel().Statuses(), " ") != strings.Join(m.Statuses(), " ") || c2.TicketModel().Label("waiting_on_customer", "en") != "Waiting for you" {
		t.Fatalf("round trip changed the model:\n%s", out)
	}
}

func TestTicketModelDefaultsAndErrors(t *testing.T) {
	c, err := Parse(strings.NewReader("redis: {url: redis://x:6379}\nsupport: {addresses: [s@example.com]}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.TicketModel().Statuses(), " ") != strings.Join(ticket.Statuses, " ") {
		t.Fatal("no tickets.statuses: the built-in six")
	}
	tests := []struct{ yaml, want string }{
		{"tickets: {statuses: {a: opened, b: closed}}", "tickets.statuses: a: class \"opened\""},
		{"tickets: {default_priority: medium}", "tickets.default_priority"},
		{"tickets: {reopen_status: pending}", "tickets.reopen_status"},
		{"tickets: {statuses: [new, open]}", "tickets.statuses"},
		{"tickets: {colour: red}", "tickets.colour"},
	}
	for _, tc := range tests {
		_, err := Parse(strings.NewReader("redis: {url: redis://x:6379}\nsupport: {addresses: [s@example.com]}\n"+tc.yaml+"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
	c, err = Parse(strings.NewReader("redis: {url: redis://x:6379}\nsupport: {addresses: [s@example.com]}\n"),
		[]string{"MAILGATE_TICKETS_URL=https://desk.example/t/{id}", "MAILGATE_TICKETS_FIELDS=ref,platform"})
	if err != nil || c.TicketModel().URL(1) != "https://desk.example/t/1" || len(c.TicketModel().Fields()) != 2 {
		t.Fatalf("environment overrides reach the model keys: %v", err)
	}
}

func TestAgentMention(t *testing.T) {
	c := Default()
	c.Agents.Addresses = []string{"carol@partner.example"}
	c.Agents.Domains = []string{"example.com", "example.org"}
	for local, want := range map[string]string{"carol": "carol@partner.example", "dave": "dave@example.org", "eve": "eve@example.org"} {
		if got := c.AgentMention(local, "bob@example.org"); got != want {
			t.Errorf("AgentMention(%s) = %s, want %s", local, got, want)
		}
	}
	if got := c.AgentMention("dave", "x@customer.example"); got != "dave@example.com" {
		t.Errorf("from elsewhere: the first agents domain, got %s", got)
	}
}
