package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

// Agents work from their mail client: commands, notes, queues, the status life cycle.

func opened(t testing.TB, mod func(*config.Config)) *env {
	e := startEnv(t, mod)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.waitMails("alice@customer.example", 1)
	return e
}

func TestAgentCommands(t *testing.T) {
	e := opened(t, nil)
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire",
		"#status waiting_on_third_party\n#priority urgent\n#type hardware\n#assign carol@example.com\n\nWe asked the vendor.")
	tk := e.ticket(30001)
	if tk.Status != "waiting_on_third_party" || tk.Priority != "urgent" || tk.Type != "hardware" || tk.Assignee != "carol@example.com" {
		t.Fatalf("ticket = %+v", tk)
	}
	if !tk.IsFollower("carol@example.com") || !tk.IsFollower("bob@example.com") {
		t.Fatalf("followers = %v", tk.Followers)
	}
	kinds := map[string]bool{}
	for _, ev := range tk.Events {
		kinds[ev.Kind] = true
	}
	for _, k := range []string{"status", "priority", "type", "assign"} {
		if !kinds[k] {
			t.Errorf("no %s event: %+v", k, tk.Events)
		}
	}
	e.deliver("carol@example.com", "Re: [#TID30001] Printer on fire", "#assign me\nMine now.")
	if tk := e.ticket(30001); tk.Assignee != "carol@example.com" {
		t.Fatalf("#assign me: %q", tk.Assignee)
	}
	// A customer reply leaves waiting_on_third_party alone.
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Any news?")
	if tk := e.ticket(30001); tk.Status != "waiting_on_third_party" {
		t.Fatalf("status = %s", tk.Status)
	}
	// ticket show prints the timeline: events between the messages, in time order.
	out, _, _ := cli(t, "ticket", "show", "30001", "--config", e.configFile())
	iAssign, iMsg := strings.Index(out, "assign by bob@example.com"), strings.Index(out, "We asked the vendor.")
	if iAssign < 0 || iMsg < 0 || strings.Index(out, "It is on fire.") > iAssign {
		t.Fatalf("timeline:\n%s", out)
	}
}

func TestFollowAndUnfollow(t *testing.T) {
	e := opened(t, nil)
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "#follow boss@customer.example\nLooping in your manager.")
	first := decodeMail(t, e.waitMails("boss@customer.example", 1)[0].Data)
	if !strings.Contains(first, "added you as a follower") || !strings.Contains(first, "Looping in your manager.") {
		t.Fatalf("first mail to a new follower:\n%s", first)
	}
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Thanks.")
	e.waitMails("boss@customer.example", 2)
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "#unfollow boss@customer.example\nDone.")
	e.drained()
	if n := len(e.waitMails("boss@customer.example", 2)); n != 2 {
		t.Fatalf("boss got %d mails after #unfollow", n)
	}
	if tk := e.ticket(30001); tk.IsFollower("boss@customer.example") {
		t.Fatal("still a follower")
	}
}

func TestCommandErrorReplies(t *testing.T) {
	tests := []struct {
		name, body, wantLine, wantReason string
	}{
		{"unknown command", "#frobnicate now\nText.", `line 1 "#frobnicate now"`, "valid commands"},
		{"bad status", "#priority high\n#status done\nText.", `line 2 "#status done"`, "waiting_on_customer"},
		{"bad priority", "#priority asap\nText.", `line 1 "#priority asap"`, "low, normal, high, urgent"},
		{"assign to a non-agent", "#assign mallory@evil.example\nText.", `line 1 "#assign mallory@evil.example"`, "agent"},
		{"unfollow the creator", "#unfollow alice@customer.example\nText.", `line 1 "#unfollow alice@customer.example"`, "creator"},
		{"follow without address", "#follow\nText.", `line 1 "#follow"`, "email address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := opened(t, nil)
			e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", tc.body)
			reply := decodeMail(t, e.waitMails("bob@example.com", 1)[0].Data)
			if !strings.Contains(reply, tc.wantLine) || !strings.Contains(reply, tc.wantReason) {
				t.Fatalf("error reply lacks %q / %q:\n%s", tc.wantLine, tc.wantReason, reply)
			}
			tk := e.ticket(30001)
			if tk.Status != "new" || tk.Priority != "normal" || len(tk.Followers) != 1 || !tk.Messages[1].Internal {
				t.Fatalf("a wrong command must change nothing: %+v", tk)
			}
			e.drained()
			if n := len(smtpcapture.To(e.relay.Mails(), "alice@customer.example")); n != 1 {
				t.Fatalf("the customer got %d mails", n)
			}
		})
	}
}

