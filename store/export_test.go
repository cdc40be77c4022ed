package store

import "context"

// KeyPrefix exposes the store's key prefix to the black-box tests that check key lifetimes.
func KeyPrefix(s *Store) string { return s.p }

// ListTicketsPagePlan is ListTicketsPage with a smaller share of candidates per script call,
// so that tests walk through the continuation without 20,000 tickets, and with the plan forced
// ("walk" or "gather"; "" lets the estimate choose), so that both are checked on any data.
func (s *Store) ListTicketsPagePlan(ctx context.Context, q ListQuery, budget int, plan string) (Page, error) {
	return s.listPage(ctx, q, budget, plan)
}
