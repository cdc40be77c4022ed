package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Quarantined is a message that could not be parsed (SPEC §2): kept raw for an operator.
type Quarantined struct {
	ID           string    `json:"id"`
	ReceivedAt   time.Time `json:"received_at"`
	EnvelopeFrom string    `json:"envelope_from"`
	Reason       string    `json:"reason"`
	Size         int       `json:"size"`
	Raw          []byte    `json:"-"`
}

func (s *Store) kQuarantine(id string) string { return s.p + "q:" + id }
func (s *Store) kQuarantineIdx() string       { return s.p + "q:idx" }

// Quarantine stores q and the mails it causes (agents' notices) in one MULTI/EXEC.
func (s *Store) Quarantine(ctx context.Context, q Quarantined, mails []Outgoing) error {
	meta, _ := json.Marshal(q)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.kQuarantine(q.ID), "meta", string(meta), "raw", q.Raw)
	pipe.ZAdd(ctx, s.kQuarantineIdx(), redis.Z{Score: float64(q.ReceivedAt.UnixMilli()), Member: q.ID})
	s.enqueue(ctx, pipe, q.ReceivedAt, mails)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("quarantine %s: %w", q.ID, err)
	}
	return nil
}

// enqueue adds mails to pipe, for writes outside an inbound commit.
func (s *Store) enqueue(ctx context.Context, pipe redis.Pipeliner, now time.Time, mails []Outgoing) {
	for _, m := range mails {
		meta := OutboxItem{ID: m.ID, Kind: m.Kind, TicketID: m.TicketID, To: m.To, EnvelopeFrom: m.EnvelopeFrom,
			Subject: m.Subject, CreatedAt: now, NextAttemptAt: now}
		mb, _ := json.Marshal(meta)
		pipe.HSet(ctx, s.kOutbox(m.ID), "meta", string(mb), "raw", m.Raw)
		pipe.ZAdd(ctx, s.kDue(), redis.Z{Score: float64(now.UnixMilli()), Member: m.ID})
		pipe.ZAdd(ctx, s.kAge(), redis.Z{Score: float64(now.UnixMilli()), Member: m.ID})
	}
}

// ListQuarantine lists quarantined messages, newest first.
func (s *Store) ListQuarantine(ctx context.Context, limit int64) ([]Quarantined, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.kQuarantineIdx(), 0, limit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	out := make([]Quarantined, 0, len(ids))
	for _, id := range ids {
		m, err := s.rdb.HGet(ctx, s.kQuarantine(id), "meta").Result()
		if err != nil {
			continue
		}
		var q Quarantined
		if json.Unmarshal([]byte(m), &q) == nil {
			out = append(out, q)
		}
	}
	return out, nil
}
