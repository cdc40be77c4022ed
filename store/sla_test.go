package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

func TestSLAIndexes(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	due := func(h int) *time.Time { v := t0.Add(time.Duration(h) * time.Hour); return &v }
	states := []*sla.State{
		{FirstResponseDue: due(3), ResolutionDue: due(8), Breached: []string{}},                               // 30001
		{FirstResponseDue: due(1), ResolutionDue: due(9), Breached: []string{}},                               // 30002
		{ResolutionDue: due(2), Breached: []string{sla.FirstResponse}},                                        // 30003: late, answered
		{Paused: true, Breached: []string{}},                                                                  // 30004: paused
		{FirstResponseDue: due(-1), ResolutionDue: due(4), Breached: []string{sla.FirstResponse}},             // 30005: late
		{Breached: []string{sla.FirstResponse, sla.Resolution}, Stopped: true, FirstResponseAt: due(5).UTC()}, // 30006: resolved
	}
	for i, s := range states {
		c := newCommit(t, st, fmt.Sprint("sla", i), t0)
		c.Ticket.SLA = s
		if _, err := st.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := st.DueBefore(ctx, t0.Add(3*time.Hour), 10)
	if err != nil || !slices.Equal(ids, []int64{30005, 30002, 30003, 30001}) {
		t.Fatalf("due before +3h = %v %v, want nearest first", ids, err)
	}
	if ids, _ := st.DueBefore(ctx, t0.Add(3*time.Hour), 2); !slices.Equal(ids, []int64{30005, 30002}) {
		t.Fatalf("limit 2: %v", ids)
	}
	if ids, _ := st.Breached(ctx, 10); !slices.Equal(ids, []int64{30003, 30005}) {
		t.Fatalf("breached = %v, want the late tickets still open", ids)
	}
	// The scheduler's list leaves out targets whose breach mail went out.
	if ids, _ := st.SLAPending(ctx, sla.FirstResponse, t0.Add(24*time.Hour), 10); !slices.Equal(ids, []int64{30002, 30001}) {
		t.Fatalf("pending first response = %v", ids)
	}
	risk, _ := st.AtRisk(ctx, t0, 2*time.Hour)
	if risk[sla.FirstResponse] != 1 || risk[sla.Resolution] != 1 {
		t.Fatalf("at risk within 2h = %v", risk)
	}
	// Answered and resolved: out of every list.
	tk, _ := st.Ticket(ctx, 30005, false)
	c := &store.Commit{Dedupe: "resolve", Ticket: *tk, PrevStatus: tk.Status, Now: t0}
	c.Ticket.Status = ticket.StatusResolved
	c.Ticket.SLA = &sla.State{Breached: []string{sla.FirstResponse}, Stopped: true}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if ids, _ := st.Breached(ctx, 10); !slices.Equal(ids, []int64{30003}) {
		t.Fatalf("breached after resolution = %v", ids)
	}
	if ids, _ := st.DueBefore(ctx, t0.Add(100*time.Hour), 10); slices.Contains(ids, 30005) {
		t.Fatalf("a resolved ticket is due: %v", ids)
	}
	ts, err := st.Tickets(ctx, []int64{30003, 99999, 30001})
	if err != nil || len(ts) != 2 || ts[0].ID != 30003 || ts[1].ID != 30001 {
		t.Fatalf("Tickets = %v %v", ts, err)
	}
}
