package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

// Every row of the inbound rules' table, over real SMTP against the real daemon and a real Redis.

func TestRule1NotASupportAddress(t *testing.T) {
	e := startEnv(t, nil)
	r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"someone@elsewhere.example"}, msg("a@customer.example", "someone@elsewhere.example", "hi", "relay me"))
	if r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Fatalf("reply = %s, want 550 5.1.1 at RCPT", r)
	}
	if len(e.tickets()) != 0 {
		t.Fatal("nothing may be stored")
	}
	// An alias is accepted.
	if r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"helpdesk@example.com"}, msg("a@customer.example", "helpdesk@example.com", "hi", "x")); r.Code != 250 {
		t.Fatalf("alias: %s", r)
	}
	if ts := e.tickets(); len(ts) != 1 || ts[0].Queue != "support@example.com" {
		t.Fatalf("alias ticket = %+v", ts)
	}
}

func TestRule2TooBig(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.SMTP.MaxMessageBytes = 4096 })
	r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"},
		msg("a@customer.example", "support@example.com", "big", strings.Repeat("x", 8000)))
	if r.Code != 552 || r.Enhanced != "5.3.4" {
		t.Fatalf("reply = %s, want 552 5.3.4", r)
	}
	if len(e.tickets()) != 0 {
		t.Fatal("nothing may be stored")
	}
	if m := e.metric(`mailgate_rejections_total{reason="too_big"}`); !strings.HasSuffix(m, " 1") {
		t.Fatalf("metric: %q", m)
	}
}

func TestRule3StoreDown(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Redis.URL = redistest.ClosedURL(t) })
	r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, msg("a@customer.example", "support@example.com", "hi", "x"))
	if r.Code != 451 || r.Enhanced != "4.3.0" {
		t.Fatalf("reply = %s, want 451 4.3.0", r)
	}
	if strings.Contains(r.Text, "refused") || strings.Contains(r.Text, "127.0.0.1") {
		t.Fatalf("the reply leaks internals: %s", r)
	}
	// Rule 3 comes before rules 4 and 5: with the store down, even mail they would refuse is
	// deferred, not bounced.
	for name, raw := range map[string]string{
		"no From (rule 4)":    "To: support@example.com\r\nSubject: x\r\n\r\nbody\r\n",
		"only in Cc (rule 5)": "From: a@customer.example\r\nTo: x@customer.example\r\nCc: support@example.com\r\nSubject: x\r\n\r\nbody\r\n",
	} {
		if r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, raw); r.Code != 451 {
			t.Fatalf("%s with the store down: %s, want 451", name, r)
		}
	}
	resp, err := http.Get("http://" + e.d.MetricsAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d with Redis down", resp.StatusCode)
	}
	if m := e.metric("mailgate_store_errors_total"); m == "" || strings.HasSuffix(m, " 0") {
		t.Fatalf("store_errors_total: %q", m)
	}
}

func TestReadyAndHealthy(t *testing.T) {
	e := startEnv(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + e.d.MetricsAddr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s = %d", p, resp.StatusCode)
		}
	}
}

func TestRule4NoFrom(t *testing.T) {
	e := startEnv(t, nil)
	cases := map[string]string{
		"no From header": "To: support@example.com\r\nSubject: x\r\n\r\nbody\r\n",
		"unparseable":    "From: not an address at all\r\nTo: support@example.com\r\nSubject: x\r\n\r\nbody\r\n",
		"encoded word":   "From: =?utf-8?q?alice=40customer.example?=@evil.example\r\nTo: support@example.com\r\nSubject: x\r\n\r\nbody\r\n",
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			r := send(t, e.d.SMTPAddr, "x@evil.example", []string{"support@example.com"}, raw)
			if r.Code != 550 || r.Enhanced != "5.6.0" || !strings.Contains(r.Text, "From") {
				t.Fatalf("reply = %s, want 550 5.6.0 naming From", r)
			}
		})
	}
	if len(e.tickets()) != 0 {
		t.Fatal("nothing may be stored")
	}
}

