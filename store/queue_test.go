package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// A claim whose clock is far ahead takes over every pending entry, but never hands out the
// entries it has just read a second time (their lease would be fenced off at once).
func TestClaimAheadTakesEachMailOnce(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := newCommit(t, st, "ahead", t0,
		store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")},
		store.Outgoing{ID: "m2", Kind: "notice", To: "b@x", Raw: []byte("two")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := st.Claim(ctx, time.Now().Add(1000*time.Hour), time.Millisecond, 10)
	if err != nil || len(got) != 2 || got[0].ID == got[1].ID {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if err := st.Sent(ctx, got...); err != nil {
		t.Fatalf("the claim's own leases: %v", err)
	}
	if again, _ := st.Claim(ctx, time.Now().Add(2000*time.Hour), time.Millisecond, 10); len(again) != 0 {
		t.Fatalf("sent mail came back: %+v", again[0])
	}
}

// The consumer group is created when missing (a new or flushed Redis, or a queue written
// before the group existed), and reads the mails already queued.
func TestClaimCreatesTheGroup(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	if got, err := st.Claim(ctx, t0, time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim on an empty Redis: %d, %v", len(got), err)
	}
	if err := rdb.XGroupDestroy(ctx, p+"ob:queue", "mailgate").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, newCommit(t, st, "g", t0, store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")})); err != nil {
		t.Fatal(err)
	}
	got, err := st.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(got) != 1 || string(got[0].Raw) != "one" {
		t.Fatalf("claim after the group went: %+v, %v", got, err)
	}
	if err := rdb.XGroupDestroy(ctx, p+"ob:queue", "mailgate").Err(); err != nil {
		t.Fatal(err)
	}
	// The holder's lease went with the group: Sent reports it lost rather than failing.
	if err := st.Sent(ctx, got...); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("sent after the group went: %v", err)
	}
}

// A mail waiting for its next attempt is listed and counted, with its attempts, and keeps
// its raw bytes and files when it comes back.
func TestWaitingMailListedAndKept(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	refs := []store.FileRef{{At: 3, SHA256: "abc"}}
	c := newCommit(t, st, "wait", t0,
		store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one"), Files: refs},
		store.Outgoing{ID: "m2", Kind: "ack", To: "b@x", Raw: []byte("two")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Claim(ctx, t0, time.Minute, 1)
	if len(got) != 1 || got[0].ID != "m1" {
		t.Fatalf("claim one = %+v", got)
	}
	if err := st.Retry(ctx, got[0], t0.Add(time.Hour), "421"); err != nil {
		t.Fatal(err)
	}
	l, err := st.ListOutbox(ctx, false, 10)
	if err != nil || len(l) != 2 || l[0].ID != "m1" || l[0].Attempts != 1 || l[0].LastError != "421" || l[1].ID != "m2" {
		t.Fatalf("list = %+v, %v", l, err)
	}
	if l, _ := st.ListOutbox(ctx, false, 1); len(l) != 1 || l[0].ID != "m1" {
		t.Fatalf("list limited to 1 = %+v", l)
	}
	if stats, _ := st.OutboxStats(ctx, t0.Add(time.Minute)); stats.Depth != 2 || stats.OldestAge != time.Minute {
		t.Fatalf("stats = %+v", stats)
	}
	got, _ = st.Claim(ctx, t0.Add(time.Hour), time.Minute, 10)
	if len(got) != 2 {
		t.Fatalf("claim after the retry is due: %d", len(got))
	}
	for _, it := range got {
		if it.ID == "m1" && (string(it.Raw) != "one" || len(it.Files) != 1 || it.Files[0] != refs[0] || it.Attempts != 1) {
			t.Fatalf("retried mail = %+v", it)
		}
	}
	if err := st.Sent(ctx, got...); err != nil {
		t.Fatal(err)
	}
	if stats, _ := st.OutboxStats(ctx, t0.Add(2*time.Hour)); stats.Depth != 0 || stats.OldestAge != 0 {
		t.Fatalf("stats after sending = %+v", stats)
	}
}

// The takeover of an expired lease and the fencing run on the embedded miniredis too.
func TestLeaseTakeoverOnEmbeddedStore(t *testing.T) {
	ctx := context.Background()
	st := embeddedStore(t, "dev:", 1)
	if _, err := st.Commit(ctx, newCommit(t, st, "e", t0, store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")})); err != nil {
		t.Fatal(err)
	}
	first, _ := st.Claim(ctx, t0, time.Minute, 10)
	if again, _ := st.Claim(ctx, t0.Add(30*time.Second), time.Minute, 10); len(first) != 1 || len(again) != 0 {
		t.Fatalf("claims: %d, %d", len(first), len(again))
	}
	second, _ := st.Claim(ctx, t0.Add(2*time.Minute), time.Minute, 10)
	if len(second) != 1 {
		t.Fatalf("takeover: %d", len(second))
	}
	if lost, err := st.Renew(ctx, first, t0.Add(3*time.Minute)); err != nil || len(lost) != 1 {
		t.Fatalf("renewing a lost lease: %v, %v", lost, err)
	}
	if lost, err := st.Renew(ctx, second, t0.Add(10*time.Minute)); err != nil || len(lost) != 0 {
		t.Fatalf("renew by the holder: %v, %v", lost, err)
	}
	if again, _ := st.Claim(ctx, t0.Add(5*time.Minute), time.Minute, 10); len(again) != 0 {
		t.Fatal("a renewed lease was claimed before its new end")
	}
	if err := st.Sent(ctx, first...); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("late Sent = %v", err)
	}
	if err := st.Sent(ctx, second...); err != nil {
		t.Fatal(err)
	}
	if l, _ := st.ListOutbox(ctx, false, 10); len(l) != 0 {
		t.Fatalf("outbox after sending: %+v", l)
	}
}

// Sent entries are acknowledged and trimmed, not deleted one by one: what is left of them
// must not show as queued, on Redis or on miniredis.
func TestSentEntriesAreNotListed(t *testing.T) {
	for name, st := range map[string]*store.Store{"redis": newStore(t), "miniredis": embeddedStore(t, "dev:", 1)} {
		ctx := context.Background()
		var mails []store.Outgoing
		for _, id := range []string{"m1", "m2", "m3", "m4"} {
			mails = append(mails, store.Outgoing{ID: id, Kind: "ack", To: id + "@x", Raw: []byte(id)})
		}
		if _, err := st.Commit(ctx, newCommit(t, st, "trim", t0, mails...)); err != nil {
			t.Fatal(err)
		}
		got, _ := st.Claim(ctx, t0, time.Minute, 3)
		if len(got) != 3 {
			t.Fatalf("%s: claim: %d", name, len(got))
		}
		// m2 and m3 go; m1 is still held, m4 not read.
		if err := st.Sent(ctx, got[1:]...); err != nil {
			t.Fatal(err)
		}
		l, err := st.ListOutbox(ctx, false, 10)
		if err != nil || len(l) != 2 || l[0].ID != "m1" || l[1].ID != "m4" {
			t.Fatalf("%s: list = %+v, %v", name, l, err)
		}
		if stats, _ := st.OutboxStats(ctx, t0.Add(time.Minute)); stats.Depth != 2 || stats.OldestAge != time.Minute {
			t.Fatalf("%s: stats = %+v", name, stats)
		}
		if err := st.Sent(ctx, got[0]); err != nil {
			t.Fatal(err)
		}
		rest, _ := st.Claim(ctx, t0, time.Minute, 10)
		if len(rest) != 1 || rest[0].ID != "m4" {
			t.Fatalf("%s: the rest = %+v", name, rest)
		}
		if err := st.Sent(ctx, rest...); err != nil {
			t.Fatal(err)
		}
		if l, _ := st.ListOutbox(ctx, false, 10); len(l) != 0 {
			t.Fatalf("%s: list after sending all = %+v", name, l[0])
		}
		if stats, _ := st.OutboxStats(ctx, t0.Add(time.Minute)); stats.Depth != 0 || stats.OldestAge != 0 {
			t.Fatalf("%s: stats after sending all = %+v", name, stats)
		}
	}
}

// The consumers of stopped processes are deleted once they hold nothing; one that still holds
// a mail is kept (deleting it would drop the mail from the group), and so is this process's.
func TestIdleConsumersRemoved(t *testing.T) {
	mr := miniredis.RunT(t)
	mrc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { mrc.Close() })
	p := redistest.Prefix(t)
	for name, env := range map[string]struct {
		rdb redis.UniversalClient
		p   string
	}{"redis": {redistest.Client(t, p), p}, "miniredis": {mrc, "dev:"}} {
		ctx := context.Background()
		st := store.New(env.rdb, store.Options{KeyPrefix: env.p, FirstID: 1})
		if _, err := st.Commit(ctx, newCommit(t, st, "idle", t0,
			store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")},
			store.Outgoing{ID: "m2", Kind: "ack", To: "b@x", Raw: []byte("two")})); err != nil {
			t.Fatal(err)
		}
		mine, err := st.Claim(ctx, t0, time.Minute, 1) // creates the group and this consumer
		if err != nil || len(mine) != 1 {
			t.Fatalf("%s: claim: %d, %v", name, len(mine), err)
		}
		q := store.KeyPrefix(st) + "ob:queue"
		if err := env.rdb.XGroupCreateConsumer(ctx, q, "mailgate", "gone").Err(); err != nil {
			t.Fatal(err)
		}
		if err := env.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "mailgate", Consumer: "crashed",
			Streams: []string{q, ">"}, Count: 1, Block: -1}).Err(); err != nil {
			t.Fatal(err)
		}
		gone, err := st.RemoveIdleConsumers(ctx, 0)
		if err != nil || len(gone) != 1 || gone[0] != "gone" {
			t.Fatalf("%s: removed %v, %v; want only the consumer that holds nothing", name, gone, err)
		}
		cs, _ := env.rdb.XInfoConsumers(ctx, q, "mailgate").Result()
		if len(cs) != 2 {
			t.Fatalf("%s: consumers left: %+v", name, cs)
		}
	}
}
