package store

import "context"

// ListTicketsPageBudget is ListTicketsPage with a smaller share of candidates per script call,
// so that tests walk through the continuation without 20,000 tickets.
func (s *Store) ListTicketsPageBudget(ctx context.Context, q ListQuery, budget int) (Page, error) {
	return s.listPage(ctx, q, budget)
}
