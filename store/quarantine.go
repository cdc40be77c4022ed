package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Quarantined is a message that could not be parsed: kept raw for an operator.
type Quarantined struct {
	ID           string    `json:"id"`
	ReceivedAt   time.Time `json:"received_at"`
	EnvelopeFrom string    `json:"envelope_from"`
	Reason       string    `json:"reason"`
	Size         int       `json:"size"`
	// ExpiresAt is when the message and its raw bytes go (storage.keep_quarantine); zero: kept.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Raw       []byte    `json:"-"`
	// Keep is storage.keep_quarantine at the time of the write (0: kept until deleted).
	Keep time.Duration `json:"-"`
	// NoticeCap is how many quarantines from one envelope sender per hour notify the agents
	// (outbound.max_auto_replies_per_sender_per_hour; 0: no cap).
	NoticeCap int `json:"-"`
}

func (s *Store) kQuarantine(id string) string { return s.p + "q:" + id }
func (s *Store) kQuarantineIdx() string       { return s.p + "q:idx" }

// kQuarantineRate counts one envelope sender's quarantined messages in one hour.
func (s *Store) kQuarantineRate(sender string, hour int64) string {
	if sender == "" {
		sender = "<>"
	}
	return s.p + "qrate:" + sender + ":" + strconv.FormatInt(hour, 10)
}

// quarantineScript keeps the message (expiring with keep), drops index entries of messages
// that have expired, counts the sender's quarantines this hour and queues the agents' notices
// only while that count is within the cap. It returns how many notices it queued.
var quarantineScript = redis.NewScript(`
local keep = tonumber(ARGV[4])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'raw', ARGV[2])
if keep > 0 then
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[3]) - keep))
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
local n = redis.call('INCR', KEYS[3])
if n == 1 then redis.call('PEXPIRE', KEYS[3], 7200000) end
local cap = tonumber(ARGV[6])
if cap > 0 and n > cap then return 0 end
local queued = 0
for j = 7, #ARGV, 2 do
  redis.call('XADD', KEYS[4], '*', 'meta', ARGV[j], 'raw', ARGV[j + 1])
  queued = queued + 1
end
return queued`)

// Quarantine stores q and the mails it causes (agents' notices) in one atomic step. The
// notices are queued only while q's sender is within q.NoticeCap this hour (a flood of broken
// mail from one sender must not flood the agents); capped reports that they were held back.
func (s *Store) Quarantine(ctx context.Context, q Quarantined, mails []Outgoing) (capped bool, err error) {
	if q.Keep > 0 {
		q.ExpiresAt = q.ReceivedAt.Add(q.Keep)
	}
	meta, _ := json.Marshal(q)
	now := q.ReceivedAt.UnixMilli()
	keys := []string{s.kQuarantine(q.ID), s.kQuarantineIdx(), s.kQuarantineRate(q.EnvelopeFrom, q.ReceivedAt.Unix()/3600), s.kQueue()}
	args := []any{string(meta), q.Raw, now, q.Keep.Milliseconds(), q.ID, q.NoticeCap}
	for _, m := range mails {
		mb, _ := json.Marshal(OutboxItem{ID: m.ID, Kind: m.Kind, TicketID: m.TicketID, To: m.To, EnvelopeFrom: m.EnvelopeFrom,
			Subject: m.Subject, CreatedAt: q.ReceivedAt, NextAttemptAt: q.ReceivedAt})
		args = append(args, string(mb), m.Raw)
	}
	n, err := quarantineScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return false, fmt.Errorf("quarantine %s: %w", q.ID, err)
	}
	return len(mails) > 0 && n == 0, nil
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
		if errors.Is(err, redis.Nil) {
			continue // expired (storage.keep_quarantine) or deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		var q Quarantined
		if json.Unmarshal([]byte(m), &q) == nil {
			out = append(out, q)
		}
	}
	return out, nil
}

// QuarantinedMessage returns one quarantined message with its raw bytes.
func (s *Store) QuarantinedMessage(ctx context.Context, id string) (Quarantined, error) {
	v, err := s.rdb.HMGet(ctx, s.kQuarantine(id), "meta", "raw").Result()
	if err != nil {
		return Quarantined{}, fmt.Errorf("read quarantined message %s: %w", id, err)
	}
	m, ok := v[0].(string)
	if !ok {
		return Quarantined{}, fmt.Errorf("quarantined message %s: %w", id, ErrNotFound)
	}
	var q Quarantined
	if err := json.Unmarshal([]byte(m), &q); err != nil {
		return Quarantined{}, fmt.Errorf("decode quarantined message %s: %w", id, err)
	}
	if r, ok := v[1].(string); ok {
		q.Raw = []byte(r)
	}
	return q, nil
}

// DeleteQuarantined removes a quarantined message and its raw bytes.
func (s *Store) DeleteQuarantined(ctx context.Context, id string) error {
	pipe := s.rdb.TxPipeline()
	del := pipe.Del(ctx, s.kQuarantine(id))
	pipe.ZRem(ctx, s.kQuarantineIdx(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("delete quarantined message %s: %w", id, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("quarantined message %s: %w", id, ErrNotFound)
	}
	return nil
}
