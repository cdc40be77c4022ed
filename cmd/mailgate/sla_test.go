package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/loadgen"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

// fastSLA gives normal tickets a first-response target of a few seconds on an always-open
// calendar, so that warnings and breaches happen during the test in real time.
func fastSLA(c *config.Config) {
	c.SLA.Targets = map[string]config.SLATarget{"normal": {FirstResponse: "4s", Resolution: "1h"}}
	c.SLA.WarnBefore = config.Duration(3 * time.Second)
	c.SLA.CheckInterval = config.Duration(50 * time.Millisecond)
}

// slaMails counts the mails to rcpt whose subject starts with prefix.
func slaMails(ms []smtpcapture.Mail, rcpt, prefix string) int {
	n := 0
	for _, m := range smtpcapture.To(ms, rcpt) {
		if strings.Contains(m.Data, "Subject: "+prefix) {
			n++
		}
	}
	return n
}

func TestSLAWarningAndBreachOverSMTP(t *testing.T) {
	e := startEnv(t, fastSLA)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.waitMailWith("team@example.com", "Subject: SLA breach (first response): [#TID30001] Printer on fire")
	e.drained()
	ms := e.relay.Mails()
	if w, b := slaMails(ms, "team@example.com", "SLA warning"), slaMails(ms, "team@example.com", "SLA breach"); w != 1 || b != 1 {
		t.Fatalf("%d warnings and %d breaches to the notify list, want one of each", w, b)
	}
	breach := e.waitMailWith("team@example.com", "Subject: SLA breach")
	body := decodeMail(t, breach.Data)
	for _, want := range []string{"missed its first response target", "Priority: normal", "Queue: support@example.com"} {
		if !strings.Contains(body, want) {
			t.Fatalf("breach mail lacks %q:\n%s", want, body)
		}
	}
	if !strings.Contains(breach.Data, "Auto-Submitted: auto-generated") || !strings.Contains(breach.Data, "X-Mailgate-Ticket: #TID30001") {
		t.Fatalf("breach mail headers:\n%s", breach.Data)
	}
	if m := e.metric(`mailgate_sla_breaches_total{priority="normal",target="first_response"}`); !strings.HasSuffix(m, " 1") {
		t.Fatalf("breaches metric: %q", m)
	}
	if m := e.metric(`mailgate_outbound_sent_total{kind="sla_breach"}`); !strings.HasSuffix(m, " 1") {
		t.Fatalf("sent metric: %q", m)
	}

	out, errOut, code := cli(t, "ticket", "show", "30001", "--json", "--config", e.configFile())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	s, ok := decodeJSON[map[string]any](t, out)["sla"].(map[string]any)
	if !ok {
		t.Fatalf("no sla object:\n%s", out)
	}
	if b, _ := s["breached"].([]any); len(b) != 1 || b[0] != "first_response" || s["paused"] != false {
		t.Fatalf("sla = %v", s)
	}
	for _, k := range []string{"first_response_due", "resolution_due"} {
		if _, err := time.Parse(time.RFC3339, s[k].(string)); err != nil {
			t.Fatalf("%s = %v", k, s[k])
		}
	}

	// The agent's reply is the first response: observed once, and no more first-response due.
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "On my way.")
	if m := e.metric("mailgate_sla_first_response_seconds_count"); !strings.HasSuffix(m, " 1") {
		t.Fatalf("first response histogram: %q", m)
	}
	if tk := e.ticket(30001); tk.SLA.FirstResponseDue != nil || tk.SLA.ResolutionDue == nil {
		t.Fatalf("after the reply: %+v", tk.SLA)
	}
}

func TestSLAMailGoesToTheAssignee(t *testing.T) {
	e := startEnv(t, fastSLA)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	// An internal note assigns without answering the customer: the clock runs on.
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "#assign me\n#note\nLooking.")
	e.waitMailWith("bob@example.com", "Subject: SLA breach")
	e.drained()
	ms := e.relay.Mails()
	if n := slaMails(ms, "team@example.com", "SLA breach"); n != 0 {
		t.Fatalf("the notify list got %d breach mails although the ticket has an assignee", n)
	}
}

func TestDigestOverSMTPOncePerQueue(t *testing.T) {
	// 00:00 UTC on an always-open calendar: the day's digest is due as soon as mailgate starts.
	e := startEnv(t, func(c *config.Config) { fastSLA(c); c.SLA.Digest = "00:00" })
	startDaemonT(t, e.cfg) // a second process on the same Redis
	for _, q := range []string{"support@example.com", "billing@example.com"} {
		m := e.waitMailWith("team@example.com", "open tickets in "+q)
		if !strings.Contains(decodeMail(t, m.Data), "Open tickets in "+q) {
			t.Fatalf("digest of %s:\n%s", q, decodeMail(t, m.Data))
		}
	}
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.waitMailWith("team@example.com", "Subject: SLA breach") // a few check rounds later
	e.drained()
	if n := slaMails(e.relay.Mails(), "team@example.com", "Daily digest"); n != 2 {
		t.Fatalf("%d digests, want one per queue", n)
	}
}

