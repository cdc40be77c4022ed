package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
