package store

import "context"

// ListTicketsPagePlan is ListTicketsPage with a smaller share of candidates per script call,
// so that tests walk through the continuation without 20,000 tickets, and with the plan forced
// ("walk" or "gather"; "" lets the estimate choose), so that both are checked on any data.
func (s *Store) ListTicketsPagePlan(ctx context.Context, q ListQuery, budget int, plan string) (Page, error) {
	return s.listPage(ctx, q, budget, plan)
}
