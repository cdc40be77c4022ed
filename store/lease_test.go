package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// A process whose lease ran out must not change a mail another process has claimed since:
// its late Retry would recreate a mail already sent and deleted (with no raw bytes), its late
// Dead would make a false dead letter.
func TestLateHolderIsFenced(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := newCommit(t, st, "fence", t0, store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	first, err := st.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim = %v, %v", first, err)
	}
	// The first holder stalls past its lease; a second process claims, sends, removes.
	second, err := st.Claim(ctx, t0.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(second) != 1 {
		t.Fatalf("second claim = %v, %v", second, err)
	}
	if lost, err := st.Renew(ctx, first, t0.Add(3*time.Minute)); err != nil || len(lost) != 1 {
		t.Fatalf("renewing a lost lease: lost %v, %v", lost, err)
	}
	if err := st.Sent(ctx, second...); err != nil {
		t.Fatal(err)
	}
	if err := st.Retry(ctx, first[0], t0.Add(time.Hour), "421 late"); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("late Retry = %v, want ErrLeaseLost", err)
	}
	if err := st.Dead(ctx, first[0], t0.Add(time.Hour), "550 late"); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("late Dead = %v, want ErrLeaseLost", err)
	}
	if again, _ := st.Claim(ctx, t0.Add(2*time.Hour), time.Minute, 10); len(again) != 0 {
		t.Fatalf("the sent mail came back: %+v", again[0])
	}
	for _, dead := range []bool{false, true} {
		if l, _ := st.ListOutbox(ctx, dead, 10); len(l) != 0 {
			t.Fatalf("outbox (dead %v) = %+v after the mail was sent", dead, l[0])
		}
	}
}

// While the second holder owns the mail, the first's Sent must not remove it either.
func TestLateSentLeavesTheNewHolder(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	c := newCommit(t, st, "fence2", t0, store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", Raw: []byte("one")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	first, _ := st.Claim(ctx, t0, time.Minute, 10)
	second, _ := st.Claim(ctx, t0.Add(2*time.Minute), time.Minute, 10)
	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("claims: %d, %d", len(first), len(second))
	}
	var lle *store.LeaseLostError
	if err := st.Sent(ctx, first...); !errors.As(err, &lle) || len(lle.IDs) != 1 || lle.IDs[0] != "m1" {
		t.Fatalf("late Sent = %v, want a LeaseLostError naming m1", err)
	}
	// The holder's renewal and retry still work.
	if lost, err := st.Renew(ctx, second, t0.Add(10*time.Minute)); err != nil || len(lost) != 0 {
		t.Fatalf("renew by the holder: lost %v, %v", lost, err)
	}
	if again, _ := st.Claim(ctx, t0.Add(5*time.Minute), time.Minute, 10); len(again) != 0 {
		t.Fatal("a renewed lease was claimed before its new end")
	}
	if err := st.Retry(ctx, second[0], t0.Add(time.Hour), "421"); err != nil {
		t.Fatal(err)
	}
	again, _ := st.Claim(ctx, t0.Add(time.Hour), time.Minute, 10)
	if len(again) != 1 || string(again[0].Raw) != "one" || again[0].Attempts != 1 {
		t.Fatalf("retried mail = %+v", again)
	}
}

// Sent answers for each mail of a batch on its own: of three mails claimed together, one whose
// lease ran out and that the same process claimed again, and one another process took over,
// are reported lost and stay with their holders; the third, still held, is done.
func TestSentFencesEachMailOfABatch(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	a := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 30001})
	b := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 30001})
	for _, id := range []string{"m1", "m2", "m3"} {
		if _, err := a.Commit(ctx, newCommit(t, a, "batch-"+id, t0, store.Outgoing{ID: id, Kind: "ack", To: id + "@x", Raw: []byte(id)})); err != nil {
			t.Fatal(err)
		}
	}
	first, err := a.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(first) != 3 {
		t.Fatalf("claim = %d mails, %v", len(first), err)
	}
	byID := map[string]*store.OutboxItem{}
	for _, it := range first {
		byID[it.ID] = it
	}
	if lost, err := a.Renew(ctx, []*store.OutboxItem{byID["m1"]}, t0.Add(10*time.Minute)); err != nil || len(lost) != 0 {
		t.Fatalf("renew m1: lost %v, %v", lost, err)
	}
	again, err := a.Claim(ctx, t0.Add(2*time.Minute), time.Minute, 1)
	if err != nil || len(again) != 1 || again[0].ID != "m2" {
		t.Fatalf("the same process's second claim = %+v, %v; want m2", again, err)
	}
	other, err := b.Claim(ctx, t0.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(other) != 1 || other[0].ID != "m3" {
		t.Fatalf("the other process's claim = %+v, %v; want m3", other, err)
	}
	var lle *store.LeaseLostError
	if err := a.Sent(ctx, first...); !errors.As(err, &lle) || !slices.Equal(slices.Sorted(slices.Values(lle.IDs)), []string{"m2", "m3"}) {
		t.Fatalf("Sent of the first claim = %v, want m2 and m3 lost", err)
	}
	// The holders still hold theirs: their own Sent works, and nothing comes back.
	if err := a.Sent(ctx, again...); err != nil {
		t.Fatalf("Sent by m2's holder: %v", err)
	}
	if err := b.Sent(ctx, other...); err != nil {
		t.Fatalf("Sent by m3's holder: %v", err)
	}
	if left, _ := a.Claim(ctx, t0.Add(time.Hour), time.Minute, 10); len(left) != 0 {
		t.Fatalf("mails came back after all were sent: %+v", left)
	}
}
