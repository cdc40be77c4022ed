package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/ticket"
)

// The listing indexes are written in batches. A commit used to move a ticket's entries itself:
// for a new ticket eleven commands (seven field sets, the creation and update orders, the
// creation day and month) and the registry, which was a sixth of what Redis spent on the
// message. Now the commit appends one record of the change to idx:pending, in the same atomic
// step, and the records are applied in order, many at once: the tickets of a batch that share
// a status, a queue or a day share one command.
//
// Every reader of the indexes applies what is pending first (a listing answers for every
// message accepted before it), and a process applies a batch in the background after every
// indexBatch commits of its own, so the list stays short on a desk nobody lists.

// indexBatch is how many commits a process makes between two batches it applies, and
// maxApply bounds the records one batch takes.
const (
	indexBatch = 64
	maxApply   = 256
)

func (s *Store) kIndexPending() string { return s.p + "idx:pending" }

// indexChange is one commit's change to a ticket's index entries, as queued in idx:pending.
type indexChange struct {
	ID int64 `json:"id"`
	// V is the ticket's version after the commit: it makes every record unique, which the
	// batch's check of the list relies on.
	V       int64    `json:"v"`
	Old     []string `json:"o,omitempty"` // the field values before, in indexedFields order; nil for a new ticket
	New     []string `json:"n"`
	Created int64    `json:"c"`            // creation time, unix ms
	OldCr   int64    `json:"oc,omitempty"` // creation time before, when it changed
	Updated int64    `json:"u"`
}

// indexOps queues, inside a commit, the record of the index change that takes the ticket from
// before (nil for a new ticket) to after.
func (s *Store) indexOps(t *tx, before *ticket.Ticket, after *ticket.Ticket) {
	ch := indexChange{ID: after.ID, V: after.Version + 1, New: fieldValues(after),
		Created: after.CreatedAt.UnixMilli(), Updated: after.UpdatedAt.UnixMilli()}
	if before != nil {
		ch.Old = fieldValues(before)
		if !before.CreatedAt.Equal(after.CreatedAt) {
			ch.OldCr = before.CreatedAt.UnixMilli()
		}
	}
	b, _ := json.Marshal(ch) // strings and numbers only: it cannot fail
	t.op("RPUSH", []string{s.kIndexPending()}, b)
}

// fieldValues lists t's indexed values in indexedFields order.
func fieldValues(t *ticket.Ticket) []string {
	vals := indexValues(t)
	out := make([]string, len(indexedFields))
	for i, f := range indexedFields {
		out[i] = vals[f]
	}
	return out
}

// committed notes one commit of this process, and starts applying a batch in the background
// every indexBatch of them (one at a time per process).
func (s *Store) committed() {
	if s.commits.Add(1)%indexBatch != 0 || !s.applying.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.applying.Store(false)
		// An error leaves the records pending: the next batch or reader applies them.
		if _, err := s.applyPending(context.Background()); err != nil && s.bgError != nil {
			s.bgError(err)
		}
	}()
}

// flushIndex applies the index changes pending when it is called, for a reader of the
// indexes: the reader answers for every commit made before it began. Changes committed
// meanwhile may wait for the next reader (under a flood of commits the list never empties).
func (s *Store) flushIndex(ctx context.Context) error {
	last, err := s.rdb.LIndex(ctx, s.kIndexPending(), -1).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("apply pending index changes: %w", err)
	}
	// Done once the last of them has left the list, applied here or by another process
	// (records are unique and leave from the head only, in order).
	for {
		if err := ctx.Err(); err != nil {
			return wrapApply(err)
		}
		applied, err := s.applyPending(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(applied, last) {
			return nil
		}
		if len(applied) > 0 {
			continue
		}
		// Nothing applied here: another process took the batch, or took them all.
		if _, err := s.rdb.LPos(ctx, s.kIndexPending(), last, redis.LPosArgs{}).Result(); errors.Is(err, redis.Nil) {
			return nil
		} else if err != nil {
			return wrapApply(err)
		}
	}
}

// discardIndexScript drops the pending index changes up to and including ARGV[1], for a
// rebuild that covers them: in one script, so that a batch applied meanwhile by another
// process does not shift the position.
var discardIndexScript = redis.NewScript(`
local p = redis.call('LPOS', KEYS[1], ARGV[1])
if p then redis.call('LTRIM', KEYS[1], p + 1, -1) end
return 0`)

// discardPending drops the index changes pending now, for Reindex, which rebuilds the indexes
// from tickets that already carry them: applying them first could fail on the very key the
// rebuild is there to repair.
func (s *Store) discardPending(ctx context.Context) error {
	last, err := s.rdb.LIndex(ctx, s.kIndexPending(), -1).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err == nil {
		err = discardIndexScript.Run(ctx, s.rdb, []string{s.kIndexPending()}, last).Err()
	}
	if err != nil {
		return fmt.Errorf("reindex: drop pending index changes: %w", err)
	}
	return nil
}

