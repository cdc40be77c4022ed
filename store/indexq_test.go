package store_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// indexSnapshot reads every listing index: each registered key and the two orders, as
// "member score" lines (sets without scores), empty keys left out as Redis leaves them out.
func indexSnapshot(t *testing.T, rdb redis.UniversalClient, hp string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.SMembers(ctx, hp+"idx:keys").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, k := range append(keys, hp+"idx:created", hp+"idx:updated") {
		var ms []string
		switch rdb.Type(ctx, k).Val() {
		case "set":
			ms = rdb.SMembers(ctx, k).Val()
		case "zset":
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				ms = append(ms, fmt.Sprintf("%v %v", z.Member, z.Score))
			}
		}
		if len(ms) > 0 {
			slices.Sort(ms)
			out[k] = ms
		}
	}
	return out
}

// indexStore is a store of its own for a test, with its client and its keys' prefix.
func indexStore(t *testing.T) (context.Context, redis.UniversalClient, string, *store.Store) {
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	return context.Background(), rdb, store.HashTagged(p), store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001})
}

// The index changes of many commits, applied in batches while other processes apply them too
// and commits go on, leave exactly the indexes that a rebuild from the tickets writes.
func TestBatchedIndexEqualsRebuilt(t *testing.T) {
	ctx, rdb, hp, st := indexStore(t)
	reader := store.New(rdb, store.Options{KeyPrefix: hp, FirstID: 30001})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := reader.IndexIncomplete(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	})
	d := newDesk(t, st)
	r := rand.New(rand.NewPCG(9, 10))
	seed(d, r, 300)
	// Some tickets move in time (their creation day and month change) twice in a row.
	for id := int64(30001); id < 30011; id++ {
		for _, h := range []int{-500, 2000} {
			d.change(id, t0.Add(3000*time.Hour), false, func(tk *ticket.Ticket) {
				tk.CreatedAt = t0.Add(time.Duration(h) * time.Hour)
			})
		}
	}
	close(stop)
	wg.Wait()
	if _, err := st.IndexIncomplete(ctx); err != nil { // a reader: applies what is left
		t.Fatal(err)
	}
	if n := rdb.LLen(ctx, hp+"idx:pending").Val(); n != 0 {
		t.Fatalf("%d index changes still pending after a reader", n)
	}
	batched := indexSnapshot(t, rdb, hp)
	if _, err := st.Reindex(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt := indexSnapshot(t, rdb, hp)
	if len(rebuilt) < 20 {
		t.Fatalf("the rebuilt indexes hold only %d keys", len(rebuilt))
	}
	for _, k := range slices.Sorted(maps.Keys(rebuilt)) {
		if !slices.Equal(batched[k], rebuilt[k]) {
			t.Errorf("%s:\n batched %v\n rebuilt %v", k, batched[k], rebuilt[k])
		}
	}
	for k := range batched {
		if _, ok := rebuilt[k]; !ok {
			t.Errorf("%s is indexed only by the batches: %v", k, batched[k])
		}
	}
}

// A commit does not write the indexes itself; the first reader applies its change.
func TestIndexChangeAppliedByTheReader(t *testing.T) {
	ctx, rdb, hp, st := indexStore(t)
	d := newDesk(t, st)
	d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	if rdb.Exists(ctx, hp+"idx:f:status:new").Val() != 0 || rdb.LLen(ctx, hp+"idx:pending").Val() != 1 {
		t.Fatal("the commit wrote the index itself")
	}
	pg, err := st.ListTicketsPage(ctx, store.ListQuery{Where: []store.Match{{Field: store.FieldStatus, Values: []string{"new"}}}})
	if err != nil || len(pg.Tickets) != 1 {
		t.Fatalf("listing: %d tickets, %v", len(pg.Tickets), err)
	}
	if rdb.LLen(ctx, hp+"idx:pending").Val() != 0 {
		t.Fatal("the listing left the change pending")
	}
}

