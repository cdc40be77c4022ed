package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// BenchmarkListFirstPage is the first page (50 tickets) of a listing filtered on one field, on
// a desk of $MAILGATE_BENCH_TICKETS tickets (default 2000, so that the test run stays fast;
// the figure in docs/listing.md is at 200000). The tickets are written through Commit, so the
// indexes are those the daemon keeps.
func BenchmarkListFirstPage(b *testing.B) {
	n := 2000
	if v := os.Getenv("MAILGATE_BENCH_TICKETS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("MAILGATE_BENCH_TICKETS=%q is not a positive number", v)
		}
	}
	st := newStoreB(b)
	start := time.Now()
	seedBench(b, st, n)
	b.Logf("%d tickets written in %v", n, time.Since(start).Round(time.Millisecond))
	end := t0.Add(time.Duration(n) * 3 * time.Minute)
	one := func(f, v string) []store.Match { return []store.Match{{Field: f, Values: []string{v}}} }
	for _, c := range []struct {
		name string
		q    store.ListQuery
	}{
		{"no filter", store.ListQuery{}},
		{"status common", store.ListQuery{Where: one(store.FieldStatus, "closed")}},
		{"status rare", store.ListQuery{Where: one(store.FieldStatus, "new")}},
		{"status class", store.ListQuery{Where: []store.Match{{Field: store.FieldStatus, Values: []string{"waiting_on_customer", "waiting_on_third_party"}}}}},
		{"queue", store.ListQuery{Where: one(store.FieldQueue, "billing@example.com")}},
		{"priority", store.ListQuery{Where: one(store.FieldPriority, "urgent")}},
		{"type", store.ListQuery{Where: one(store.FieldType, "question")}},
		{"creator", store.ListQuery{Where: one(store.FieldCreator, "user7@org7.example")}},
		{"org", store.ListQuery{Where: one(store.FieldOrg, "org7.example")}},
		{"assignee", store.ListQuery{Where: one(store.FieldAssignee, "agent3@example.com")}},
		{"unassigned", store.ListQuery{Where: one(store.FieldAssignee, "")}},
		{"sensitive", store.ListQuery{Where: one(store.FieldSensitive, "true")}},
		{"since last week", store.ListQuery{Since: end.Add(-7 * 24 * time.Hour)}},
		{"until a year ago", store.ListQuery{Until: end.Add(-365 * 24 * time.Hour)}},
		{"status by creation", store.ListQuery{Sort: store.SortCreated, Where: one(store.FieldStatus, "open")}},
		{"priority oldest update first", store.ListQuery{Asc: true, Where: one(store.FieldPriority, "high")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			var got int
			for b.Loop() {
				p, err := st.ListTicketsPage(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				got = len(p.Tickets)
			}
			b.ReportMetric(float64(got), "tickets/page")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}

// seedBench opens n tickets over about n*3 minutes, with a desk's proportions: most tickets
// closed, a few creators per organisation, one in fifty sensitive; a third were changed once
// after they were opened.
func seedBench(b *testing.B, st *store.Store, n int) {
	ctx := context.Background()
	creators := max(n/10, 10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := w; i < n; i += 8 {
				id, err := st.NextID(ctx)
				if err != nil {
					errs <- err
					return
				}
				at := t0.Add(time.Duration(i)*3*time.Minute + time.Duration(r.IntN(60))*time.Second)
				u := r.IntN(creators)
				creator := fmt.Sprintf("user%d@org%d.example", u, u%max(creators/10, 1))
				tk := ticket.Ticket{ID: id, Queue: benchPick(r, []string{"support@example.com", "billing@example.com", "sales@example.com"}, 60, 30, 10),
					Subject: "printer on fire", Status: benchPick(r, []string{"closed", "resolved", "open", "waiting_on_customer", "waiting_on_third_party", "new"}, 70, 10, 8, 6, 3, 3),
					Priority: benchPick(r, []string{"normal", "low", "high", "urgent"}, 60, 20, 15, 5),
					Type:     benchPick(r, []string{"", "incident", "question", "problem"}, 40, 30, 20, 10),
					Creator:  creator, Organization: ticket.Organization(creator), Followers: []string{creator},
					CreatedAt: at, UpdatedAt: at}
				if r.IntN(10) < 7 {
					tk.Assignee = fmt.Sprintf("agent%d@example.com", r.IntN(20))
				}
				if r.IntN(50) == 0 {
					setSensitive(&tk)
				}
				if r.IntN(3) == 0 {
					tk.UpdatedAt = at.Add(time.Duration(r.IntN(30*24)) * time.Hour)
				}
				c := &store.Commit{Dedupe: "bench" + strconv.FormatInt(id, 10), New: true, Ticket: tk, Now: tk.UpdatedAt}
				if _, err := st.Commit(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// benchPick picks one of xs with the given weights (percent).
func benchPick(r *rand.Rand, xs []string, weights ...int) string {
	x := r.IntN(100)
	for i, w := range weights {
		if x < w {
			return xs[i]
		}
		x -= w
	}
	return xs[len(xs)-1]
}
