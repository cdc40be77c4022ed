package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mail queued by releases before the stream: a hash ob:<id> (meta, raw, files), due in the
// sorted set ob:due (scored by the next attempt or the end of a lease), aged in ob:age.
func (s *Store) kLegacyDue() string { return s.p + "ob:due" }
func (s *Store) kLegacyAge() string { return s.p + "ob:age" }

// migrateScript moves legacy mails that are due by ARGV[1] into the stream: a mail still
// leased by an older process (scored past now) waits for its lease to end. KEYS: ob:due,
// ob:age, stream, then the mails' hashes; ARGV: now, then the mails' IDs.
var migrateScript = redis.NewScript(`
local moved = 0
for i = 4, #KEYS do
  local id = ARGV[i - 2]
  local sc = redis.call('ZSCORE', KEYS[1], id)
  if sc and tonumber(sc) <= tonumber(ARGV[1]) then
    local v = redis.call('HMGET', KEYS[i], 'meta', 'raw', 'files')
    if v[1] then
      if v[3] then
        redis.call('XADD', KEYS[3], '*', 'meta', v[1], 'raw', v[2] or '', 'files', v[3])
      else
        redis.call('XADD', KEYS[3], '*', 'meta', v[1], 'raw', v[2] or '')
      end
      moved = moved + 1
    end
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  end
end
return moved`)

// migrateLegacy moves mail queued by an older release into the stream, a batch per claim, until
// none is left; then it costs nothing more for the life of the Store.
func (s *Store) migrateLegacy(ctx context.Context, now time.Time) error {
	if s.legacyDone.Load() {
		return nil
	}
	ids, err := s.rdb.ZRangeByScore(ctx, s.kLegacyDue(), &redis.ZRangeBy{Min: "-inf",
		Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 500}).Result()
	if err != nil {
		return fmt.Errorf("move mail queued by an older release: %w", err)
	}
	if len(ids) == 0 {
		n, err := s.rdb.Exists(ctx, s.kLegacyDue()).Result()
		if err == nil && n == 0 {
			s.legacyDone.Store(true)
		}
		return nil
	}
	keys := []string{s.kLegacyDue(), s.kLegacyAge(), s.kQueue()}
	args := []any{now.UnixMilli()}
	for _, id := range ids {
		keys = append(keys, s.kOutbox(id))
		args = append(args, id)
	}
	if err := migrateScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("move mail queued by an older release: %w", err)
	}
	return nil
}

// kindCorrupt is the kind of a dead letter made of a queue entry that is not a mail.
const kindCorrupt = "corrupt"

// ErrNotAMail refuses to queue again a dead letter that was never a mail.
var ErrNotAMail = errors.New("is a damaged queue entry, not a mail: it stays a dead letter")

// ErrCorruptEntry means the queue held entries that could not be read as mail: they were moved
// to the dead letters (kind "corrupt", the stream's fields kept), and the rest of the claim
// goes on.
var ErrCorruptEntry = errors.New("undecodable outbound queue entry")

// CorruptEntriesError names the dead letters made of undecodable entries.
type CorruptEntriesError struct{ IDs []string }

func (e *CorruptEntriesError) Error() string {
	return fmt.Sprintf("%s, moved to the dead letters: %s", ErrCorruptEntry, strings.Join(e.IDs, ", "))
}

// Is makes errors.Is(err, ErrCorruptEntry) true.
func (e *CorruptEntriesError) Is(target error) bool { return target == ErrCorruptEntry }

// badEntry is a claimed stream entry that is not a mail.
type badEntry struct {
	entry string
	raw   string
	err   error
}

// corruptScript takes undecodable entries out of the stream into the dead letters. KEYS:
// stream, dead set, then a hash per entry; ARGV: group, now, then entry, dead-letter ID, meta
// and raw per entry.
var corruptScript = redis.NewScript(`
for i = 3, #KEYS do
  local j = 3 + (i - 3) * 4
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[j])
  redis.call('XDEL', KEYS[1], ARGV[j])
  redis.call('HSET', KEYS[i], 'meta', ARGV[j + 2], 'raw', ARGV[j + 3])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[j + 1])
end
return 1`)

// deadLetterBad moves bad entries to the dead letters, where `outbox list --dead` shows them
// with the reason: a queue entry nobody can read must not hold up the mails claimed with it,
// nor vanish without a trace.
func (s *Store) deadLetterBad(ctx context.Context, bad []badEntry, now time.Time) error {
	keys := []string{s.kQueue(), s.kDead()}
	args := []any{queueGroup, now.UnixMilli()}
	ids := make([]string, 0, len(bad))
	for _, b := range bad {
		id := "corrupt-" + b.entry
		meta, _ := json.Marshal(OutboxItem{ID: id, Kind: kindCorrupt, CreatedAt: now, NextAttemptAt: now, DeadAt: now,
			LastError: "the queue entry " + b.entry + " is not a mail: " + b.err.Error()})
		keys = append(keys, s.kOutbox(id))
		args = append(args, b.entry, id, string(meta), b.raw)
		ids = append(ids, id)
	}
	if err := corruptScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("dead-letter undecodable queue entries: %w", err)
	}
	return &CorruptEntriesError{IDs: ids}
}

// fieldString is a stream entry's field as a string ("" when missing).
func fieldString(fields []any, name string) string {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == name {
			v, _ := fields[i+1].(string)
			return v
		}
	}
	return ""
}