func TestCustomerHashLines(t *testing.T) {
	e := opened(t, nil)
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "#priority urgent\n#status resolved\nPlease hurry.")
	tk := e.ticket(30001)
	if tk.Priority != "normal" || tk.Status != "new" || !strings.Contains(tk.Messages[1].Text, "#priority urgent") {
		t.Fatalf("a customer's # lines are text: %+v", tk)
	}
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "#close\nAll good now.")
	if tk := e.ticket(30001); tk.Status != "closed" || tk.Messages[2].Text != "All good now." {
		t.Fatalf("#close: %+v", tk)
	}
}

func TestInternalNotesStayInternal(t *testing.T) {
	e := opened(t, func(c *config.Config) { c.Support.CommentAddresses = []string{"support-comment@example.com"} })
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "#follow boss@customer.example\nManager added.")
	e.waitMails("boss@customer.example", 1)
	e.deliver("carol@example.com", "Re: [#TID30001] Printer on fire", "Visible answer.")
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "#note\nSECRET-ONE: this customer is difficult.")
	note2 := msg("bob@example.com", "support-comment@example.com", "Re: [#TID30001] Printer on fire", "SECRET-TWO: refund approved internally.")
	if r := send(t, e.d.SMTPAddr, "bob@example.com", []string{"support-comment@example.com"}, note2); r.Code != 250 {
		t.Fatalf("comment address: %s", r)
	}
	e.deliver("carol@example.com", "Re: [#TID30001] Printer on fire", "Second visible answer.")
	e.waitMails("alice@customer.example", 4) // ack, follow-up by bob, two visible answers
	carol := e.waitMails("carol@example.com", 2)
	if !strings.Contains(decodeMail(t, carol[0].Data)+decodeMail(t, carol[1].Data), "SECRET-TWO") {
		t.Fatal("agents must receive internal notes")
	}
	e.drained()
	for _, who := range []string{"alice@customer.example", "boss@customer.example"} {
		for _, m := range smtpcapture.To(e.relay.Mails(), who) {
			if body := decodeMail(t, m.Data); strings.Contains(body, "SECRET") || strings.Contains(m.Data, "SECRET") {
				t.Fatalf("a note reached %s:\n%s", who, body)
			}
		}
	}
	tk := e.ticket(30001)
	if !tk.Messages[3].Internal || !tk.Messages[4].Internal || tk.Messages[2].Internal {
		t.Fatalf("internal flags: %+v", tk.Messages)
	}
	// Only agents write to the comment address, and only on an existing ticket.
	r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support-comment@example.com"}, msg("alice@customer.example", "support-comment@example.com", "hello", "x"))
	if r.Code != 550 {
		t.Fatalf("comment address from a customer: %s", r)
	}
}

func TestStatusLifeCycle(t *testing.T) {
	e := opened(t, nil)
	status := func() string { return e.ticket(30001).Status }
	e.deliver("bob@example.com", "Re: [#TID30001] x", "First answer.")
	if s := status(); s != "open" {
		t.Fatalf("first agent reply: %s, want open", s)
	}
	for _, from := range []string{"waiting_on_customer", "resolved", "closed"} {
		e.deliver("bob@example.com", "Re: [#TID30001] x", "#status "+from+"\nOver to you.")
		if s := status(); s != from {
			t.Fatalf("#status %s: %s", from, s)
		}
		e.deliver("alice@customer.example", "Re: [#TID30001] x", "Still broken ("+from+").")
		if s := status(); s != "open" {
			t.Fatalf("customer reply on %s: %s, want open", from, s)
		}
	}
	reopens := 0
	for _, ev := range e.ticket(30001).Events {
		if ev.Kind == "reopen" {
			reopens++
		}
	}
	if reopens != 2 {
		t.Fatalf("%d reopen events, want 2 (resolved and closed)", reopens)
	}
}

