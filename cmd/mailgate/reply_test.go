package main

import (
	"context"
	"strings"
	"testing"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
)

// A customer's reply that pastes our acknowledgement under a header block in a language no
// rule knows is stored without that copy, because mailgate kept the text it sent; `ticket
// show --full` still prints the whole mail.
func TestReplyQuotingOurMailIsCutExactly(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	ackRaw := e.waitMails("alice@customer.example", 1)[0].Data
	ack, err := mail.NewParser(mail.Policy{}).Parse([]byte(ackRaw))
	if err != nil {
		t.Fatal(err)
	}
	body := "The fire is out now.\n\n" +
		"Lähettäjä: Example Support <support@example.com>\n" +
		"Lähetetty: maanantai 23. marraskuuta 2026 9.00\n" +
		"Aihe: [#TID30001] Printer on fire\n\n" + ack.Text
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", body, "In-Reply-To: "+ack.MessageID)

	tk := e.ticket(30001)
	if len(tk.Messages) != 2 {
		t.Fatalf("messages: %+v", tk.Messages)
	}
	if got := tk.Messages[1].Text; got != "The fire is out now." {
		t.Errorf("stored reply text = %q, want only the writer's words", got)
	}
	out, _, code := cli(t, "ticket", "show", "30001", "--full", "--config", e.configFile())
	if code != 0 || !strings.Contains(out, "Lähettäjä: Example Support") || !strings.Contains(out, "Thank you for writing to us.") {
		t.Errorf("ticket show --full (exit %d) lacks the quoted history:\n%s", code, out)
	}
	out, _, _ = cli(t, "ticket", "show", "30001", "--config", e.configFile())
	if strings.Contains(out, "Lähettäjä") {
		t.Errorf("ticket show without --full prints the quoted history:\n%s", out)
	}
	// Once the raw message has expired (storage.keep_raw), --full says so and prints the
	// stored text.
	key := store.HashTagged(e.cfg.Redis.KeyPrefix) + "raw:" + tk.Messages[1].RawKey
	if n := e.st.Client().Del(context.Background(), key).Val(); n != 1 {
		t.Fatalf("deleting %s removed %d keys", key, n)
	}
	out, _, code = cli(t, "ticket", "show", "30001", "--full", "--config", e.configFile())
	if code != 0 || !strings.Contains(out, "The fire is out now.\n[the whole message is no longer kept") {
		t.Errorf("ticket show --full without the raw message (exit %d):\n%s", code, out)
	}
}
