package store

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// KeyPrefix exposes the store's key prefix to the black-box tests that check key lifetimes.
func KeyPrefix(s *Store) string { return s.p }

// ListTicketsPagePlan is ListTicketsPage with a smaller share of candidates per script call,
// so that tests walk through the continuation without 20,000 tickets, and with the plan forced
// ("walk" or "gather"; "" lets the estimate choose), so that both are checked on any data.
func (s *Store) ListTicketsPagePlan(ctx context.Context, q ListQuery, budget int, plan string) (Page, error) {
	return s.listPage(ctx, q, budget, plan)
}

// Group exposes the group commit to the black-box tests.
type Group = group

// MaxGroup is maxGroup.
const MaxGroup = maxGroup

// NewGroup returns an idle group on rdb.
func NewGroup(rdb redis.UniversalClient) *Group { return &group{rdb: rdb} }

// Do is do.
func (g *group) Do(ctx context.Context, fill func(redis.Pipeliner)) { g.do(ctx, fill) }

// State reports whether a leader is sending and how many callers wait.
func (g *group) State() (busy bool, queued int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy, len(g.queue)
}

// LoseWritesAhead makes the store drop the writes ahead of its commit scripts whose key
// contains part.
func LoseWritesAhead(s *Store, part string) {
	s.lose = func(key string) bool { return strings.Contains(key, part) }
}

// IndexBatch is indexBatch.
const IndexBatch = indexBatch