// applyIndexScript applies one batch of pending index changes if the list still starts with
// it: ARGV[1] the number of records, ARGV[2] and ARGV[3] the first and the last (records are
// unique, taken only from the head and added only at the tail: the two ends identify the
// batch). Then, as in the commit script, commands: name, argument count, arguments.
var applyIndexScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local head = redis.call('LRANGE', KEYS[1], 0, 0)[1]
if head ~= ARGV[2] or redis.call('LINDEX', KEYS[1], n - 1) ~= ARGV[3] then return 0 end
local i = 4
while i <= #ARGV do
  local a, b = i + 2, i + 1 + tonumber(ARGV[i+1])
  redis.call(ARGV[i], unpack(ARGV, a, b))
  i = b + 1
end
-- Last: a command that fails stops the script with what it did so far done, and the batch
-- must then stay to be applied again (each command sets where tickets are: it can repeat).
redis.call('LTRIM', KEYS[1], n, -1)
return n`)

// applyPending applies the batch at the head of idx:pending and returns its records: none
// when none were pending, or when another process took the same batch first.
func (s *Store) applyPending(ctx context.Context) ([]string, error) {
	recs, err := s.rdb.LRange(ctx, s.kIndexPending(), 0, maxApply-1).Result()
	if err != nil || len(recs) == 0 {
		return nil, wrapApply(err)
	}
	t := &tx{keyIdx: map[string]int{}}
	t.key(s.kIndexPending())
	s.mergeChanges(t, recs)
	args := append([]any{len(recs), recs[0], recs[len(recs)-1]}, t.args...)
	var cmd *redis.Cmd
	s.grp.do(ctx, func(p redis.Pipeliner) { cmd = applyIndexScript.EvalSha(ctx, p, t.keys, args...) })
	n, err := cmd.Int()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		n, err = applyIndexScript.Run(ctx, s.rdb, t.keys, args...).Int()
	}
	if err != nil || n == 0 {
		return nil, wrapApply(err)
	}
	return recs, nil
}

func wrapApply(err error) error {
	if err != nil {
		return fmt.Errorf("apply pending index changes: %w", err)
	}
	return nil
}

// membership is where a batch leaves a ticket in one index: in it (with a score, for the
// sorted sets) or out of it.
type membership struct {
	in    bool
	score int64
}

// mergeChanges turns records, in order, into the fewest commands: the last record of a ticket
// decides its place in each index it touches, and all the tickets going into (or out of) one
// index go in one command. A record that cannot be read is skipped: it was written by this
// code, so only a hand-edited list holds one, and it must not block the others.
func (s *Store) mergeChanges(t *tx, recs []string) {
	sets := map[string]map[int64]membership{}
	zsets := map[string]map[int64]membership{}
	var order []string // keys in the order first touched, for a stable command list
	put := func(m map[string]map[int64]membership, k string, id int64, v membership) {
		if m[k] == nil {
			m[k] = map[int64]membership{}
			order = append(order, k)
		}
		m[k][id] = v
	}
	for _, r := range recs {
		var ch indexChange
		if err := json.Unmarshal([]byte(r), &ch); err != nil || len(ch.New) != len(indexedFields) ||
			(ch.Old != nil && len(ch.Old) != len(indexedFields)) {
			continue
		}
		for i, f := range indexedFields {
			nv := ch.New[i]
			if ch.Old != nil {
				ov := ch.Old[i]
				if ov == nv {
					continue
				}
				if f != FieldSensitive || ov != "" {
					put(sets, s.kField(f, ov), ch.ID, membership{})
				}
			}
			if f == FieldSensitive && nv == "" {
				continue
			}
			put(sets, s.kField(f, nv), ch.ID, membership{in: true})
		}
		created := ch.Old == nil || ch.OldCr != 0
		if ch.OldCr != 0 {
			for _, k := range s.kCreatedBuckets(time.UnixMilli(ch.OldCr)) {
				put(zsets, k, ch.ID, membership{})
			}
		}
		if created {
			put(zsets, s.kCreated(), ch.ID, membership{in: true, score: ch.Created})
		}
		for _, k := range s.kCreatedBuckets(time.UnixMilli(ch.Created)) {
			put(zsets, k, ch.ID, membership{in: true, score: ch.Updated})
		}
		put(zsets, s.kUpdated(), ch.ID, membership{in: true, score: ch.Updated})
	}
	// Every key a ticket enters is named in the registry (what reindex clears).
	var registry []any
	for _, k := range order {
		if m, ok := sets[k]; ok {
			var add, rem []any
			for id, v := range m {
				if v.in {
					add = append(add, id)
				} else {
					rem = append(rem, id)
				}
			}
			if len(rem) > 0 {
				t.op("SREM", []string{k}, rem...)
			}
			if len(add) > 0 {
				t.op("SADD", []string{k}, add...)
				registry = append(registry, k)
			}
			continue
		}
		var add, rem []any
		for id, v := range zsets[k] {
			if v.in {
				add = append(add, v.score, id)
			} else {
				rem = append(rem, id)
			}
		}
		if len(rem) > 0 {
			t.op("ZREM", []string{k}, rem...)
		}
		if len(add) > 0 {
			t.op("ZADD", []string{k}, add...)
			if k != s.kCreated() && k != s.kUpdated() {
				registry = append(registry, k)
			}
		}
	}
	if len(registry) > 0 {
		t.op("SADD", []string{s.kIndexKeys()}, registry...)
	}
}
