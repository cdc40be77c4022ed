package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// The queue is a Redis Stream read through one consumer group: a queued mail is one entry
// carrying everything the worker needs (meta, raw, files), so that claiming it hands over
// the mail itself. A claimed entry stays pending for its holder until Sent (XACK and XDEL),
// Retry or Dead take it out; a holder that stops renewing loses it to the next Claim once
// its lease ran out (XAUTOCLAIM). Mails waiting for a retry leave the stream for a small
// sorted set and hash, and come back as new entries when due. Dead letters are a hash per
// mail and a sorted set, for `outbox list --dead` and `outbox retry`.
func (s *Store) kQueue() string           { return s.p + "ob:queue" }
func (s *Store) kRetry() string           { return s.p + "ob:retry" }
func (s *Store) kWait() string            { return s.p + "ob:wait" }
func (s *Store) kRetried() string         { return s.p + "ob:retried" }
func (s *Store) kOutbox(id string) string { return s.p + "ob:" + id }
func (s *Store) kDead() string            { return s.p + "ob:dead" }

// queueGroup is the consumer group every mailgate process reads the queue through.
const queueGroup = "mailgate"

// newConsumer names a Store (one per process) in the group. A process that stops leaves its
// consumer behind; Claim deletes, now and then, consumers that hold nothing and have been idle
// long.
func newConsumer() string { return "c-" + newToken() }

// clockSlack is how far the caller's clock may be behind Redis's before Claim records the
// caller's time as the start of the lease (XCLAIM TIME): leases run on the caller's clock,
// as Claim's and Renew's arguments say, and the entries that the caller reads are stamped
// with Redis's clock, which is the same one within this slack in production.
const clockSlack = 50 // ms

// heldLua defines the scripts' helpers. held(stream, group, entry, consumer, deliveries):
// whether the entry is still pending for that consumer with that delivery count, that is, no
// other claim took it since (a takeover changes the consumer or counts one more delivery) and
// it is not done. srvnow(): Redis's time in ms. idless(a, b): stream ID a < b. chunks(head,
// ids, tail): runs head..ids..tail 500 IDs at a time (Lua's unpack has a limit).
const heldLua = `
local function held(s, g, e, c, n)
  local p = redis.call('XPENDING', s, g, e, e, 1)
  return p[1] ~= nil and p[1][2] == c and tonumber(p[1][4]) == tonumber(n)
end
local function srvnow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function idless(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local function chunks(head, ids, tail)
  local i = 1
  while i <= #ids do
    local a = {}
    for _, v in ipairs(head) do a[#a + 1] = v end
    for j = i, math.min(i + 499, #ids) do a[#a + 1] = ids[j] end
    for _, v in ipairs(tail) do a[#a + 1] = v end
    redis.call(unpack(a))
    i = i + 500
  end
end
`

