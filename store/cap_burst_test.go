package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailgate/mailgate/store"
)

// A customer's new-ticket notice carries both the hourly cap (its author is not an agent) and
// the burst count: over the cap, the mail reported held back is not queued either.
func TestCappedNoticeWithBurstIsNotQueued(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	notice := func(id string) store.Outgoing {
		return store.Outgoing{ID: id, Kind: "notice", To: "team@example.com", Raw: []byte(id),
			CapLimit: 1, Burst: &store.Burst{Limit: 100, Per: time.Hour}}
	}
	if _, err := st.Commit(ctx, newCommit(t, st, "cap1", t0, notice("n1"))); err != nil {
		t.Fatal(err)
	}
	res, err := st.Commit(ctx, newCommit(t, st, "cap2", t0, notice("n2")))
	if err != nil || len(res.Capped) != 1 {
		t.Fatalf("second notice over the cap of 1: %+v, %v", res, err)
	}
	got, err := st.Claim(ctx, t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range got {
		if it.ID == "n2" {
			t.Errorf("mail n2 was reported held back by the cap (Capped=%v) but is queued", res.Capped)
		}
	}
}
