package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/store"
)

// A store error hidden behind an expected redis.Nil (a reply whose References are unknown)
// must defer the message (451), not refuse it as if the sender had no account (550).
func TestStoreErrorBehindMissingReferenceIs451(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Accounts.RequireActive = true })
	rdb := e.st.Client()
	if err := rdb.Set(context.Background(), e.cfg.Redis.KeyPrefix+"acct:alice@customer.example", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"},
		msg("alice@customer.example", "support@example.com", "Re: hello", "x", "In-Reply-To: <unknown@customer.example>"))
	if r.Code != 451 {
		t.Fatalf("reply = %s, want 451 (the account could not be read)", r)
	}
}

// deepMessage cannot be parsed (multipart nested past the parser's limit): it is quarantined.
func deepMessage(subject string) string {
	var b strings.Builder
	b.WriteString("From: flood@customer.example\r\nTo: support@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@customer.example>\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := range 40 {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	return b.String()
}

// A flood of unparseable mail from one sender: every message is kept, the agents are told at
// most outbound.max_auto_replies_per_sender_per_hour times.
func TestQuarantineNoticesCapped(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Outbound.MaxAutoRepliesPerSenderPerHour = 2 })
	for i := range 5 {
		if r := send(t, e.d.SMTPAddr, "flood@customer.example", []string{"support@example.com"}, deepMessage(fmt.Sprintf("deep%d", i))); r.Code != 250 {
			t.Fatalf("message %d: %s", i, r)
		}
	}
	e.waitMails("team@example.com", 2)
	e.drained()
	if n := len(smtpcapture.To(e.relay.Mails(), "team@example.com")); n != 2 {
		t.Fatalf("agents got %d quarantine notices, want the cap of 2", n)
	}
	out, _, _ := cli(t, "quarantine", "list", "--json", "--config", e.configFile())
	if qs := decodeJSON[[]map[string]any](t, out); len(qs) != 5 {
		t.Fatalf("%d messages kept, want 5", len(qs))
	}
}

func TestQuarantineShowReleaseDelete(t *testing.T) {
	e := startEnv(t, nil)
	ctx := context.Background()
	deep := deepMessage("deep")
	if r := send(t, e.d.SMTPAddr, "flood@customer.example", []string{"support@example.com"}, deep); r.Code != 250 {
		t.Fatal(r)
	}
	out, _, _ := cli(t, "quarantine", "list", "--json", "--config", e.configFile())
	qs := decodeJSON[[]map[string]any](t, out)
	if len(qs) != 1 {
		t.Fatalf("quarantine: %s", out)
	}
	id := qs[0]["id"].(string)
	if exp, _ := qs[0]["expires_at"].(string); exp == "" {
		t.Fatalf("a quarantined message expires by default (storage.keep_quarantine): %v", qs[0])
	}
	raw, _, code := cli(t, "quarantine", "show", id, "--raw", "--config", e.configFile())
	if code != 0 || !strings.Contains(raw, "Subject: deep\r\n") || !strings.Contains(raw, "--b39") {
		t.Fatalf("show --raw (%d):\n%.300s", code, raw)
	}
	human, _, code := cli(t, "quarantine", "show", id, "--config", e.configFile())
	if code != 0 || !strings.Contains(human, "flood@customer.example") || !strings.Contains(human, "EXPIRES") {
		t.Fatalf("show (%d):\n%s", code, human)
	}
	// Still unparseable: release refuses and keeps it, and the agents are not told again.
	e.waitMails("team@example.com", 1)
	e.drained()
	if _, stderr, code := cli(t, "quarantine", "release", id, "--config", e.configFile()); code != 1 || !strings.Contains(stderr, "stays in the quarantine") {
		t.Fatalf("release of a still broken message: %d %s", code, stderr)
	}
	if _, _, code := cli(t, "quarantine", "show", id, "--config", e.configFile()); code != 0 {
		t.Fatal("a failed release removed the message")
	}
	// A message this version parses (quarantined by an older one, say) is released into a ticket.
	good := msg("alice@customer.example", "support@example.com", "Printer on fire", "It is on fire.")
	if _, err := e.st.Quarantine(ctx, store.Quarantined{ID: "older", ReceivedAt: time.Now(), EnvelopeFrom: "alice@customer.example",
		Reason: "old parser", Size: len(good), Raw: []byte(good)}, nil); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := cli(t, "quarantine", "release", "older", "--config", e.configFile())
	if code != 0 || !strings.Contains(stdout, "#TID") {
		t.Fatalf("release: %d %s %s", code, stdout, stderr)
	}
	if tks := e.tickets(); len(tks) != 1 || tks[0].Subject != "Printer on fire" {
		t.Fatalf("tickets after release: %v", tks)
	}
	e.waitMails("alice@customer.example", 1) // the acknowledgement, sent by the daemon
	if _, stderr, code := cli(t, "quarantine", "show", "older", "--config", e.configFile()); code != 1 || !strings.Contains(stderr, "not found") {
		t.Fatalf("a released message stays in the quarantine: %d %s", code, stderr)
	}
	if out, _, code := cli(t, "quarantine", "delete", id, "--config", e.configFile()); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %d %s", code, out)
	}
	if _, _, code := cli(t, "quarantine", "delete", id, "--config", e.configFile()); code != 1 {
		t.Fatalf("delete of a missing message: exit %d, want 1", code)
	}
}
