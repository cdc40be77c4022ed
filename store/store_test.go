package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

func newStore(t *testing.T) *store.Store { return newStoreB(t) }

func newStoreB(t testing.TB) *store.Store {
	p := redistest.Prefix(t)
	return store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 30001})
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newCommit(t *testing.T, st *store.Store, dedupe string, at time.Time, mails ...store.Outgoing) *store.Commit {
	t.Helper()
	id, err := st.NextID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := newCommitID(dedupe, id, mails...)
	c.Now, c.Ticket.CreatedAt, c.Ticket.UpdatedAt, c.Message.ReceivedAt = at, at, at, at
	return c
}

func newCommitID(dedupe string, id int64, mails ...store.Outgoing) *store.Commit {
	at := t0
	return &store.Commit{
		Dedupe: dedupe, New: true, Now: at,
		Ticket: ticket.Ticket{ID: id, Queue: "support@example.com", Subject: "s", Status: ticket.StatusNew,
			Priority: "normal", Creator: "alice@customer.example", Followers: []string{"alice@customer.example"},
			CreatedAt: at, UpdatedAt: at},
		Message: &ticket.Message{MessageID: "<" + dedupe + "@x>", Author: "alice@customer.example", Role: "customer",
			ReceivedAt: at, Text: "hello", Attachments: []ticket.Attachment{}},
		Raw:   []byte("raw " + dedupe),
		Refs:  []string{"<" + dedupe + "@x>"},
		Mails: mails,
	}
}

func TestCommitAndRead(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := newCommit(t, st, "d1", t0, store.Outgoing{ID: "o1", Kind: "ack", TicketID: 30001, To: "alice@customer.example", Raw: []byte("mail")})
	if c.Ticket.ID != 30001 {
		t.Fatalf("first id = %d, want tickets.first_id", c.Ticket.ID)
	}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := st.Ticket(ctx, 30001, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tag != "#TID30001" || len(got.Messages) != 1 || got.Messages[0].Text != "hello" || got.Version != 1 {
		t.Fatalf("ticket = %+v", got)
	}
	raw, err := st.Raw(ctx, got.Messages[0].RawKey)
	if err != nil || string(raw) != "raw d1" {
		t.Fatalf("raw = %q, %v", raw, err)
	}
	items, _ := st.ListOutbox(ctx, false, 10)
	if len(items) != 1 || items[0].ID != "o1" {
		t.Fatalf("outbox = %+v", items)
	}
	// The same message again: rule 6, nothing written.
	c2 := newCommit(t, st, "d1", t0)
	if _, err := st.Commit(ctx, c2); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("err = %v, want ErrDuplicate", err)
	}
	if _, err := st.Ticket(ctx, c2.Ticket.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a duplicate must create nothing: %v", err)
	}
	lk, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "d1", Refs: []string{"<d1@x>"}, Sender: "alice@customer.example"})
	if err != nil || !lk.Duplicate || lk.Referenced == nil || lk.Referenced.ID != 30001 {
		t.Fatalf("lookup = %+v, %v", lk, err)
	}
}

func TestCommitConflict(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if _, err := st.Commit(ctx, newCommit(t, st, "a", t0)); err != nil {
		t.Fatal(err)
	}
	tk, _ := st.Ticket(ctx, 30001, false)
	appendMsg := func(dedupe string, base *ticket.Ticket) error {
		next := *base
		next.Status = ticket.StatusOpen
		_, err := st.Commit(ctx, &store.Commit{Dedupe: dedupe, Ticket: next, PrevStatus: base.Status, Now: t0,
			Message: &ticket.Message{Text: dedupe}, Raw: []byte(dedupe)})
		return err
	}
	if err := appendMsg("b", tk); err != nil {
		t.Fatal(err)
	}
	// Written from the same (now stale) read: refused, nothing written.
	if err := appendMsg("c", tk); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	got, _ := st.Ticket(ctx, 30001, true)
	if len(got.Messages) != 2 || got.Version != 2 {
		t.Fatalf("messages %d version %d", len(got.Messages), got.Version)
	}
	if lk, _ := st.Lookup(ctx, store.LookupRequest{Dedupe: "c"}); lk.Duplicate {
		t.Fatal("a refused commit must not leave its duplicate marker")
	}
	open, _ := st.ListTickets(ctx, ticket.StatusOpen, 0, 10)
	fresh, _ := st.ListTickets(ctx, ticket.StatusNew, 0, 10)
	if len(open) != 1 || len(fresh) != 0 {
		t.Fatalf("status index: open %d new %d", len(open), len(fresh))
	}
}