// claimScript moves due retries back into the stream and takes over entries whose lease ran
// out. KEYS: stream, retry set, wait hash; ARGV: group, consumer, now, lease, n, clock slack
// (ms). It returns Redis's time (ms), then entry ID, delivery count and fields for each entry
// taken over. New entries are read by the caller (XREADGROUP outside Lua hands the mails over
// once, not through Lua's strings).
var claimScript = redis.NewScript(heldLua + `
local s, g, c = KEYS[1], ARGV[1], ARGV[2]
local now, lease, n, slack = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, n)) do
  local v = redis.call('HMGET', KEYS[3], 'm:' .. id, 'r:' .. id, 'f:' .. id)
  if v[1] then
    if v[3] then
      redis.call('XADD', s, '*', 'meta', v[1], 'raw', v[2] or '', 'files', v[3])
    else
      redis.call('XADD', s, '*', 'meta', v[1], 'raw', v[2] or '')
    end
  end
  redis.call('HDEL', KEYS[3], 'm:' .. id, 'r:' .. id, 'f:' .. id)
  redis.call('ZREM', KEYS[2], id)
end
local srv = srvnow()
local out = {}
-- Takeovers first: they are older mail, and XAUTOCLAIM must not meet this claim's own new
-- entries (read after the script). Idle is measured on Redis's clock from the start of the
-- lease: held for lease by the caller's clock is held for lease + (srv - now) by Redis's. No
-- lease starts after srv (Redis's time when none is given, never later in XCLAIM TIME), so a
-- caller whose clock is more than lease ahead takes every entry (min-idle 0).
local idle = lease + srv - now
if idle < 0 then idle = 0 end
local cursor, rounds = '0-0', 0
while #out < 3 * n and rounds < 4 do
  rounds = rounds + 1
  local a = redis.call('XAUTOCLAIM', s, g, c, idle, cursor, 'COUNT', n - #out / 3)
  for _, e in ipairs(a[2]) do
    if e and e[2] then
      local p = redis.call('XPENDING', s, g, e[1], e[1], 1)
      local cnt = tonumber(p[1][4])
      if now < srv - slack then
        redis.call('XCLAIM', s, g, c, 0, e[1], 'TIME', now, 'RETRYCOUNT', cnt, 'JUSTID')
      end
      out[#out + 1] = e[1]; out[#out + 1] = cnt; out[#out + 1] = e[2]
    end
  end
  cursor = a[1]
  if cursor == '0-0' then break end
end
table.insert(out, 1, srv)
return out`)

// Claim leases up to n queued mails for lease: new ones first, then ones whose holder's
// lease ran out by now (a crashed or stalled process: at least once). Each claimed mail
// records its holder (the consumer and the entry's delivery count): every later change
// (sent, retry, dead, renewal) is made only by the holder, so a process whose lease ran out
// cannot undo what the next holder did.
//
// Entries that are not mail go to the dead letters: Claim then returns the mails it did claim
// together with a *CorruptEntriesError, and the caller sends them.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*OutboxItem, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := s.migrateLegacy(ctx, now); err != nil {
		return nil, err
	}
	var bad []badEntry
	out, err := s.claim(ctx, now, lease, n, &bad)
	if err == nil && len(bad) > 0 {
		err = s.deadLetterBad(ctx, bad, now)
	}
	return out, err
}

func (s *Store) claim(ctx context.Context, now time.Time, lease time.Duration, n int, bad *[]badEntry) ([]*OutboxItem, error) {
	s.cleanConsumers(ctx)
	v, err := s.runQueue(ctx, claimScript, []string{s.kQueue(), s.kRetry(), s.kWait()},
		queueGroup, s.consumer, now.UnixMilli(), lease.Milliseconds(), n, clockSlack)
	if err != nil {
		return nil, fmt.Errorf("claim outbound mail: %w", err)
	}
	res, _ := v.([]any)
	if len(res) == 0 {
		return nil, fmt.Errorf("claim outbound mail: unexpected reply %v", v)
	}
	srv, _ := res[0].(int64)
	res = res[1:]
	out := make([]*OutboxItem, 0, n)
	for i := 0; i+2 < len(res); i += 3 {
		entry, _ := res[i].(string)
		cnt, _ := res[i+1].(int64)
		fields, _ := res[i+2].([]any)
		it, err := decodeEntry(fields)
		if err != nil {
			*bad = append(*bad, badEntry{entry: entry, raw: fieldString(fields, "raw"), err: err})
			continue
		}
		it.Lease = fmt.Sprintf("%s %s %d %d", entry, s.consumer, cnt, lease.Milliseconds())
		out = append(out, it)
	}
	if len(out) >= n {
		return out, nil
	}
	fresh, err := s.readNew(ctx, n-len(out))
	if err != nil {
		return out, fmt.Errorf("claim outbound mail: %w", err)
	}
	if len(fresh) == 0 {
		return out, nil
	}
	ids := make([]any, 0, len(fresh))
	for _, m := range fresh {
		fields := make([]any, 0, 2*len(m.Values))
		for k, v := range m.Values {
			fields = append(fields, k, v)
		}
		it, err := decodeEntry(fields)
		if err != nil {
			*bad = append(*bad, badEntry{entry: m.ID, raw: fieldString(fields, "raw"), err: err})
			continue
		}
		it.Lease = fmt.Sprintf("%s %s %d %d", m.ID, s.consumer, 1, lease.Milliseconds())
		out = append(out, it)
		ids = append(ids, m.ID)
	}
	// The lease starts at the caller's now: the entries just read carry Redis's time.
	if now.UnixMilli() < srv-clockSlack {
		args := append([]any{"XCLAIM", s.kQueue(), queueGroup, s.consumer, 0}, ids...)
		args = append(args, "TIME", now.UnixMilli(), "RETRYCOUNT", 1, "JUSTID")
		if err := s.rdb.Do(ctx, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return out, fmt.Errorf("claim outbound mail: %w", err)
		}
	}
	return out, nil
}