func TestRule5NotInTo(t *testing.T) {
	raw := "From: a@customer.example\r\nTo: friend@customer.example\r\nCc: support@example.com\r\nSubject: fyi\r\nMessage-ID: <cc1@c>\r\n\r\nbody\r\n"
	t.Run("reject", func(t *testing.T) {
		e := startEnv(t, nil)
		r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, raw)
		if r.Code != 550 || r.Enhanced != "5.7.1" || !strings.HasPrefix(r.Text, "support address must be in To: (session ") {
			t.Fatalf("reply = %s", r)
		}
		if len(e.tickets()) != 0 {
			t.Fatal("nothing may be created")
		}
		if m := e.metric(`mailgate_rejections_total{reason="not_in_to"}`); !strings.HasSuffix(m, " 1") {
			t.Fatalf("not counted: %q", m)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		e := startEnv(t, func(c *config.Config) { c.Tickets.NotInTo = "ignore" })
		if r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, raw); r.Code != 250 {
			t.Fatalf("reply = %s", r)
		}
		if len(e.tickets()) != 0 {
			t.Fatal("nothing may be created")
		}
		if m := e.metric(`mailgate_messages_total{outcome="ignored"}`); !strings.HasSuffix(m, " 1") {
			t.Fatalf("not counted: %q", m)
		}
	})
}

func TestRule6Duplicate(t *testing.T) {
	e := startEnv(t, nil)
	raw := msg("alice@customer.example", "support@example.com", "Printer on fire", "It is on fire.", "Message-ID: <dup-1@customer.example>")
	for range 2 {
		if r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, raw); r.Code != 250 {
			t.Fatalf("reply = %s", r)
		}
	}
	// The same Message-ID from another sender, or with another body, is a message of its own.
	forged := msg("mallory@evil.example", "support@example.com", "Printer on fire", "It is on fire.", "Message-ID: <dup-1@customer.example>")
	send(t, e.d.SMTPAddr, "mallory@evil.example", []string{"support@example.com"}, forged)
	other := msg("alice@customer.example", "support@example.com", "Printer on fire", "Another text.", "Message-ID: <dup-1@customer.example>")
	send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, other)
	// Without a Message-ID the raw bytes decide.
	noID := "From: bob@customer.example\r\nTo: support@example.com\r\nSubject: no id\r\n\r\nbody\r\n"
	send(t, e.d.SMTPAddr, "bob@customer.example", []string{"support@example.com"}, noID)
	send(t, e.d.SMTPAddr, "bob@customer.example", []string{"support@example.com"}, noID)

	if n := len(e.tickets()); n != 4 {
		t.Fatalf("%d tickets, want 4 (alice, mallory, alice's other body, bob)", n)
	}
	e.drained()
	if n := len(smtpcapture.To(e.relay.Mails(), "alice@customer.example")); n != 2 {
		t.Fatalf("alice got %d acknowledgements, want 2", n)
	}
	if m := e.metric(`mailgate_messages_total{outcome="duplicate"}`); !strings.HasSuffix(m, " 2") {
		t.Fatalf("duplicates counted: %q", m)
	}
}

func TestRule7RequireActive(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Accounts.RequireActive = true })
	raw := msg("alice@customer.example", "support@example.com", "hi", "x")
	r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, raw)
	if r.Code != 550 || r.Enhanced != "5.7.1" || !strings.HasPrefix(r.Text, "no active support account (session ") {
		t.Fatalf("reply = %s", r)
	}
	if _, errOut, code := cli(t, "account", "add", "alice@customer.example", "--org", "Customer Inc", "--config", e.configFile()); code != 0 {
		t.Fatalf("account add: %d %s", code, errOut)
	}
	if r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatalf("with an account: %s", r)
	}
	if ts := e.tickets(); len(ts) != 1 || ts[0].Organization != "Customer Inc" {
		t.Fatalf("tickets = %+v", ts)
	}
	cli(t, "account", "disable", "alice@customer.example", "--config", e.configFile())
	if r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, msg("alice@customer.example", "support@example.com", "again", "y")); r.Code != 550 {
		t.Fatalf("disabled account: %s", r)
	}
	out, _, _ := cli(t, "account", "list", "--config", e.configFile())
	if !strings.Contains(out, "alice@customer.example") || !strings.Contains(out, "false") {
		t.Fatalf("account list:\n%s", out)
	}
	// Agents need no account.
	if r := send(t, e.d.SMTPAddr, "bob@example.com", []string{"support@example.com"}, msg("bob@example.com", "support@example.com", "internal", "z")); r.Code != 250 {
		t.Fatalf("agent: %s", r)
	}
}

