package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailgate/mailgate/store"
)

// ref: keys (one per inbound message and per mail sent) expire, and each use renews them, so
// that a ticket in use keeps threading by References while silent ones stop costing memory.
func TestRefsExpireAndRenewOnUse(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := store.KeyPrefix(st)
	c := newCommit(t, st, "r1", t0, store.Outgoing{ID: "o1", Kind: "ack", TicketID: 30001, To: "alice@customer.example",
		MessageID: "<ack-1@mx>", Raw: []byte("mail")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"<r1@x>", "<ack-1@mx>"} {
		ttl, err := st.Client().PTTL(ctx, p+"ref:"+ref).Result()
		if err != nil || ttl <= 0 || ttl > store.RefTTL {
			t.Fatalf("ref %s TTL = %v, %v; want at most %v", ref, ttl, err, store.RefTTL)
		}
	}
	// Shorten one, as time would; a lookup through it finds the ticket and renews it.
	if err := st.Client().PExpire(ctx, p+"ref:<ack-1@mx>", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	lk, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "r2", Refs: []string{"<ack-1@mx>"}, Sender: "alice@customer.example"})
	if err != nil || lk.Referenced == nil || lk.Referenced.ID != 30001 {
		t.Fatalf("lookup by reference: %+v, %v", lk.Referenced, err)
	}
	if ttl, _ := st.Client().PTTL(ctx, p+"ref:<ack-1@mx>").Result(); ttl <= time.Hour {
		t.Fatalf("TTL after use = %v, want renewed to %v", ttl, store.RefTTL)
	}
}