// readNew reads up to n entries no consumer has read yet, for this process's consumer.
func (s *Store) readNew(ctx context.Context, n int) ([]redis.XMessage, error) {
	read := func() ([]redis.XStream, error) {
		return s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: queueGroup, Consumer: s.consumer,
			Streams: []string{s.kQueue(), ">"}, Count: int64(n), Block: -1}).Result()
	}
	st, err := read()
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		if err := s.createGroup(ctx); err != nil {
			return nil, err
		}
		st, err = read()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil || len(st) == 0 {
		return nil, err
	}
	return st[0].Messages, nil
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// decodeEntry reads a stream entry's fields (meta, raw, files) into a mail.
func decodeEntry(fields []any) (*OutboxItem, error) {
	var meta, raw, files any
	for i := 0; i+1 < len(fields); i += 2 {
		switch fields[i] {
		case "meta":
			meta = fields[i+1]
		case "raw":
			raw = fields[i+1]
		case "files":
			files = fields[i+1]
		}
	}
	return decodeMail(meta, raw, files)
}

func decodeMail(meta, raw, files any) (*OutboxItem, error) {
	m, _ := meta.(string)
	var it OutboxItem
	if err := json.Unmarshal([]byte(m), &it); err != nil {
		return nil, fmt.Errorf("decode outbound mail: %w", err)
	}
	if r, ok := raw.(string); ok {
		it.Raw = []byte(r)
	}
	var err error
	if it.Files, err = decodeFileRefs(files); err != nil {
		return nil, err
	}
	return &it, nil
}

// lease is a claimed mail's token: its stream entry, the consumer holding it, the entry's
// delivery count at the claim and the lease's length.
type lease struct {
	entry, consumer string
	count, ms       int64
}

func parseLease(tok string) (lease, bool) {
	f := strings.Fields(tok)
	if len(f) != 4 {
		return lease{}, false
	}
	n, err1 := strconv.ParseInt(f[2], 10, 64)
	ms, err2 := strconv.ParseInt(f[3], 10, 64)
	return lease{f[0], f[1], n, ms}, err1 == nil && err2 == nil
}

// runQueue runs a script that reads the consumer group, creating the group when it is
// missing (a new or flushed Redis) and trying once more.
func (s *Store) runQueue(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	v, err := sc.Run(ctx, s.rdb, keys, args...).Result()
	if err == nil || errors.Is(err, redis.Nil) || !strings.Contains(err.Error(), "NOGROUP") {
		return v, err
	}
	if err := s.createGroup(ctx); err != nil {
		return nil, err
	}
	return sc.Run(ctx, s.rdb, keys, args...).Result()
}

// createGroup creates the consumer group (and the stream), reading from the first entry.
func (s *Store) createGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.kQueue(), queueGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create the outbound queue's consumer group: %w", err)
	}
	return nil
}

// Consumers idle this long that hold nothing are deleted, every consumerCleanEvery.
const (
	consumerIdle       = time.Hour
	consumerCleanEvery = 10 * time.Minute
)