func TestRule8AutoSubmitted(t *testing.T) {
	e := startEnv(t, nil)
	for _, h := range []string{"Auto-Submitted: auto-replied", "Precedence: bulk", "List-Id: <news.customer.example>", "X-Autoreply: yes"} {
		e.deliver("alice@customer.example", "Out of office", "I am away.", h)
	}
	// The null sender (a bounce) never opens a ticket either.
	if r := send(t, e.d.SMTPAddr, "", []string{"support@example.com"}, msg("mailer-daemon@customer.example", "support@example.com", "Undelivered", "bounce")); r.Code != 250 {
		t.Fatalf("bounce: %s", r)
	}
	if n := len(e.tickets()); n != 0 {
		t.Fatalf("%d tickets from automatic mail", n)
	}
	// On an existing ticket, an auto-reply is recorded as auto and triggers nothing.
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.waitMails("alice@customer.example", 1)
	e.waitMails("team@example.com", 1)
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Out of office.", "Auto-Submitted: auto-replied")
	tk := e.ticket(30001)
	if len(tk.Messages) != 2 || !tk.Messages[1].Auto {
		t.Fatalf("messages = %+v", tk.Messages)
	}
	e.drained()
	if n := len(e.relay.Mails()); n != 2 {
		t.Fatalf("%d mails; automatic mail must trigger none", n)
	}
}

func TestRule9CreatorReply(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "#status resolved\nUnplug it.")
	e.waitMails("alice@customer.example", 2)
	e.deliver("Alice@Customer.Example", "RE: [#tid30001] Printer on fire",
		"Still burning.\n\nOn Sun, Nov 22, 2026 at 10:00 AM Example Support <support@example.com> wrote:\n> Unplug it.")
	tk := e.ticket(30001)
	if len(tk.Messages) != 3 || tk.Messages[2].Role != "customer" || tk.Messages[2].Text != "Still burning." {
		t.Fatalf("messages = %+v", tk.Messages)
	}
	if tk.Status != "open" {
		t.Fatalf("a creator's reply reopens a resolved ticket: status %s", tk.Status)
	}
	// Followers but the author are notified: bob the agent.
	bob := e.waitMails("bob@example.com", 1)
	if !strings.Contains(bob[0].Data, "Still burning.") || !strings.Contains(bob[0].Data, "Status is now: open") {
		t.Fatalf("update to bob:\n%s", bob[0].Data)
	}
	e.drained()
	if n := len(smtpcapture.To(e.relay.Mails(), "alice@customer.example")); n != 2 {
		t.Fatalf("the author gets no copy of her own message: %d mails", n)
	}
}

func TestRule10AgentReply(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("Bob Agent <bob@example.com>", "Re: [#TID30001] Printer on fire", "#priority high\n#type hardware\n\nPlease unplug it.")
	tk := e.ticket(30001)
	if tk.Status != "open" || tk.Priority != "high" || tk.Type != "hardware" || !tk.IsFollower("bob@example.com") {
		t.Fatalf("ticket = %+v", tk)
	}
	if m := tk.Messages[1]; m.Role != "agent" || m.Text != "Please unplug it." {
		t.Fatalf("agent message = %+v", m)
	}
	e.waitMails("alice@customer.example", 2)
	upd := e.waitMailWith("alice@customer.example", "via Example Support").Data
	for _, want := range []string{`From: "Bob Agent via Example Support" <support@example.com>`, "Please unplug it.", "Subject: [#TID30001] Printer on fire", "Auto-Submitted: auto-generated"} {
		if !strings.Contains(upd, want) {
			t.Errorf("update lacks %q:\n%s", want, upd)
		}
	}
	if strings.Contains(upd, "#priority") {
		t.Error("commands must not reach the customer")
	}
}