// A record that cannot be read (a hand-edited list) is dropped without holding up the others.
func TestUnreadableIndexChangeIsSkipped(t *testing.T) {
	ctx, rdb, hp, st := indexStore(t)
	rdb.RPush(ctx, hp+"idx:pending", "not a record", `{"id":1,"n":["too","short"]}`)
	d := newDesk(t, st)
	id := d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	pg, err := st.ListTicketsPage(ctx, store.ListQuery{})
	if err != nil || len(pg.Tickets) != 1 || pg.Tickets[0].ID != id {
		t.Fatalf("listing: %+v, %v", pg.Tickets, err)
	}
}

// With nobody listing, a process applies the changes itself every batch of its commits.
func TestIndexChangesAppliedWithoutAReader(t *testing.T) {
	ctx, rdb, hp, st := indexStore(t)
	d := newDesk(t, st)
	for range store.IndexBatch {
		d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	}
	poll.Until(t, 10*time.Second, "the batch applied", func() bool {
		return rdb.LLen(ctx, hp+"idx:pending").Val() == 0
	})
	if n := rdb.SCard(ctx, hp+"idx:f:status:new").Val(); n != int64(store.IndexBatch) {
		t.Fatalf("status index holds %d tickets, want %d", n, store.IndexBatch)
	}
}

// A batch that fails part-way (a key of the wrong type, written by hand) stays pending, is
// applied again once the key is fixed, and nothing of it is lost.
func TestFailedIndexBatchStaysPending(t *testing.T) {
	ctx, rdb, hp, st := indexStore(t)
	d := newDesk(t, st)
	d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	rdb.Set(ctx, hp+"idx:f:priority:low", "not a set", 0)
	if _, err := st.ListTicketsPage(ctx, store.ListQuery{}); err == nil {
		t.Fatal("listing over a broken index key succeeded")
	}
	if n := rdb.LLen(ctx, hp+"idx:pending").Val(); n != 1 {
		t.Fatalf("%d changes pending after the failed batch, want 1", n)
	}
	rdb.Del(ctx, hp+"idx:f:priority:low")
	pg, err := st.ListTicketsPage(ctx, store.ListQuery{Where: []store.Match{{Field: store.FieldPriority, Values: []string{"low"}}}})
	if err != nil || len(pg.Tickets) != 1 {
		t.Fatalf("after the fix: %d tickets, %v", len(pg.Tickets), err)
	}
}

// `mailgate ticket reindex` is the repair for indexes suspected wrong: it drops every index
// key and rebuilds from the tickets. A pending batch that fails on a broken index key must not
// stop the rebuild that would drop that key.
func TestReindexRepairsABrokenIndexKeyWithChangesPending(t *testing.T) {
	ctx, rdb, hp, st := indexStore(t)
	d := newDesk(t, st)
	d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	if _, err := st.ListTicketsPage(ctx, store.ListQuery{}); err != nil { // applied: the key is registered
		t.Fatal(err)
	}
	if !rdb.SIsMember(ctx, hp+"idx:keys", hp+"idx:f:priority:low").Val() {
		t.Fatal("the priority index key is not in the registry")
	}
	rdb.Set(ctx, hp+"idx:f:priority:low", "not a set", 0) // broken, by hand or by another program
	d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	if _, err := st.Reindex(ctx); err != nil {
		t.Fatalf("reindex over a broken index key: %v", err)
	}
	pg, err := st.ListTicketsPage(ctx, store.ListQuery{Where: []store.Match{{Field: store.FieldPriority, Values: []string{"low"}}}})
	if err != nil || len(pg.Tickets) != 2 {
		t.Fatalf("after the reindex: %d tickets, %v", len(pg.Tickets), err)
	}
}

// A batch applied in the background that fails is reported (the daemon logs and counts it),
// and stays pending.
func TestFailedBackgroundBatchIsReported(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	hp := store.HashTagged(p)
	var mu sync.Mutex
	var reported []error
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001, BackgroundError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	rdb.Set(ctx, hp+"idx:f:priority:low", "not a set", 0)
	d := newDesk(t, st)
	for range store.IndexBatch {
		d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	}
	poll.Until(t, 10*time.Second, "the failed batch reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reported) > 0
	})
	if n := rdb.LLen(ctx, hp+"idx:pending").Val(); n != int64(store.IndexBatch) {
		t.Fatalf("%d changes pending after the failed batch, want %d", n, store.IndexBatch)
	}
}
