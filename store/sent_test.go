package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

func TestSentTexts(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001})
	c := newCommit(t, st, "s1", t0, store.Outgoing{ID: "o1", Kind: "ack", TicketID: 30001, To: "alice@customer.example",
		MessageID: "<ack@mx.example>", Raw: []byte("mail")})
	c.Sent = []store.SentText{{MessageID: "<ack@mx.example>", TicketID: c.Ticket.ID, Text: "Hello,\n\nThank you for writing to us."}}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := st.SentTexts(ctx, c.Ticket.ID, []string{"<unknown@customer.example>", "<ack@mx.example>"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Hello,\n\nThank you for writing to us."}; !slices.Equal(got, want) {
		t.Fatalf("SentTexts = %q, want %q", got, want)
	}
	// Our mail of another ticket is not this ticket's history.
	if got, err := st.SentTexts(ctx, c.Ticket.ID+1, []string{"<ack@mx.example>"}); err != nil || len(got) != 0 {
		t.Fatalf("SentTexts of another ticket = %q, %v; want none", got, err)
	}
	ttl := rdb.PTTL(ctx, store.HashTagged(p)+"sent:<ack@mx.example>").Val()
	if ttl <= 0 || ttl > store.SentTTL {
		t.Fatalf("sent text TTL = %v, want at most %v", ttl, store.SentTTL)
	}
}

func TestSentTextsFollowKeepRaw(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1, KeepRaw: time.Hour})
	c := newCommit(t, st, "s2", t0)
	c.Sent = []store.SentText{{MessageID: "<u@mx.example>", TicketID: c.Ticket.ID, Text: "x"}}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, store.HashTagged(p)+"sent:<u@mx.example>").Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("sent text TTL = %v, want storage.keep_raw (1h)", ttl)
	}
}