func TestAutoCloseWithTwoProcesses(t *testing.T) {
	e := opened(t, func(c *config.Config) { c.Tickets.AutoCloseAfter = config.Duration(300 * time.Millisecond) })
	startDaemonT(t, e.cfg) // a second mailgate on the same Redis and key prefix
	e.deliver("bob@example.com", "Re: [#TID30001] x", "#status resolved\nFixed.")
	eventually(t, "the ticket to be closed", func() bool { return e.ticket(30001).Status == "closed" })
	e.drained()
	closes := 0
	for _, ev := range e.ticket(30001).Events {
		if ev.Kind == "auto_close" {
			closes++
		}
	}
	mails := 0
	for _, m := range smtpcapture.To(e.relay.Mails(), "alice@customer.example") {
		if strings.Contains(decodeMail(t, m.Data), "now closed") {
			mails++
		}
	}
	if closes != 1 || mails != 1 {
		t.Fatalf("%d auto_close events and %d mails, want one of each", closes, mails)
	}
	// A customer reply after resolution takes the ticket out of the auto-close schedule.
	e.deliver("alice@customer.example", "Printer again", "New problem.")
	e.deliver("bob@example.com", "Re: [#TID30002] x", "#status resolved\nFixed.")
	e.deliver("alice@customer.example", "Re: [#TID30002] x", "No it is not.")
	if s := e.ticket(30002).Status; s != "open" {
		t.Fatalf("status = %s", s)
	}
}

func TestQueues(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		c.Agents.NotifyByQueue = map[string][]string{"billing@example.com": {"billing-team@example.com"}}
	})
	raw := msg("alice@customer.example", "billing@example.com", "Invoice wrong", "Please check.")
	if r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"billing@example.com"}, raw); r.Code != 250 {
		t.Fatal(r)
	}
	e.waitMails("billing-team@example.com", 1)
	ack := e.waitMails("alice@customer.example", 1)[0]
	if !strings.Contains(ack.Data, "From: \"Example Support\" <billing@example.com>") {
		t.Fatalf("the ack comes from the ticket's queue:\n%s", ack.Data)
	}
	// A reply sent to the other support address still threads by tag and keeps the queue.
	e.deliver("alice@customer.example", "Re: [#TID30001] Invoice wrong", "More details.")
	tk := e.ticket(30001)
	if tk.Queue != "billing@example.com" || len(tk.Messages) != 2 {
		t.Fatalf("ticket = %+v", tk)
	}
	e.drained()
	if n := len(smtpcapture.To(e.relay.Mails(), "team@example.com")); n != 0 {
		t.Fatalf("the default notify list heard of a billing ticket %d times", n)
	}
	if n := len(smtpcapture.To(e.relay.Mails(), "billing-team@example.com")); n != 2 {
		t.Fatalf("billing team got %d mails, want notice + update", n)
	}
}

func TestTemplateLanguages(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "ack.txt"), []byte("CUSTOM ACK for {{.Tag}}: reply and keep {{.Tag}}.\n"), 0o644)
	e := startEnv(t, func(c *config.Config) { c.Outbound.TemplatesDir = dir })
	e.deliver("anne@client.example", "Facture", "Bonjour, je n'ai pas reçu la facture.", "Content-Language: fr-FR")
	e.deliver("marc@client.example", "Question", "Bonjour, merci pour votre aide avec la facture, je vous écris pour une question.")
	e.deliver("taro@kaisha.example.jp", "質問", "お世話になっております。請求書について質問があります。")
	e.deliver("john@client.example", "Question", "Hello, I have a question.")
	tests := map[string]string{
		"anne@client.example":    "Votre demande a bien été reçue",
		"marc@client.example":    "Votre demande a bien été reçue",
		"taro@kaisha.example.jp": "ご依頼を受け付けました",
		"john@client.example":    "CUSTOM ACK for #TID30004",
	}
	for who, want := range tests {
		m := e.waitMails(who, 1)[0]
		if body := decodeMail(t, m.Data); !strings.Contains(body, want) {
			t.Errorf("ack to %s lacks %q:\n%s", who, want, body)
		}
		if !strings.Contains(m.Data, "Content-Type: text/html") {
			t.Errorf("ack to %s has no HTML alternative", who)
		}
	}
	// Agents get English whatever the customer's language.
	for _, n := range e.waitMails("team@example.com", 4) {
		if !strings.Contains(decodeMail(t, n.Data), "New ticket") {
			t.Fatalf("notice not in English:\n%s", decodeMail(t, n.Data))
		}
	}
}
