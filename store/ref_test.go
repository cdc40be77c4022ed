package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
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

// Our mails' Message-IDs name their ticket: the commit writes no ref: key for them, and a
// reply naming one threads by it. One naming another ticket than the mail's own gets a key.
func TestOwnMessageIDsThreadWithoutAKey(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := store.KeyPrefix(st)
	own := "<" + ticket.MessageID("0123456789abcdef01234567", 30001, "mx.example") + ">"
	odd := "<" + ticket.MessageID("89abcdef0123456701234567", 4, "mx.example") + ">"
	c := newCommit(t, st, "o1", t0,
		store.Outgoing{ID: "a", Kind: "ack", TicketID: 30001, To: "alice@customer.example", MessageID: own, Raw: []byte("m")},
		store.Outgoing{ID: "b", Kind: "notice", TicketID: 30001, To: "team@example.com", MessageID: odd, Raw: []byte("m")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Client().Exists(ctx, p+"ref:"+own).Result(); n != 0 {
		t.Fatal("a ref: key was written for a Message-ID that names its ticket")
	}
	if n, _ := st.Client().Exists(ctx, p+"ref:"+odd).Result(); n != 1 {
		t.Fatal("no ref: key for a Message-ID that names another ticket")
	}
	for _, refs := range [][]string{{own}, {"<unknown@x>", own}, {own, "<unknown@x>"}} {
		lk, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "o2", Refs: refs, Sender: "alice@customer.example"})
		if err != nil || lk.Referenced == nil || lk.Referenced.ID != 30001 {
			t.Fatalf("lookup by %v: %+v, %v", refs, lk.Referenced, err)
		}
	}
	// A Message-ID naming a ticket that does not exist threads nowhere.
	lk, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "o3", Sender: "alice@customer.example",
		Refs: []string{"<" + ticket.MessageID("0123456789abcdef01234567", 99999, "mx.example") + ">"}})
	if err != nil || lk.Referenced != nil {
		t.Fatalf("lookup by a Message-ID of no ticket: %+v, %v", lk.Referenced, err)
	}
}
