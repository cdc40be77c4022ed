package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/store"
)

// Mail queued by a release before the stream (a hash ob:<id>, due in ob:due, aged in ob:age)
// is moved into the stream by the first claims and sent; one still leased by an older process
// (scored past now) waits for its lease to end.
func TestMailQueuedByAnOlderReleaseIsMoved(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := store.KeyPrefix(st)
	rdb := st.Client()
	legacy := func(id string, due time.Time) {
		meta, _ := json.Marshal(store.OutboxItem{ID: id, Kind: "ack", TicketID: 30001, To: "alice@customer.example",
			EnvelopeFrom: "support@example.com", CreatedAt: t0, NextAttemptAt: t0})
		if err := rdb.HSet(ctx, p+"ob:"+id, "meta", string(meta), "raw", "mail "+id).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.ZAdd(ctx, p+"ob:due", redis.Z{Score: float64(due.UnixMilli()), Member: id})
		rdb.ZAdd(ctx, p+"ob:age", redis.Z{Score: float64(t0.UnixMilli()), Member: id})
	}
	now := t0.Add(time.Hour)
	legacy("old1", t0)
	legacy("leased", now.Add(time.Minute))

	got, err := st.Claim(ctx, now, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != "old1" || string(got[0].Raw) != "mail old1" {
		t.Fatalf("first claim after the upgrade: %+v, %v", got, err)
	}
	if n, _ := rdb.Exists(ctx, p+"ob:old1").Result(); n != 0 {
		t.Fatal("the moved mail's old hash is still there")
	}
	if err := st.Sent(ctx, got...); err != nil {
		t.Fatal(err)
	}
	got, err = st.Claim(ctx, now.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != "leased" {
		t.Fatalf("claim once the older process's lease ended: %+v, %v", got, err)
	}
	if n, _ := rdb.Exists(ctx, p+"ob:due", p+"ob:age").Result(); n != 0 {
		t.Fatalf("%d of the old queue's sorted sets left", n)
	}
}
