package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/ticket"
)

// Service-level indexes, each a sorted set of ticket IDs:
//   - idx:sla:due:<target>: clocks running toward target, scored by due time (ticket list
//     --due-before, the digest, the at-risk gauge);
//   - idx:sla:pending:<target>: the same, less those whose breach mail went out: what the
//     scheduler reads, so that long-breached open tickets cost it nothing;
//   - idx:sla:breached: tickets that missed a target and are not resolved or closed, scored
//     by when that was first seen.
func (s *Store) kSLADue(target string) string     { return s.p + "idx:sla:due:" + target }
func (s *Store) kSLAPending(target string) string { return s.p + "idx:sla:pending:" + target }
func (s *Store) kSLABreached() string             { return s.p + "idx:sla:breached" }

// slaOps keeps the service-level indexes in step with the ticket, in the commit's one step.
func (s *Store) slaOps(t *tx, c *Commit) {
	st := c.Ticket.SLA
	if st == nil {
		return
	}
	id := c.Ticket.ID
	for _, name := range sla.Names {
		due, ok := st.Due(name)
		if ok {
			t.op("ZADD", []string{s.kSLADue(name)}, due.UnixMilli(), id)
		} else {
			t.op("ZREM", []string{s.kSLADue(name)}, id)
		}
		if ok && !sla.Has(st.Breached, name) {
			t.op("ZADD", []string{s.kSLAPending(name)}, due.UnixMilli(), id)
		} else {
			t.op("ZREM", []string{s.kSLAPending(name)}, id)
		}
	}
	if len(st.Breached) > 0 && !st.Stopped {
		t.op("ZADD", []string{s.kSLABreached()}, "NX", c.Now.UnixMilli(), id)
	} else {
		t.op("ZREM", []string{s.kSLABreached()}, id)
	}
}

func (s *Store) ids(ctx context.Context, key string, max time.Time, n int64) ([]int64, error) {
	by := &redis.ZRangeBy{Min: "-inf", Max: "+inf", Count: n}
	if !max.IsZero() {
		by.Max = strconv.FormatInt(max.UnixMilli(), 10)
	}
	vals, err := s.rdb.ZRangeByScore(ctx, key, by).Result()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	out := make([]int64, 0, len(vals))
	for _, v := range vals {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// SLAPending lists up to n tickets whose target clock runs, with no breach mail sent yet, due
// at or before t: the scheduler's work.
func (s *Store) SLAPending(ctx context.Context, target string, t time.Time, n int64) ([]int64, error) {
	return s.ids(ctx, s.kSLAPending(target), t, n)
}

// DueBefore lists up to n tickets with a running clock due at or before t (first response or
// resolution), nearest due first: `ticket list --due-before T`.
func (s *Store) DueBefore(ctx context.Context, t time.Time, n int64) ([]int64, error) {
	type due struct {
		id int64
		at float64
	}
	var all []due
	seen := map[int64]int{}
	for _, name := range sla.Names {
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.kSLADue(name), &redis.ZRangeBy{Min: "-inf",
			Max: strconv.FormatInt(t.UnixMilli(), 10), Count: n}).Result()
		if err != nil {
			return nil, fmt.Errorf("tickets due before %s: %w", t.Format(time.RFC3339), err)
		}
		for _, z := range zs {
			id, err := strconv.ParseInt(fmt.Sprint(z.Member), 10, 64)
			if err != nil {
				continue
			}
			if i, ok := seen[id]; ok {
				all[i].at = min(all[i].at, z.Score)
				continue
			}
			seen[id] = len(all)
			all = append(all, due{id, z.Score})
		}
	}
	slices.SortStableFunc(all, func(a, b due) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	out := make([]int64, 0, min(int64(len(all)), n))
	for i := 0; i < len(all) && int64(i) < n; i++ {
		out = append(out, all[i].id)
	}
	return out, nil
}

// Breached lists up to n tickets that missed a target and are not resolved or closed, in the
// order they were first seen late: `ticket list --breached`.
func (s *Store) Breached(ctx context.Context, n int64) ([]int64, error) {
	return s.ids(ctx, s.kSLABreached(), time.Time{}, n)
}

// AtRisk counts, per target, the running clocks due within (now, now+warn]: the tickets
// about to breach.
func (s *Store) AtRisk(ctx context.Context, now time.Time, warn time.Duration) (map[string]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := map[string]*redis.IntCmd{}
	for _, name := range sla.Names {
		cmds[name] = pipe.ZCount(ctx, s.kSLADue(name), "("+strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(now.Add(warn).UnixMilli(), 10))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("count tickets at risk: %w", err)
	}
	out := map[string]int64{}
	for name, c := range cmds {
		out[name] = c.Val()
	}
	return out, nil
}

// Tickets reads the tickets ids in one round trip, in the order given, skipping those that no
// longer exist: for the ID lists above.
func (s *Store) Tickets(ctx context.Context, ids []int64) ([]*ticket.Ticket, error) {
	if len(ids) == 0 {
		return []*ticket.Ticket{}, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.kTicket(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	out := make([]*ticket.Ticket, 0, len(ids))
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		t, err := decodeTicket(c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
