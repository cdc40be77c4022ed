package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// Files are the stored files to put into Raw before sending; not printed.
	Files []FileRef `json:"-"`
	// Lease is the token of the claim that holds the mail (Claim); not stored in meta.
	Lease string `json:"-"`
}

func (s *Store) kOutbox(id string) string { return s.p + "ob:" + id }
func (s *Store) kDue() string             { return s.p + "ob:due" }
func (s *Store) kAge() string             { return s.p + "ob:age" }
func (s *Store) kDead() string            { return s.p + "ob:dead" }

// ErrLeaseLost means a claimed mail's lease ran out and another process claimed it (or
// sent it and removed it): the late holder must not change it.
var ErrLeaseLost = errors.New("outbound lease lost")

// LeaseLostError names the mails whose lease was lost; errors.Is(err, ErrLeaseLost) holds.
type LeaseLostError struct{ IDs []string }

func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("%s: %s", ErrLeaseLost, strings.Join(e.IDs, ", "))
}

// Is makes errors.Is(err, ErrLeaseLost) true.
func (e *LeaseLostError) Is(target error) bool { return target == ErrLeaseLost }

// claimScript leases due mails: their score moves to the end of the lease, so another
// mailgate process sharing the queue does not take them, and a crashed process's lease
// runs out and the mail is taken again (at least once). Each claimed mail records the claim's
// token: every later change (sent, retry, dead, renewal) is made only by the token's holder,
// so a process whose lease ran out cannot undo what the next holder did. The candidates are
// read first so that the script declares every key it touches (Redis Cluster).
var claimScript = redis.NewScript(`
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local k = KEYS[i - 2]
  local sc = redis.call('ZSCORE', KEYS[1], id)
  if sc and tonumber(sc) <= tonumber(ARGV[1]) then
    if redis.call('EXISTS', k) == 1 then
      redis.call('ZADD', KEYS[1], ARGV[2], id)
      redis.call('HSET', k, 'lease', ARGV[3])
      out[#out + 1] = id
    else
      redis.call('ZREM', KEYS[1], id)
    end
  end
end
return out`)

// Claim leases up to n mails that are due at now for lease.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*OutboxItem, error) {
	cand, err := s.rdb.ZRangeByScore(ctx, s.kDue(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(n)}).Result()
	if err != nil {
		return nil, fmt.Errorf("claim outbound mail: %w", err)
	}
	if len(cand) == 0 {
		return nil, nil
	}
	token := newToken()
	keys := []string{s.kDue()}
	args := []any{now.UnixMilli(), now.Add(lease).UnixMilli(), token}
	for _, id := range cand {
		keys = append(keys, s.kOutbox(id))
		args = append(args, id)
	}
	ids, err := claimScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("claim outbound mail: %w", err)
	}
	items, err := s.items(ctx, ids)
	for _, it := range items {
		it.Lease = token
	}
	return items, err
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Store) items(ctx context.Context, ids []string) ([]*OutboxItem, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.kOutbox(id), "meta", "raw", "files")
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
		err := json.Unmarshal([]byte(m), &it)
		if err != nil {
			return nil, fmt.Errorf("decode outbound mail: %w", err)
		}
		if r, ok := v[1].(string); ok {
			it.Raw = []byte(r)
		}
		if it.Files, err = decodeFileRefs(v[2]); err != nil {
			return nil, err
		}
		out = append(out, &it)
	}
	return out, nil
}

// leasedArgs lists items as keys (their hashes, after fixed) and id/token argument pairs.
func (s *Store) leasedArgs(items []*OutboxItem, fixed []string, first ...any) ([]string, []any) {
	keys := append([]string{}, fixed...)
	args := append([]any{}, first...)
	for _, it := range items {
		keys = append(keys, s.kOutbox(it.ID))
		args = append(args, it.ID, it.Lease)
	}
	return keys, args
}

// sentScript removes delivered mails whose lease is still the caller's; it returns the others.
var sentScript = redis.NewScript(`
local lost = {}
for i = 3, #KEYS do
  local id, tok = ARGV[2 * (i - 2) - 1], ARGV[2 * (i - 2)]
  if redis.call('HGET', KEYS[i], 'lease') == tok then
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('DEL', KEYS[i])
  else
    lost[#lost + 1] = id
  end
end
return lost`)

// Sent removes delivered mails, all in one round trip. Mails whose lease was lost are left
// to their new holder and reported in a *LeaseLostError.
func (s *Store) Sent(ctx context.Context, items ...*OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	keys, args := s.leasedArgs(items, []string{s.kDue(), s.kAge()})
	lost, err := sentScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return fmt.Errorf("mark outbound mail sent: %w", err)
	}
	// The mails are sent: failing to release their files must not make them look unsent (they
	// would go again). The files' TTL removes what is not released here.
	_ = s.releaseFiles(ctx, items, lost)
	if len(lost) > 0 {
		return &LeaseLostError{IDs: lost}
	}
	return nil
}

