package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/threading"
	"github.com/mailgate/mailgate/ticket"
)

// A stranger with no tag in the subject and a made-up References naming a ticket (any host,
// any 16 hex digits) must not learn whether that ticket exists: the decision is the same
// either way (no "related to", no words about a ticket number that could not be used).
func TestCraftedReferenceTellsNothing(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := newCommit(t, st, "e1", t0)
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	p := threading.Policy{IsSupport: func(a string) bool { return a == "support@example.com" },
		IsAgent: func(string) bool { return false }, UseReferences: true, Queues: []string{"support@example.com"}}
	related := func(id int64) int64 {
		crafted := fmt.Sprintf("<0000000000000000.tid%d@attacker.example>", id)
		lk, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "probe", Refs: []string{crafted}, Sender: "mallory@evil.example"})
		if err != nil {
			t.Fatal(err)
		}
		m := &mail.Message{From: "mallory@evil.example", To: []string{"support@example.com"}, Subject: "hi"}
		a := threading.Decide(m, threading.Facts{EnvelopeFrom: "mallory@evil.example", Referenced: lk.Referenced,
			ReferencedByName: lk.ReferencedByName}, p)
		return a.RelatedTo
	}
	exists, missing := related(c.Ticket.ID), related(c.Ticket.ID+1000)
	if (exists != 0) != (missing != 0) {
		t.Errorf("a stranger's made-up References tells ticket %d exists (RelatedTo %d) from one that does not (RelatedTo %d)",
			c.Ticket.ID, exists, missing)
	}
}

// counter counts the commands a client sends, pipelined or not.
type counter struct{ n int }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n++; return next(ctx, cmd) }
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n += len(cmds); return next(ctx, cmds) }
}

// Made-up Message-IDs that name tickets cost one read at most, however many a message
// carries: only the newest is tried.
func TestCraftedReferencesCostOneRead(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001})
	var refs []string
	for i := range 100 {
		refs = append(refs, fmt.Sprintf("<0000000000000000.tid%d@x>", 900000+i))
	}
	c := &counter{}
	rdb.AddHook(c)
	if _, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "many", Refs: refs, Sender: "m@x"}); err != nil {
		t.Fatal(err)
	}
	// One pipeline: EXISTS, 100 GETEX, HGETALL; then one ticket read, and a new connection's
	// HELLO and CLIENT SETINFO. One read per reference would be over 200.
	if c.n > 112 {
		t.Errorf("one Lookup sent %d commands for 100 made-up References", c.n)
	}
}

// A Message-ID that names another ticket than the mail's own gets a ref: key, and the key
// decides: a reply threads to the ticket the mail belongs to.
func TestRefKeyWinsOverTheTicketAnIDNames(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	other := newCommit(t, st, "k0", t0)
	if _, err := st.Commit(ctx, other); err != nil {
		t.Fatal(err)
	}
	odd := "<" + ticket.MessageID("89abcdef0123456701234567", other.Ticket.ID, "mx.example") + ">"
	c := newCommit(t, st, "k1", t0, store.Outgoing{ID: "b", Kind: "notice", TicketID: 0, To: "team@example.com", MessageID: odd, Raw: []byte("m")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	lk, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "k2", Refs: []string{odd}, Sender: "alice@customer.example"})
	if err != nil || lk.Referenced == nil || lk.Referenced.ID != c.Ticket.ID {
		t.Errorf("reply to a mail of ticket %d (its ref: key says so) threads to %+v", c.Ticket.ID, lk.Referenced)
	}
}