func TestNoticeBurstFloodListsEveryTicketOnce(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		c.Agents.NoticeBurst = "30/3s"
		c.SLA.CheckInterval = config.Duration(50 * time.Millisecond)
	})
	res := loadgen.Run(context.Background(), loadgen.Options{Addr: e.d.SMTPAddr, Sessions: 8, Count: 300, Size: 512,
		To: "support@example.com", Run: "flood", Timeout: 10 * time.Second})
	if len(res.Accepted) != 300 {
		t.Fatalf("accepted %d of 300: %s", len(res.Accepted), res.ErrorSummary())
	}
	tagRE := regexp.MustCompile(`#TID[0-9]+`)
	seen := map[string]int{}
	var notices, summaries int
	eventually(t, "every ticket in a notice or a summary", func() bool {
		clear(seen)
		notices, summaries = 0, 0
		for _, m := range smtpcapture.To(e.relay.Mails(), "team@example.com") {
			switch {
			case strings.Contains(m.Data, "notices gathered"):
				summaries++
				for _, tag := range tagRE.FindAllString(decodeMail(t, m.Data), -1) {
					seen[tag]++
				}
			default:
				notices++
				seen[headerOf(m.Data, "X-Mailgate-Ticket")]++
			}
		}
		return len(seen) >= 300
	})
	e.drained()
	for tag, n := range seen {
		if n != 1 {
			t.Fatalf("%s listed %d times", tag, n)
		}
	}
	// Windows are 3 s long; the load spans at most elapsed/3s + 2 of them.
	windows := int(res.Elapsed/(3*time.Second)) + 2
	if notices > 30*windows {
		t.Fatalf("%d notices over at most %d windows of 30", notices, windows)
	}
	t.Logf("300 new tickets in %v: %d notices, %d summaries, every ticket listed once", res.Elapsed.Round(time.Millisecond), notices, summaries)
}

// ticket list --breached and --due-before read the service-level indexes, with the other
// filters applied to what they find.
func TestTicketListBreachedAndDueBefore(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		fastSLA(c)
		c.SLA.Targets["high"] = config.SLATarget{FirstResponse: "1h", Resolution: "2h"}
	})
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")         // 30001: breaches in 4s
	e.deliver("carol@customer.example", "Scanner jammed", "It is jammed.")           // 30002
	e.deliver("bob@example.com", "Re: [#TID30002] Scanner jammed", "#priority high") // due in 1h
	e.waitMailWith("team@example.com", "Subject: SLA breach (first response): [#TID30001]")

	tags := func(args ...string) []string {
		t.Helper()
		out, errOut, code := cli(t, append(append([]string{"ticket", "list", "--json"}, args...), "--config", e.configFile())...)
		if code != 0 {
			t.Fatalf("ticket list %v: exit %d: %s", args, code, errOut)
		}
		var got []string
		for _, tk := range decodeJSON[[]map[string]any](t, out) {
			got = append(got, tk["tag"].(string))
		}
		return got
	}
	if got := tags("--breached"); len(got) != 1 || got[0] != "#TID30001" {
		t.Fatalf("--breached: %v", got)
	}
	if got := tags("--breached", "--priority", "high"); len(got) != 0 {
		t.Fatalf("--breached --priority high: %v", got)
	}
	// Both tickets' resolution clocks run: within 3h both are due, nearest first.
	if got := tags("--due-before", "3h"); len(got) != 2 || got[0] != "#TID30001" {
		t.Fatalf("--due-before 3h: %v", got)
	}
	if got := tags("--due-before", "3h", "--priority", "high"); len(got) != 1 || got[0] != "#TID30002" {
		t.Fatalf("--due-before 3h --priority high: %v", got)
	}
	if got := tags("--due-before", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
		t.Fatalf("--due-before an hour ago: %v", got)
	}
	if _, _, code := cli(t, "ticket", "list", "--breached", "--cursor", "x", "--config", e.configFile()); code != 2 {
		t.Fatalf("--breached --cursor: exit %d, want 2", code)
	}
	if _, _, code := cli(t, "ticket", "list", "--due-before", "soon", "--config", e.configFile()); code != 2 {
		t.Fatalf("--due-before soon: exit %d, want 2", code)
	}
}
