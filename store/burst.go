package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Burst limits new-ticket notices to one address: Limit per Per (fixed windows); past it,
// the ticket is gathered into that window's summary instead of a notice of its own.
type Burst struct {
	Limit int
	Per   time.Duration
}

func (s *Store) kBurstCount(addr string, w int64) string {
	return s.p + "burst:n:" + addr + ":" + strconv.FormatInt(w, 10)
}
func (s *Store) kBurstList(addr string, w int64) string {
	return s.p + "burst:q:" + addr + ":" + strconv.FormatInt(w, 10)
}
func (s *Store) kBurstIdx() string { return s.p + "idx:burst" }

// burstOp counts the notice in its window and, past the limit, lists the ticket for the
// window's summary instead of queuing the notice: in the commit's one step, so no ticket is
// both noticed and summarised, or neither.
func (s *Store) burstOp(t *tx, m Outgoing, now time.Time) {
	per := m.Burst.Per.Milliseconds()
	w := now.UnixMilli() / per
	member := fmt.Sprintf("%d|%d|%s", w, per, m.To)
	t.op("BURST", []string{s.kBurstCount(m.To, w), s.kBurstList(m.To, w), s.kBurstIdx()},
		m.Burst.Limit, 2*per, queueOpCount, m.TicketID, (w+1)*per, member)
}

// BurstBatch is the tickets gathered for one address in one window.
type BurstBatch struct {
	To         string
	Start, End time.Time
	TicketIDs  []int64
	window     int64
	member     string
}

// BurstsDue returns the batches whose window ended at or before now.
func (s *Store) BurstsDue(ctx context.Context, now time.Time) ([]BurstBatch, error) {
	members, err := s.rdb.ZRangeByScore(ctx, s.kBurstIdx(), &redis.ZRangeBy{Min: "-inf",
		Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 1000}).Result()
	if err != nil {
		return nil, fmt.Errorf("read gathered notices: %w", err)
	}
	var out []BurstBatch
	for _, mem := range members {
		parts := strings.SplitN(mem, "|", 3)
		if len(parts) != 3 {
			continue
		}
		w, err1 := strconv.ParseInt(parts[0], 10, 64)
		per, err2 := strconv.ParseInt(parts[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		b := BurstBatch{To: parts[2], Start: time.UnixMilli(w * per).UTC(), End: time.UnixMilli((w + 1) * per).UTC(), window: w, member: mem}
		ids, err := s.rdb.LRange(ctx, s.kBurstList(b.To, w), 0, -1).Result()
		if err != nil {
			return nil, fmt.Errorf("read gathered notices: %w", err)
		}
		for _, id := range ids {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				b.TicketIDs = append(b.TicketIDs, n)
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// TakeBurst queues the summary of b and empties b's list in one transaction, provided the
// list is still exactly what b read: a concurrent taker (another process) or a late notice
// makes it report false, and the batch is read again at the next check.
func (s *Store) TakeBurst(ctx context.Context, b BurstBatch, mails []Outgoing, now time.Time) (bool, error) {
	list := s.kBurstList(b.To, b.window)
	taken := false
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.LLen(ctx, list).Result()
		if err != nil || n != int64(len(b.TicketIDs)) {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, list)
			pipe.ZRem(ctx, s.kBurstIdx(), b.member)
			s.enqueue(ctx, pipe, now, mails)
			return nil
		})
		taken = err == nil
		return err
	}, list)
	if errors.Is(err, redis.TxFailedErr) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("queue the summary for %s: %w", b.To, err)
	}
	return taken, nil
}
