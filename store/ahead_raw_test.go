package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// A duplicate (the same sender, Message-ID and body: mail.Parse's dedupe key leaves the header
// out) is refused by the marker and writes nothing: the raw message the ticket shows stays the
// one that was accepted, not a later copy whose header says something else.
func TestDuplicateLeavesTheAcceptedRawMessage(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	c := newCommit(t, st, "dupraw", t0)
	c.Raw = []byte("Subject: printer\r\nTo: support@example.com\r\n\r\nthe body\r\n")
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	again := newCommit(t, st, "dupraw", t0)
	again.Raw = []byte("Subject: PAY THE INVOICE TO IBAN X\r\nTo: support@example.com\r\n\r\nthe body\r\n")
	if _, err := st.Commit(ctx, again); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second delivery: %v, want ErrDuplicate", err)
	}
	tk, err := st.Ticket(ctx, c.Ticket.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.Raw(ctx, tk.Messages[0].RawKey)
	if err != nil || string(raw) != string(c.Raw) {
		t.Fatalf("the ticket's raw message is now %q (%v), want the one accepted, %q", raw, err, c.Raw)
	}
}

// storage.keep_raw bounds how long a raw message is kept: a duplicate delivered later neither
// extends that nor brings back a raw message that has expired.
func TestDuplicateDoesNotExtendKeepRaw(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	hp := store.HashTagged(p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1, KeepRaw: time.Hour})
	if _, err := st.Commit(ctx, newCommit(t, st, "kr1", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, newCommit(t, st, "kr2", t0)); err != nil {
		t.Fatal(err)
	}
	// Time passes: kr1's raw message has a minute left, kr2's has expired.
	kr1, kr2 := rawKeyOf(t, st, 1), rawKeyOf(t, st, 2)
	rdb.PExpire(ctx, hp+"raw:"+kr1, time.Minute)
	rdb.Del(ctx, hp+"raw:"+kr2)
	for _, d := range []string{"kr1", "kr2"} {
		if _, err := st.Commit(ctx, newCommit(t, st, d, t0)); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("duplicate of %s: %v, want ErrDuplicate", d, err)
		}
	}
	if ttl := rdb.PTTL(ctx, hp+"raw:"+kr1).Val(); ttl > time.Minute {
		t.Errorf("a duplicate gave the raw message %v more to live, past storage.keep_raw", ttl)
	}
	if ks := redistest.Keys(t, rdb, hp+"raw:kr2*"); len(ks) != 0 {
		t.Errorf("a duplicate brought back an expired raw message: %v", ks)
	}
}

// A commit that writes nothing (refused for a conflict, and then never made: the message was
// decided otherwise, or the MTA gave up after the 451) leaves no raw message that outlives
// everything: with storage.keep_raw = 0 the raw messages carry no expiry of their own.
func TestRefusedCommitLeavesNoRawForever(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	hp := store.HashTagged(p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1}) // keep_raw = 0
	c := newCommit(t, st, "first", t0)
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	stale, err := st.Ticket(ctx, c.Ticket.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	next := *stale
	if _, err := st.Commit(ctx, &store.Commit{Dedupe: "second", Ticket: next, Before: stale, Now: t0,
		Message: newCommitID("second", next.ID).Message, Raw: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	// Written from the read before "second": refused, nothing of it is the ticket's.
	if _, err := st.Commit(ctx, &store.Commit{Dedupe: "refused", Ticket: next, Before: stale, Now: t0,
		Message: newCommitID("refused", next.ID).Message, Raw: []byte("refused message")}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	for _, k := range redistest.Keys(t, rdb, hp+"raw:refused*") {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl < 0 {
			t.Fatalf("the refused commit's raw message is stored with no expiry (PTTL %v): kept forever", ttl)
		}
	}
}

// The duplicate marker lives DedupeTTL; raw messages are kept longer (storage.keep_raw = 0:
// forever). The same message delivered again once its marker is gone is accepted as a new
// message: it gets a raw copy of its own, and the one accepted first is neither replaced nor
// lost.
func TestRedeliveryAfterTheMarkerKeepsTheFirstRawMessage(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	hp := store.HashTagged(p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1}) // keep_raw = 0
	c := newCommit(t, st, "again", t0)
	c.Raw = []byte("Subject: printer\r\nTo: support@example.com\r\n\r\nthe body\r\n")
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	// DedupeTTL passes: the marker expires, the raw message (kept forever) does not.
	rdb.Del(ctx, hp+"dedupe:again")
	first, err := st.Ticket(ctx, c.Ticket.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	next := *first
	later := &store.Commit{Dedupe: "again", Ticket: next, Before: first, Now: t0.Add(15 * 24 * time.Hour),
		Message: newCommitID("again", next.ID).Message,
		Raw:     []byte("Subject: PAY THE INVOICE TO IBAN X\r\nTo: support@example.com\r\n\r\nthe body\r\n")}
	if _, err := st.Commit(ctx, later); err != nil {
		t.Fatal(err)
	}
	tk, err := st.Ticket(ctx, c.Ticket.ID, true)
	if err != nil || len(tk.Messages) != 2 {
		t.Fatalf("ticket: %+v, %v", tk, err)
	}
	raw, err := st.Raw(ctx, tk.Messages[0].RawKey)
	if err != nil || string(raw) != string(c.Raw) {
		t.Fatalf("the first message's raw copy is now %q (%v), want the one accepted, %q", raw, err, c.Raw)
	}
}

// rawKeyOf is the raw-message key of ticket id's first message.
func rawKeyOf(t *testing.T, st *store.Store, id int64) string {
	t.Helper()
	tk, err := st.Ticket(context.Background(), id, true)
	if err != nil || len(tk.Messages) == 0 {
		t.Fatalf("ticket %d: %v", id, err)
	}
	return tk.Messages[0].RawKey
}