// renewScript extends the leases still held by the caller; it returns the lost ones.
var renewScript = redis.NewScript(`
local lost = {}
for i = 2, #KEYS do
  local id, tok = ARGV[2 * (i - 1)], ARGV[2 * (i - 1) + 1]
  if redis.call('HGET', KEYS[i], 'lease') == tok then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
  else
    lost[#lost + 1] = id
  end
end
return lost`)

// Renew extends the leases of items to until, so that a slow relay does not let another
// process claim (and send again) mail still being sent. It returns the IDs whose lease was
// already lost.
func (s *Store) Renew(ctx context.Context, items []*OutboxItem, until time.Time) ([]string, error) {
	if len(items) == 0 {
		return nil, nil
	}
	keys, args := s.leasedArgs(items, []string{s.kDue()}, until.UnixMilli())
	lost, err := renewScript.Run(ctx, s.rdb, keys, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("renew outbound leases: %w", err)
	}
	return lost, nil
}

// retryScript records a failed attempt and gives the mail back to the queue, due at next.
var retryScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1`)

// Retry records a failed attempt and when to try again. It returns ErrLeaseLost, changing
// nothing, when the caller's lease ran out meanwhile.
func (s *Store) Retry(ctx context.Context, it *OutboxItem, next time.Time, errText string) error {
	it.Attempts++
	it.NextAttemptAt = next
	it.LastError = errText
	b, _ := json.Marshal(it)
	ok, err := retryScript.Run(ctx, s.rdb, []string{s.kOutbox(it.ID), s.kDue()}, it.Lease, string(b), next.UnixMilli(), it.ID).Int()
	if err != nil {
		return fmt.Errorf("defer outbound mail %s: %w", it.ID, err)
	}
	if ok == 0 {
		return &LeaseLostError{IDs: []string{it.ID}}
	}
	return nil
}

// deadScript moves a mail to the dead letters.
var deadScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('ZREM', KEYS[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
return 1`)

// Dead moves a mail to the dead letters. It returns ErrLeaseLost, changing nothing, when the
// caller's lease ran out meanwhile.
func (s *Store) Dead(ctx context.Context, it *OutboxItem, now time.Time, errText string) error {
	it.Attempts++
	it.LastError = errText
	it.DeadAt = now
	b, _ := json.Marshal(it)
	ok, err := deadScript.Run(ctx, s.rdb, []string{s.kOutbox(it.ID), s.kDue(), s.kAge(), s.kDead()},
		it.Lease, string(b), now.UnixMilli(), it.ID).Int()
	if err != nil {
		return fmt.Errorf("dead-letter outbound mail %s: %w", it.ID, err)
	}
	if ok == 0 {
		return &LeaseLostError{IDs: []string{it.ID}}
	}
	return nil
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

// queueOpCount is how many commands queueOps adds to a commit: a CAP or BURST over its limit
// skips that many.
const queueOpCount = 3

// queueOps queues m inside a commit.
func (s *Store) queueOps(t *tx, m Outgoing, now time.Time) {
	meta := OutboxItem{ID: m.ID, Kind: m.Kind, TicketID: m.TicketID, To: m.To, EnvelopeFrom: m.EnvelopeFrom,
		Subject: m.Subject, CreatedAt: now, NextAttemptAt: now}
	mb, _ := json.Marshal(meta)
	if len(m.Files) > 0 {
		t.op("HSET", []string{s.kOutbox(m.ID)}, "meta", string(mb), "raw", m.Raw, "files", encodeFileRefs(m.Files))
	} else {
		t.op("HSET", []string{s.kOutbox(m.ID)}, "meta", string(mb), "raw", m.Raw)
	}
	t.op("ZADD", []string{s.kDue()}, now.UnixMilli(), m.ID)
	t.op("ZADD", []string{s.kAge()}, now.UnixMilli(), m.ID)
}

// enqueue adds mails to pipe, for writes outside an inbound commit (once-only mails, summaries).
func (s *Store) enqueue(ctx context.Context, pipe redis.Pipeliner, now time.Time, mails []Outgoing) {
	for _, m := range mails {
		meta := OutboxItem{ID: m.ID, Kind: m.Kind, TicketID: m.TicketID, To: m.To, EnvelopeFrom: m.EnvelopeFrom,
			Subject: m.Subject, CreatedAt: now, NextAttemptAt: now}
		mb, _ := json.Marshal(meta)
		if len(m.Files) > 0 {
			// No files are stored here: the worker finds them missing and dead-letters the
			// mail, rather than sending it with empty attachments.
			pipe.HSet(ctx, s.kOutbox(m.ID), "meta", string(mb), "raw", m.Raw, "files", encodeFileRefs(m.Files))
		} else {
			pipe.HSet(ctx, s.kOutbox(m.ID), "meta", string(mb), "raw", m.Raw)
		}
		pipe.ZAdd(ctx, s.kDue(), redis.Z{Score: float64(now.UnixMilli()), Member: m.ID})
		pipe.ZAdd(ctx, s.kAge(), redis.Z{Score: float64(now.UnixMilli()), Member: m.ID})
	}
}