func TestRule11StrangerWithTag(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "Secret details of alice.")
	e.deliver("mallory@evil.example", "Re: [#TID30001] Printer on fire", "Let me in.")
	e.deliver("mallory@evil.example", "Re: [#TID77777] Printer on fire", "Let me in too.")
	if tk := e.ticket(30001); len(tk.Messages) != 1 {
		t.Fatalf("the stranger got into ticket 30001: %+v", tk.Messages)
	}
	t2, t3 := e.ticket(30002), e.ticket(30003)
	if t2.Creator != "mallory@evil.example" || t2.Subject != "Printer on fire" || t2.RelatedTo != 30001 || t3.RelatedTo != 77777 {
		t.Fatalf("new tickets = %+v / %+v", t2, t3)
	}
	acks := e.waitMails("mallory@evil.example", 2)
	bodies := []string{decodeMail(t, acks[0].Data), decodeMail(t, acks[1].Data)}
	for i, b := range bodies {
		if strings.Contains(b, "30001") || strings.Contains(b, "77777") || strings.Contains(b, "alice") {
			t.Fatalf("ack %d reveals the other ticket:\n%s", i, b)
		}
		if !strings.Contains(b, "could not be used") {
			t.Fatalf("ack %d does not say the tag could not be used:\n%s", i, b)
		}
	}
	// The same words whether or not the ticket exists (no probing): only the tag differs.
	norm := func(s string) string {
		return strings.NewReplacer("#TID30002", "#TIDn", "#TID30003", "#TIDn").Replace(s)
	}
	if norm(bodies[0]) != norm(bodies[1]) {
		t.Fatalf("acks differ:\n%s\n---\n%s", bodies[0], bodies[1])
	}
	notices := e.waitMails("team@example.com", 3)
	if !strings.Contains(notices[0].Data+notices[1].Data+notices[2].Data, "Related to #TID30001") {
		t.Fatal("agents must see the related ticket")
	}
	if m := e.metric(`mailgate_messages_total{outcome="rerouted"}`); !strings.HasSuffix(m, " 2") {
		t.Fatalf("rerouted: %q", m)
	}
}

// bodyOf returns the mail's body without headers (they carry random Message-IDs).
func bodyOf(data string) string {
	if i := strings.Index(data, "\r\n\r\n"); i >= 0 {
		return data[i+4:]
	}
	return data
}

func TestThreadingByReferences(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	ack := e.waitMails("alice@customer.example", 1)[0].Data
	id := headerOf(ack, "Message-Id")
	if id == "" {
		t.Fatalf("ack has no Message-Id:\n%s", ack)
	}
	// A reply that lost the tag still threads through In-Reply-To.
	e.deliver("alice@customer.example", "Re: Printer on fire", "Tag lost but threaded.", "In-Reply-To: "+id, "References: "+id)
	if tk := e.ticket(30001); len(tk.Messages) != 2 {
		t.Fatalf("not threaded: %d messages", len(tk.Messages))
	}
	// A stranger quoting the same Message-ID gets a new ticket.
	e.deliver("mallory@evil.example", "Re: Printer on fire", "Me too.", "In-Reply-To: "+id)
	if tk := e.ticket(30002); tk.Creator != "mallory@evil.example" {
		t.Fatalf("stranger threaded by References: %+v", tk)
	}
}

func headerOf(data, name string) string {
	for _, l := range strings.Split(data, "\r\n") {
		if l == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestLoops(t *testing.T) {
	e := startEnv(t, nil)
	var hops strings.Builder
	for i := 0; i < 51; i++ {
		hops.WriteString("Received: from hop by hop; Sun, 22 Nov 2026 10:00:00 +0000\r\n")
	}
	r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, hops.String()+msg("a@customer.example", "support@example.com", "loop", "x"))
	if r.Code != 554 || r.Enhanced != "5.4.6" {
		t.Fatalf("reply = %s, want 554 5.4.6", r)
	}
	// Our own mail coming back is accepted and dropped.
	own := msg("a@customer.example", "support@example.com", "[#TID1] x", "x", "X-Mailgate-Loop: mx.support.example")
	if r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, own); r.Code != 250 {
		t.Fatalf("own marker: %s", r)
	}
	if n := len(e.tickets()); n != 0 {
		t.Fatalf("%d tickets", n)
	}
}

func TestQuarantine(t *testing.T) {
	e := startEnv(t, nil)
	var b strings.Builder
	b.WriteString("From: a@customer.example\r\nTo: support@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	if r := send(t, e.d.SMTPAddr, "a@customer.example", []string{"support@example.com"}, b.String()); r.Code != 250 {
		t.Fatalf("a poison message is accepted (never 4xx): %s", r)
	}
	out, _, code := cli(t, "quarantine", "list", "--json", "--config", e.configFile())
	qs := decodeJSON[[]map[string]any](t, out)
	if code != 0 || len(qs) != 1 || qs[0]["envelope_from"] != "a@customer.example" {
		t.Fatalf("quarantine list (%d): %s", code, out)
	}
	n := e.waitMails("team@example.com", 1)
	if !strings.Contains(n[0].Data, "quarantined") {
		t.Fatalf("agents not told:\n%s", n[0].Data)
	}
	_ = context.Background()
}
