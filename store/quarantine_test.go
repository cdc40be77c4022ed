package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mailgate/mailgate/store"
)

func quarantined(id, from string, at time.Time, keep time.Duration, noticeCap int) store.Quarantined {
	return store.Quarantined{ID: id, ReceivedAt: at, EnvelopeFrom: from, Reason: "nesting too deep", Size: 3,
		Raw: []byte("raw " + id), Keep: keep, NoticeCap: noticeCap}
}

func notice(id string) []store.Outgoing {
	return []store.Outgoing{{ID: "n-" + id, Kind: "notice", To: "team@example.com", Raw: []byte("notice " + id)}}
}

// A flood of broken mail from one sender notifies the agents at most the hourly cap's number
// of times; every message is still kept.
func TestQuarantineNoticesCappedPerSender(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for i := range 5 {
		id := fmt.Sprintf("q%d", i)
		capped, err := st.Quarantine(ctx, quarantined(id, "flood@spam.example", t0, 0, 2), notice(id))
		if err != nil {
			t.Fatal(err)
		}
		if capped != (i >= 2) {
			t.Fatalf("message %d: capped = %v", i, capped)
		}
	}
	// Another sender is not held back by the first one's flood.
	if capped, err := st.Quarantine(ctx, quarantined("other", "alice@customer.example", t0, 0, 2), notice("other")); err != nil || capped {
		t.Fatalf("other sender: capped %v, %v", capped, err)
	}
	// The next hour starts a new count.
	if capped, _ := st.Quarantine(ctx, quarantined("later", "flood@spam.example", t0.Add(time.Hour), 0, 2), notice("later")); capped {
		t.Fatal("the cap is per hour")
	}
	queued, _ := st.ListOutbox(ctx, false, 100)
	if len(queued) != 4 {
		t.Fatalf("%d notices queued, want 2 (cap) + 1 (other sender) + 1 (next hour)", len(queued))
	}
	if qs, _ := st.ListQuarantine(ctx, 100); len(qs) != 7 {
		t.Fatalf("%d messages kept, want all 7", len(qs))
	}
}

// Quarantined messages expire after storage.keep_quarantine, raw bytes included.
func TestQuarantineExpires(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := store.KeyPrefix(st)
	if _, err := st.Quarantine(ctx, quarantined("old", "a@x", t0, time.Hour, 0), nil); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := st.Client().PTTL(ctx, p+"q:old").Result(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("TTL of a quarantined message = %v, want at most keep_quarantine", ttl)
	}
	q, err := st.QuarantinedMessage(ctx, "old")
	if err != nil || string(q.Raw) != "raw old" || !q.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("show = %+v, %v", q, err)
	}
	// A later quarantine drops index entries older than the retention.
	if _, err := st.Quarantine(ctx, quarantined("new", "a@x", t0.Add(2*time.Hour), time.Hour, 0), nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Client().ZCard(ctx, p+"q:idx").Result(); n != 1 {
		t.Fatalf("index holds %d entries, want the expired one gone", n)
	}
	// keep 0: kept until deleted.
	if _, err := st.Quarantine(ctx, quarantined("kept", "a@x", t0, 0, 0), nil); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := st.Client().PTTL(ctx, p+"q:kept").Result(); ttl != -1 {
		t.Fatalf("TTL with keep 0 = %v, want none", ttl)
	}
	if err := st.DeleteQuarantined(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.QuarantinedMessage(ctx, "kept"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("show after delete: %v", err)
	}
	if err := st.DeleteQuarantined(ctx, "kept"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
