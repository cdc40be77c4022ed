package main

import (
	"context"
	"testing"

	"github.com/mailgate/mailgate/config"
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