func TestListNewestFirst(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for i := range 3 {
		if _, err := st.Commit(ctx, newCommit(t, st, fmt.Sprint("l", i), t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := st.ListTickets(ctx, "", 0, 10)
	if err != nil || len(ts) != 3 || ts[0].ID != 30003 || ts[2].ID != 30001 {
		t.Fatalf("list = %v, %v", ts, err)
	}
}

func TestHourlyCap(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	var capped int
	for i := range 4 {
		c := newCommit(t, st, fmt.Sprint("cap", i), t0, store.Outgoing{ID: fmt.Sprint("o", i), Kind: "ack", To: "loop@x.example", Raw: []byte("m"), CapLimit: 2})
		res, err := st.Commit(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		capped += len(res.Capped)
	}
	items, _ := st.ListOutbox(ctx, false, 10)
	if capped != 2 || len(items) != 2 {
		t.Fatalf("capped %d queued %d, want 2 and 2", capped, len(items))
	}
	if ts, _ := st.ListTickets(ctx, "", 0, 10); len(ts) != 4 {
		t.Fatalf("capped mail must not drop the inbound: %d tickets", len(ts))
	}
}

func TestOutboxLeaseRetryDead(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := newCommit(t, st, "ob", t0,
		store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")},
		store.Outgoing{ID: "m2", Kind: "notice", To: "b@x", Raw: []byte("two")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := st.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(got) != 2 || string(got[0].Raw) == "" {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if again, _ := st.Claim(ctx, t0.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
		t.Fatalf("a leased mail was handed out twice: %d", len(again))
	}
	got, _ = st.Claim(ctx, t0.Add(2*time.Minute), time.Minute, 10)
	if len(got) != 2 {
		t.Fatalf("an expired lease must be claimable again (crashed sender): %d", len(got))
	}
	if err := st.Sent(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	m2 := got[1]
	if err := st.Retry(ctx, m2, t0.Add(time.Hour), "421 try later"); err != nil {
		t.Fatal(err)
	}
	stats, _ := st.OutboxStats(ctx, t0.Add(10*time.Minute))
	if stats.Depth != 1 || stats.OldestAge != 10*time.Minute {
		t.Fatalf("stats = %+v", stats)
	}
	if got, _ = st.Claim(ctx, t0.Add(time.Hour), time.Minute, 10); len(got) != 1 {
		t.Fatalf("the deferred mail is due again at its next attempt: %d", len(got))
	}
	m2 = got[0]
	if err := st.Dead(ctx, m2, t0.Add(time.Hour), "550 no"); err != nil {
		t.Fatal(err)
	}
	dead, _ := st.ListOutbox(ctx, true, 10)
	if len(dead) != 1 || dead[0].LastError != "550 no" || dead[0].Attempts != 2 {
		t.Fatalf("dead = %+v", dead)
	}
	if err := st.Requeue(ctx, "nope", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("requeue unknown: %v", err)
	}
	if err := st.Requeue(ctx, "m2", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Claim(ctx, t0.Add(2*time.Hour), time.Minute, 10); len(again) != 1 || again[0].Attempts != 0 {
		t.Fatalf("requeued = %+v", again)
	}
}

func TestAccounts(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if err := st.AddAccount(ctx, "alice@customer.example", "ACME", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.DisableAccount(ctx, "nobody@x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("disable unknown: %v", err)
	}
	if err := st.DisableAccount(ctx, "alice@customer.example"); err != nil {
		t.Fatal(err)
	}
	as, _ := st.Accounts(ctx)
	if len(as) != 1 || as[0].Active || as[0].Organization != "ACME" {
		t.Fatalf("accounts = %+v", as)
	}
	lk, _ := st.Lookup(ctx, store.LookupRequest{Dedupe: "z", Sender: "alice@customer.example"})
	if lk.Account == nil || lk.Account.Active {
		t.Fatalf("lookup account = %+v", lk.Account)
	}
}

func TestStoreDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb, err := store.Dial(redistest.ClosedURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{KeyPrefix: "x:", FirstID: 1})
	if _, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "a"}); err == nil {
		t.Fatal("lookup against a dead Redis must fail")
	}
	if _, err := st.NextID(ctx); err == nil {
		t.Fatal("NextID against a dead Redis must fail")
	}
}

func TestKeepRaw(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1, KeepRaw: time.Hour})
	c := newCommit(t, st, "raw", t0)
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	tk, err := st.Ticket(ctx, c.Ticket.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	ttl := rdb.PTTL(ctx, store.HashTagged(p)+"raw:"+tk.Messages[0].RawKey).Val()
	if ttl <= 0 || ttl > time.Hour {
		t.Fatalf("raw message TTL = %v, want storage.keep_raw (1h)", ttl)
	}
}

func TestDurabilityWaits(t *testing.T) {
	ctx := context.Background()
	primary := redistest.Start(t)
	rdb, _ := store.Dial(primary.URL())
	defer rdb.Close()

	// WAITAOF needs Redis 7.2 and appendonly: start-up refuses rather than pretend.
	st := store.New(rdb, store.Options{KeyPrefix: "d:", FirstID: 1, Durability: store.Durability{WaitAOF: true, Timeout: time.Second}})
	if _, err := st.CheckDurability(ctx); err == nil || !strings.Contains(err.Error(), "wait_aof") {
		t.Fatalf("wait_aof on this server: %v", err)
	}
	plain := store.New(rdb, store.Options{KeyPrefix: "d:", FirstID: 1})
	if desc, err := plain.CheckDurability(ctx); err != nil || !strings.Contains(desc, "appendonly=false") {
		t.Fatalf("durability in force: %q %v", desc, err)
	}

	// No replica: the write is done but not confirmed, so the caller answers 451.
	lonely := store.New(rdb, store.Options{KeyPrefix: "d:", FirstID: 1, Durability: store.Durability{WaitReplicas: 1, Timeout: 50 * time.Millisecond}})
	c := newCommitID("w1", 1)
	if _, err := lonely.Commit(ctx, c); !errors.Is(err, store.ErrNotDurable) {
		t.Fatalf("err = %v, want ErrNotDurable", err)
	}
	if _, err := lonely.Commit(ctx, newCommitID("w1", 1)); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("the MTA's retry must be a duplicate: %v", err)
	}

	// With a real replica attached, WAIT 1 confirms.
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strings.Split(primary.Addr, ":")[1])
	rr, _ := store.Dial(replica.URL())
	defer rr.Close()
	poll.Until(t, 10*time.Second, "the replica to sync", func() bool {
		return strings.Contains(rr.Info(ctx, "replication").Val(), "master_link_status:up")
	})
	safe := store.New(rdb, store.Options{KeyPrefix: "d:", FirstID: 1, Durability: store.Durability{WaitReplicas: 1, Timeout: 5 * time.Second}})
	if _, err := safe.Commit(ctx, newCommitID("w2", 2)); err != nil {
		t.Fatalf("with a replica: %v", err)
	}
	if n := rr.Exists(ctx, store.HashTagged("d:")+"t:2").Val(); n != 1 {
		t.Fatal("the replica does not have the ticket after WAIT")
	}
}

// embeddedStore is a store on a fresh miniredis, the embedded store of dev mode.
func embeddedStore(t *testing.T, prefix string, firstID int64) *store.Store {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return store.New(rdb, store.Options{KeyPrefix: prefix, FirstID: firstID})
}