// delConsumerScript deletes a consumer if it still holds nothing (deleting one that holds
// entries would drop them from the group's pending list: they would never go).
var delConsumerScript = redis.NewScript(`
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// cleanConsumers deletes, at most every consumerCleanEvery, the consumers of stopped
// processes: idle for consumerIdle, holding nothing. Failures wait for the next time.
func (s *Store) cleanConsumers(ctx context.Context) {
	last := &s.lastClean
	now := time.Now().UnixMilli()
	prev := last.Load()
	if now-prev < consumerCleanEvery.Milliseconds() || !last.CompareAndSwap(prev, now) {
		return
	}
	_, _ = s.removeIdleConsumers(ctx, consumerIdle)
}

// removeIdleConsumers deletes the group's other consumers that hold nothing and have been idle
// for idle; it returns their names.
func (s *Store) removeIdleConsumers(ctx context.Context, idle time.Duration) ([]string, error) {
	cs, err := s.rdb.XInfoConsumers(ctx, s.kQueue(), queueGroup).Result()
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, c := range cs {
		// miniredis reports an unknown idle time as negative.
		if c.Name != s.consumer && c.Pending == 0 && (c.Idle >= idle || c.Idle < 0) {
			n, err := delConsumerScript.Run(ctx, s.rdb, []string{s.kQueue()}, queueGroup, c.Name).Int()
			if err != nil {
				return gone, err
			}
			if n == 1 {
				gone = append(gone, c.Name)
			}
		}
	}
	return gone, nil
}

// leasedArgs lists items as (entry, consumer, deliveries, lease ms, id) after first; an
// unreadable token is one that matches no entry.
func leasedArgs(items []*OutboxItem, first ...any) []any {
	args := append([]any{}, first...)
	for _, it := range items {
		l, ok := parseLease(it.Lease)
		if !ok {
			l = lease{entry: "0-1", consumer: "", count: -1}
		}
		args = append(args, l.entry, l.consumer, l.count, l.ms, it.ID)
	}
	return args
}

// sentScript acknowledges delivered mails whose lease is still the caller's and returns
// the others. An acknowledged entry is not deleted (XDEL rewrites the entry's node, which
// costs Redis a copy of its pages while a fork writes the AOF or a snapshot): the stream is
// trimmed instead, by whole nodes, up to the first entry still held. KEYS: stream, retried
// set; ARGV: group, then leasedArgs.
var sentScript = redis.NewScript(heldLua + `
local lost, done, ids = {}, {}, {}
-- The mails of one call are normally all held by one consumer, the caller's: one XPENDING of
-- that consumer's entries answers for all of them, where held() costs one per mail. It holds
-- at most a claim's worth; a reply as long as the count asked falls back to held().
local mine
local c = ARGV[3]
for i = 2, #ARGV, 5 do
  if ARGV[i + 1] ~= c then c = nil break end
end
if c and #ARGV > 6 then
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 10000, c)
  if #p < 10000 then
    mine = {}
    for _, e in ipairs(p) do mine[e[1]] = tonumber(e[4]) end
  end
