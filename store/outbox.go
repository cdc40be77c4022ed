package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// OutboxItem is a queued or dead mail, as `mailgate outbox list --json` prints it.
type OutboxItem struct {
	ID            string    `json:"id"`
	Kind          string    `json:"kind"`
	TicketID      int64     `json:"ticket"`
	To            string    `json:"to"`
	EnvelopeFrom  string    `json:"envelope_from"`
	Subject       string    `json:"subject"`
	CreatedAt     time.Time `json:"created_at"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	DeadAt        time.Time `json:"dead_at,omitzero"`
	// Raw is the mail itself; not printed.
	Raw []byte `json:"-"`
}

func (s *Store) kOutbox(id string) string { return s.p + "ob:" + id }
func (s *Store) kDue() string             { return s.p + "ob:due" }
func (s *Store) kAge() string             { return s.p + "ob:age" }
func (s *Store) kDead() string            { return s.p + "ob:dead" }

// claimScript leases due mails: their score moves to the end of the lease, so another
// mailgate process sharing the queue does not take them, and a crashed process's lease
// runs out and the mail is taken again (at least once).
var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids`)

// Claim leases up to n mails that are due at now for lease.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*OutboxItem, error) {
	ids, err := claimScript.Run(ctx, s.rdb, []string{s.kDue()}, now.UnixMilli(), now.Add(lease).UnixMilli(), n).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim outbound mail: %w", err)
	}
	return s.items(ctx, ids)
}

func (s *Store) items(ctx context.Context, ids []string) ([]*OutboxItem, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.kOutbox(id), "meta", "raw")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read outbound mail: %w", err)
	}
	out := make([]*OutboxItem, 0, len(ids))
	for _, c := range cmds {
		v := c.Val()
		m, ok := v[0].(string)
		if !ok {
			continue // sent and deleted meanwhile by another process
		}
		var it OutboxItem
		if err := json.Unmarshal([]byte(m), &it); err != nil {
			return nil, fmt.Errorf("decode outbound mail: %w", err)
		}
		if r, ok := v[1].(string); ok {
			it.Raw = []byte(r)
		}
		out = append(out, &it)
	}
	return out, nil
}

// Sent removes delivered mails, all in one round trip.
func (s *Store) Sent(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	keys := make([]string, len(ids))
	for i, id := range ids {
		members[i], keys[i] = id, s.kOutbox(id)
	}
	pipe := s.rdb.TxPipeline()
	pipe.ZRem(ctx, s.kDue(), members...)
	pipe.ZRem(ctx, s.kAge(), members...)
	pipe.Del(ctx, keys...)
	_, err := pipe.Exec(ctx)
	return err
}

// Retry records a failed attempt and when to try again.
func (s *Store) Retry(ctx context.Context, it *OutboxItem, next time.Time, errText string) error {
	it.Attempts++
	it.NextAttemptAt = next
	it.LastError = errText
	b, _ := json.Marshal(it)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.kOutbox(it.ID), "meta", string(b))
	pipe.ZAdd(ctx, s.kDue(), redis.Z{Score: float64(next.UnixMilli()), Member: it.ID})
	_, err := pipe.Exec(ctx)
	return err
}

// Dead moves a mail to the dead letters.
func (s *Store) Dead(ctx context.Context, it *OutboxItem, now time.Time, errText string) error {
	it.Attempts++
	it.LastError = errText
	it.DeadAt = now
	b, _ := json.Marshal(it)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.kOutbox(it.ID), "meta", string(b))
	pipe.ZRem(ctx, s.kDue(), it.ID)
	pipe.ZRem(ctx, s.kAge(), it.ID)
	pipe.ZAdd(ctx, s.kDead(), redis.Z{Score: float64(now.UnixMilli()), Member: it.ID})
	_, err := pipe.Exec(ctx)
	return err
}

// Requeue moves a dead letter back to the queue, due now; its age counts from now.
func (s *Store) Requeue(ctx context.Context, id string, now time.Time) error {
	items, err := s.items(ctx, []string{id})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("outbound mail %s: %w", id, ErrNotFound)
	}
	rank := s.rdb.ZScore(ctx, s.kDead(), id)
	if errors.Is(rank.Err(), redis.Nil) {
		return fmt.Errorf("outbound mail %s is not a dead letter: %w", id, ErrNotFound)
	}
	if rank.Err() != nil {
		return fmt.Errorf("requeue %s: %w", id, rank.Err())
	}
	it := items[0]
	it.CreatedAt, it.NextAttemptAt, it.DeadAt, it.Attempts = now, now, time.Time{}, 0
	b, _ := json.Marshal(it)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.kOutbox(id), "meta", string(b))
	pipe.ZRem(ctx, s.kDead(), id)
	pipe.ZAdd(ctx, s.kDue(), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	pipe.ZAdd(ctx, s.kAge(), redis.Z{Score: float64(now.UnixMilli()), Member: id})
	_, err = pipe.Exec(ctx)
	return err
}

// ListOutbox lists queued mails (dead: dead letters), oldest first.
func (s *Store) ListOutbox(ctx context.Context, dead bool, limit int64) ([]*OutboxItem, error) {
	key := s.kAge()
	if dead {
		key = s.kDead()
	}
	ids, err := s.rdb.ZRange(ctx, key, 0, limit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list outbound mail: %w", err)
	}
	items, err := s.items(ctx, ids)
	for _, it := range items {
		it.Raw = nil
	}
	return items, err
}

// OutboxStats are the queue's gauges.
type OutboxStats struct {
	Depth     int64
	Dead      int64
	OldestAge time.Duration
}

// OutboxStats reads queue depth, dead letters and the age of the oldest queued mail.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (OutboxStats, error) {
	pipe := s.rdb.Pipeline()
	depth := pipe.ZCard(ctx, s.kAge())
	dead := pipe.ZCard(ctx, s.kDead())
	oldest := pipe.ZRangeWithScores(ctx, s.kAge(), 0, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return OutboxStats{}, err
	}
	st := OutboxStats{Depth: depth.Val(), Dead: dead.Val()}
	if o := oldest.Val(); len(o) > 0 {
		st.OldestAge = now.Sub(time.UnixMilli(int64(o[0].Score)))
	}
	return st, nil
}