end
for i = 2, #ARGV, 5 do
  local ok
  if mine then
    ok = mine[ARGV[i]] ~= nil and mine[ARGV[i]] == tonumber(ARGV[i + 2])
  else
    ok = held(KEYS[1], ARGV[1], ARGV[i], ARGV[i + 1], ARGV[i + 2])
  end
  if ok then
    done[#done + 1] = ARGV[i]
    ids[#ids + 1] = ARGV[i + 4]
  else
    lost[#lost + 1] = ARGV[i + 4]
  end
end
chunks({'XACK', KEYS[1], ARGV[1]}, done, {})
chunks({'ZREM', KEYS[2]}, ids, {})
if #done > 0 then
  -- Every entry before the first one still held (or, none held, before the last one sent
  -- here) has been read and is done: trim whole nodes up to there.
  local p = redis.call('XPENDING', KEYS[1], ARGV[1])
  local min = p[2]
  if not min then
    min = done[1]
    for _, e in ipairs(done) do
      if idless(min, e) then min = e end
    end
  end
  redis.call('XTRIM', KEYS[1], 'MINID', '~', min)
end
return lost`)

// Sent removes delivered mails, all in one round trip. Mails whose lease was lost are left
// to their new holder and reported in a *LeaseLostError.
func (s *Store) Sent(ctx context.Context, items ...*OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	v, err := s.runQueue(ctx, sentScript, []string{s.kQueue(), s.kRetried()}, leasedArgs(items, queueGroup)...)
	if err != nil {
		return fmt.Errorf("mark outbound mail sent: %w", err)
	}
	lost := stringsOf(v)
	// The mails are sent: failing to release their files must not make them look unsent (they
	// would go again). The files' TTL removes what is not released here.
	_ = s.releaseFiles(ctx, items, lost)
	if len(lost) > 0 {
		return &LeaseLostError{IDs: lost}
	}
	return nil
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// renewScript extends the leases still held by the caller to ARGV[2] (each lease now starts
// at ARGV[2] minus its length; the delivery count stays); it returns the lost ones.
var renewScript = redis.NewScript(heldLua + `
local srv = srvnow()
local lost = {}
for i = 3, #ARGV, 5 do
  local e, c, n = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if held(KEYS[1], ARGV[1], e, c, n) then
    local start = math.min(tonumber(ARGV[2]) - tonumber(ARGV[i + 3]), srv)
    redis.call('XCLAIM', KEYS[1], ARGV[1], c, 0, e, 'TIME', start, 'RETRYCOUNT', n, 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i + 4]
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
	v, err := s.runQueue(ctx, renewScript, []string{s.kQueue()}, leasedArgs(items, queueGroup, until.UnixMilli())...)
	if err != nil {
		return nil, fmt.Errorf("renew outbound leases: %w", err)
	}
	return stringsOf(v), nil
}

// takeLua defines take(stream, group, entry): the entry's raw and files fields, after taking
// it out of the stream.
const takeLua = `
local function take(s, g, e)
  local r = redis.call('XRANGE', s, e, e)
  local raw, files = '', false
  if r[1] then
    local f = r[1][2]
    for j = 1, #f, 2 do
      if f[j] == 'raw' then raw = f[j + 1] elseif f[j] == 'files' then files = f[j + 1] end
    end
  end
  redis.call('XACK', s, g, e)
  redis.call('XDEL', s, e)
  return raw, files
end
`

// retryScript records a failed attempt and moves the mail out of the stream until it is
// due again. KEYS: stream, retry set, wait hash, retried set; ARGV: group, leasedArgs of the
// mail, meta, next attempt, created.
var retryScript = redis.NewScript(heldLua + takeLua + `
if not held(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local id = ARGV[6]
local raw, files = take(KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], 'm:' .. id, ARGV[7], 'r:' .. id, raw)
if files then redis.call('HSET', KEYS[3], 'f:' .. id, files) end
redis.call('ZADD', KEYS[2], ARGV[8], id)
redis.call('ZADD', KEYS[4], ARGV[9], id)
return 1`)

// Retry records a failed attempt and when to try again. It returns ErrLeaseLost, changing
// nothing, when the caller's lease ran out meanwhile.
func (s *Store) Retry(ctx context.Context, it *OutboxItem, next time.Time, errText string) error {
	it.Attempts++
	it.NextAttemptAt = next
	it.LastError = errText
	b, _ := json.Marshal(it)
	args := leasedArgs([]*OutboxItem{it}, queueGroup)
	args = append(args, string(b), next.UnixMilli(), it.CreatedAt.UnixMilli())
	ok, err := s.runQueue(ctx, retryScript, []string{s.kQueue(), s.kRetry(), s.kWait(), s.kRetried()}, args...)
	if err != nil {
		return fmt.Errorf("defer outbound mail %s: %w", it.ID, err)
	}
	if ok != int64(1) {
		return &LeaseLostError{IDs: []string{it.ID}}
	}
	return nil
}

// deadScript moves a mail to the dead letters. KEYS: stream, the mail's hash, dead set,
// retried set; ARGV: group, leasedArgs of the mail, meta, now.
var deadScript = redis.NewScript(heldLua + takeLua + `
if not held(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local id = ARGV[6]
local raw, files = take(KEYS[1], ARGV[1], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'meta', ARGV[7], 'raw', raw)
if files then redis.call('HSET', KEYS[2], 'files', files) end
redis.call('ZADD', KEYS[3], ARGV[8], id)
redis.call('ZREM', KEYS[4], id)
return 1`)

// Dead moves a mail to the dead letters. It returns ErrLeaseLost, changing nothing, when the
// caller's lease ran out meanwhile.
func (s *Store) Dead(ctx context.Context, it *OutboxItem, now time.Time, errText string) error {
	it.Attempts++
	it.LastError = errText
	it.DeadAt = now
	b, _ := json.Marshal(it)
	args := leasedArgs([]*OutboxItem{it}, queueGroup)
	args = append(args, string(b), now.UnixMilli())
	ok, err := s.runQueue(ctx, deadScript, []string{s.kQueue(), s.kOutbox(it.ID), s.kDead(), s.kRetried()}, args...)
	if err != nil {
		return fmt.Errorf("dead-letter outbound mail %s: %w", it.ID, err)
	}
	if ok != int64(1) {
		return &LeaseLostError{IDs: []string{it.ID}}
	}
	return nil
}

// deadItems reads dead letters.
func (s *Store) deadItems(ctx context.Context, ids []string) ([]*OutboxItem, error) {
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
		if _, ok := v[0].(string); !ok {
			continue // requeued meanwhile by another process
		}
		it, err := decodeMail(v[0], v[1], v[2])
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// requeueScript moves a dead letter back into the stream with new meta. KEYS: dead set,
// the mail's hash, stream; ARGV: id, meta.
var requeueScript = redis.NewScript(`
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local v = redis.call('HMGET', KEYS[2], 'raw', 'files')
if v[2] then
  redis.call('XADD', KEYS[3], '*', 'meta', ARGV[2], 'raw', v[1] or '', 'files', v[2])
else
  redis.call('XADD', KEYS[3], '*', 'meta', ARGV[2], 'raw', v[1] or '')
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`)

// Requeue moves a dead letter back to the queue, due now; its age counts from now.
func (s *Store) Requeue(ctx context.Context, id string, now time.Time) error {
	items, err := s.deadItems(ctx, []string{id})
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return fmt.Errorf("outbound mail %s: %w", id, ErrNotFound)
	}
	it := items[0]
	if it.Kind == kindCorrupt {
		return fmt.Errorf("outbound mail %s: %w", id, ErrNotAMail)
	}
	it.CreatedAt, it.NextAttemptAt, it.DeadAt, it.Attempts = now, now, time.Time{}, 0
	b, _ := json.Marshal(it)
	ok, err := requeueScript.Run(ctx, s.rdb, []string{s.kDead(), s.kOutbox(id), s.kQueue()}, id, string(b)).Int()
	if err != nil {
		return fmt.Errorf("requeue %s: %w", id, err)
	}
	if ok == 0 {
		return fmt.Errorf("outbound mail %s is not a dead letter: %w", id, ErrNotFound)
	}
	return nil
}

// ListOutbox lists queued mails, in the stream or waiting for a retry (dead: dead letters),
// oldest first.
func (s *Store) ListOutbox(ctx context.Context, dead bool, limit int64) ([]*OutboxItem, error) {
	if dead {
		ids, err := s.rdb.ZRange(ctx, s.kDead(), 0, limit-1).Result()
		if err != nil {
			return nil, fmt.Errorf("list outbound mail: %w", err)
		}
		items, err := s.deadItems(ctx, ids)
		for _, it := range items {
			it.Raw = nil
		}
		return items, err
	}
	queued, err := s.queuedEntries(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbound mail: %w", err)
	}
	waiting := s.rdb.ZRange(ctx, s.kRetry(), 0, limit-1)
	if err := waiting.Err(); err != nil {
		return nil, fmt.Errorf("list outbound mail: %w", err)
	}
	// Waiting mails first among equals: they were queued before the stream's entries.
	var out []*OutboxItem
	if ids := waiting.Val(); len(ids) > 0 {
		fields := make([]string, len(ids))
		for i, id := range ids {
			fields[i] = "m:" + id
		}
		metas, err := s.rdb.HMGet(ctx, s.kWait(), fields...).Result()
		if err != nil {
			return nil, fmt.Errorf("list outbound mail: %w", err)
		}
		for _, m := range metas {
			if m == nil {
				continue // due and moved back meanwhile
			}
			it, err := decodeMail(m, nil, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, it)
		}
	}
	for _, e := range queued {
		f := make([]any, 0, 2*len(e.Values))
		for k, v := range e.Values {
			if k != "raw" {
				f = append(f, k, v)
			}
		}
		it, err := decodeEntry(f)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	slices.SortStableFunc(out, func(a, b *OutboxItem) int { return a.CreatedAt.Compare(b.CreatedAt) })
	if int64(len(out)) > limit {
		out = out[:limit]
	}
	return out, nil
}

// OutboxStats are the queue's gauges.
type OutboxStats struct {
	Depth     int64
	Dead      int64
	OldestAge time.Duration
}

// OutboxStats reads queue depth (held by a claim, not read yet, or waiting for a retry),
// dead letters and the age of the oldest queued mail: the oldest of the first entry held, the
// first not read yet and the mails that have failed before (a retried mail comes back behind
// newer ones).
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (OutboxStats, error) {
	v, err := s.queueView(ctx)
	if err != nil {
		return OutboxStats{}, err
	}
	pipe := s.rdb.Pipeline()
	waiting := pipe.ZCard(ctx, s.kRetry())
	dead := pipe.ZCard(ctx, s.kDead())
	retried := pipe.ZRangeWithScores(ctx, s.kRetried(), 0, 0)
	var heldFirst *redis.XMessageSliceCmd
	if v.minHeld != "" {
		heldFirst = pipe.XRangeN(ctx, s.kQueue(), v.minHeld, "+", 1)
	}
	unreadFirst := pipe.XRangeN(ctx, s.kQueue(), "("+v.lastRead, "+", 1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return OutboxStats{}, err
	}
	st := OutboxStats{Depth: v.held + v.unread + waiting.Val(), Dead: dead.Val()}
	var oldest time.Time
	firsts := unreadFirst.Val()
	if heldFirst != nil {
		firsts = append(firsts, heldFirst.Val()...)
	}
	for _, f := range firsts {
		if it, err := decodeMail(f.Values["meta"], nil, nil); err == nil && (oldest.IsZero() || it.CreatedAt.Before(oldest)) {
			oldest = it.CreatedAt
		}
	}
	if r := retried.Val(); len(r) > 0 {
		if t := time.UnixMilli(int64(r[0].Score)); oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if !oldest.IsZero() {
		st.OldestAge = now.Sub(oldest)
	}
	return st, nil
}

// queueState is what the consumer group says of the stream: how many entries a claim holds
// (and the first of them), the last entry read, and how many were not read yet. The stream's
// other entries are done (sent, or moved out) and wait to be trimmed.
type queueState struct {
	held, unread int64
	minHeld      string
	lastRead     string
}

func (s *Store) queueView(ctx context.Context) (queueState, error) {
	st := queueState{lastRead: "0-0"}
	pipe := s.rdb.Pipeline()
	groups := pipe.XInfoGroups(ctx, s.kQueue())
	pend := pipe.XPending(ctx, s.kQueue(), queueGroup)
	n := pipe.XLen(ctx, s.kQueue())
	_, _ = pipe.Exec(ctx)
	if err := n.Err(); err != nil {
		return st, fmt.Errorf("read the outbound queue: %w", err)
	}
	if err := groups.Err(); err != nil {
		if strings.Contains(err.Error(), "no such key") || strings.Contains(err.Error(), "ERR no such") {
			return st, nil // no stream yet
		}
		return st, fmt.Errorf("read the outbound queue: %w", err)
	}
	found, known := false, false
	for _, g := range groups.Val() {
		if g.Name == queueGroup {
			found = true
			st.held, st.lastRead = g.Pending, g.LastDeliveredID
			st.unread = g.Lag
			// Redis 7 knows how many entries the group read; miniredis does not say.
			known = g.Lag >= 0 && g.Lag+g.Pending <= n.Val() && (g.EntriesRead > 0 || g.LastDeliveredID == "0-0")
		}
	}
	if !found {
		// No group yet: every entry is unread (the first claim creates the group from the start).
		st.unread = n.Val()
		return st, nil
	}
	if p, err := pend.Result(); err == nil && p.Count > 0 {
		st.minHeld = p.Lower
	}
	if !known {
		// The group cannot tell (entries deleted after the last one read): count them.
		c, err := s.rdb.XRange(ctx, s.kQueue(), "("+st.lastRead, "+").Result()
		if err != nil {
			return st, fmt.Errorf("read the outbound queue: %w", err)
		}
		st.unread = int64(len(c))
	}
	return st, nil
}

// queuedEntries returns up to limit entries still queued in the stream: held by a claim, then
// not read yet.
func (s *Store) queuedEntries(ctx context.Context, limit int64) ([]redis.XMessage, error) {
	v, err := s.queueView(ctx)
	if err != nil {
		return nil, err
	}
	var out []redis.XMessage
	if v.held > 0 {
		pe, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.kQueue(), Group: queueGroup,
			Start: "-", End: "+", Count: limit}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, len(pe))
		for i, p := range pe {
			cmds[i] = pipe.XRangeN(ctx, s.kQueue(), p.ID, p.ID, 1)
		}
		if len(cmds) > 0 {
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return nil, err
			}
		}
		for _, c := range cmds {
			out = append(out, c.Val()...)
		}
	}
	if rest := limit - int64(len(out)); rest > 0 {
		unread, err := s.rdb.XRangeN(ctx, s.kQueue(), "("+v.lastRead, "+", rest).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		out = append(out, unread...)
	}
	return out, nil
}

// queueOpCount is how many commands queueOps adds to a commit: a CAP or BURST over its limit
// skips that many.
const queueOpCount = 1

// outboxMeta is the meta field of a mail queued at now.
func outboxMeta(m Outgoing, now time.Time) string {
	meta := OutboxItem{ID: m.ID, Kind: m.Kind, TicketID: m.TicketID, To: m.To, EnvelopeFrom: m.EnvelopeFrom,
		Subject: m.Subject, CreatedAt: now, NextAttemptAt: now}
	mb, _ := json.Marshal(meta)
	return string(mb)
}

// entryFields are the fields of m's stream entry.
func entryFields(m Outgoing, now time.Time) []any {
	if len(m.Files) > 0 {
		return []any{"meta", outboxMeta(m, now), "raw", m.Raw, "files", encodeFileRefs(m.Files)}
	}
	return []any{"meta", outboxMeta(m, now), "raw", m.Raw}
}

// queueOps queues m inside a commit: one entry in the stream.
func (s *Store) queueOps(t *tx, m Outgoing, now time.Time) {
	t.op("XADD", []string{s.kQueue()}, append([]any{"*"}, entryFields(m, now)...)...)
}

// enqueue adds mails to pipe, for writes outside an inbound commit (once-only mails, summaries).
func (s *Store) enqueue(ctx context.Context, pipe redis.Pipeliner, now time.Time, mails []Outgoing) {
	for _, m := range mails {
		// No files are stored here: a mail that names some finds them missing and is
		// dead-lettered by the worker, rather than sent with empty attachments.
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.kQueue(), Values: entryFields(m, now)})
	}
}
