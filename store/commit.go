package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/ticket"
)

// LookupRequest names what the decision about one message needs to know.
type LookupRequest struct {
	Dedupe string
	TagID  int64
	Refs   []string // In-Reply-To and References, used when there is no tag
	Sender string
	// AllocateID takes a ticket ID in the same round trip, for mail that will most likely
	// open a ticket; if it does not, the ID is a gap.
	AllocateID bool
}

// Lookup is what the store knows about a message before the decision.
type Lookup struct {
	Duplicate  bool
	Tagged     *ticket.Ticket
	Referenced *ticket.Ticket
	// ReferencedByName: Referenced was found through a Message-ID that names its ticket, not
	// through a key we wrote (see threading.Facts).
	ReferencedByName bool
	Account          *Account
	NewID            int64 // with AllocateID
}

// Lookup reads, in one pipeline, the facts the decision needs. A ticket found only through
// References costs a second round trip, and only for mail without a tag.
func (s *Store) Lookup(ctx context.Context, r LookupRequest) (Lookup, error) {
	var out Lookup
	var (
		dup, seq     *redis.IntCmd
		tagged, acct *redis.MapStringStringCmd
		refs         []*redis.StringCmd
	)
	s.grp.do(ctx, func(pipe redis.Pipeliner) {
		dup = pipe.Exists(ctx, s.kDedupe(r.Dedupe))
		if r.TagID > 0 {
			tagged = pipe.HGetAll(ctx, s.kTicket(r.TagID))
		}
		if r.TagID == 0 {
			for _, id := range r.Refs {
				// Reading a reference renews it: a thread in use keeps threading (RefTTL).
				refs = append(refs, pipe.GetEx(ctx, s.kRef(id), RefTTL))
			}
		}
		acct = pipe.HGetAll(ctx, s.kAccount(r.Sender))
		if r.AllocateID {
			seq = pipe.Incr(ctx, s.kSeq())
		}
	})
	// A pipeline's Exec reports only the first failed command: redis.Nil from a missing ref:
	// key would hide a real error of another command (WRONGTYPE on the account, a failed INCR)
	// and turn a 451 into a refusal. Each command is checked, and Nil is accepted only from the
	// GETs.
	must := []redis.Cmder{dup, acct}
	if tagged != nil {
		must = append(must, tagged)
	}
	if seq != nil {
		must = append(must, seq)
	}
	for _, c := range must {
		if err := c.Err(); err != nil {
			return out, fmt.Errorf("lookup: %w", err)
		}
	}
	for _, c := range refs {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return out, fmt.Errorf("lookup reference: %w", err)
		}
	}
	if seq != nil {
		out.NewID = s.idOf(seq.Val())
	}
	out.Duplicate = dup.Val() > 0
	if tagged != nil && len(tagged.Val()) > 0 {
		t, err := decodeTicket(tagged.Val())
		if err != nil {
			return out, err
		}
		out.Tagged = t
	}
	if a := acct.Val(); len(a) > 0 {
		out.Account = decodeAccount(r.Sender, a)
	}
	// The newest reference is the most specific: search from the end. A ref: key (a message we
	// received, a mail sent before our Message-IDs named their ticket) is ours to trust; a
	// Message-ID that names its ticket anyone can write, so only the newest such is tried (one
	// read, however many a message carries) and the caller is told it came by name.
	triedByName := false
	for i := len(refs) - 1; i >= 0; i-- {
		id, err := refs[i].Int64()
		byName := false
		if err != nil {
			n, own := ticket.TicketOfMessageID(r.Refs[i])
			if !own || triedByName {
				continue
			}
			id, byName, triedByName = n, true, true
		}
		t, err := s.Ticket(ctx, id, false)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out.Referenced, out.ReferencedByName = t, byName
		break
	}
	return out, nil
}

func (s *Store) kAutoClose() string { return s.p + "idx:autoclose" }

// ResolvedBefore lists up to n tickets resolved before t and still resolved.
func (s *Store) ResolvedBefore(ctx context.Context, t time.Time, n int64) ([]int64, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.kAutoClose(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(t.UnixMilli(), 10), Count: n}).Result()
	if err != nil {
		return nil, fmt.Errorf("list resolved tickets: %w", err)
	}
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// Outgoing is a rendered mail to queue.
type Outgoing struct {
	ID           string
	Kind         string
	TicketID     int64
	To           string
	EnvelopeFrom string
	Subject      string
	MessageID    string
	Raw          []byte
	// Text is Raw's text/plain part as rendered (not stored with the mail: the commit keeps it
	// as a SentText when asked to).
	Text string
	// Files are the stored files Raw lacks (Commit.Files holds them).
	Files []FileRef
	// CapLimit > 0 applies the hourly per-recipient cap on automatic mail.
	CapLimit int
	// Burst, on a new-ticket notice, gathers it into the recipient's summary past the limit.
	Burst *Burst
}

// Commit is everything one inbound message writes.
type Commit struct {
	Dedupe     string
	New        bool
	Ticket     ticket.Ticket // after the change, with its ID; Version is the one read
	PrevStatus string        // "" for a new ticket
	// PrevClass is the class of PrevStatus ("" for a new ticket); the ticket's class after the
	// change is Ticket.StatusClass. Indexes that follow the life cycle key on classes.
	PrevClass string
	Message   *ticket.Message // nil for a change without inbound mail (auto-close)
	Raw       []byte
	Events    []ticket.Event
	Refs      []string // Message-IDs that thread onto this ticket from now on
	Mails     []Outgoing
	Sent      []SentText // texts of the mails queued, for cutting replies that quote them
	Now       time.Time

	// Files are stored once for the Mails that reference them, kept FileTTL from now.
	Files   []File
	FileTTL time.Duration

	// Before is the ticket as read (nil for a new ticket), for moving its listing index
	// entries; when nil on an existing ticket the commit reads it (one more round trip).
	Before *ticket.Ticket
}

// CommitResult reports the mails the hourly cap held back.
type CommitResult struct {
	Capped []string // IDs of mails not queued
}

// tx builds the argument list of commitScript: a list of Redis commands run in one script.
//
// Large values that may be written whether or not the commit happens (the raw message, the
// texts of the mails queued, stored files) go as plain commands ahead of the script in the
// same pipeline instead (blob): every argument of a script becomes a Lua string, which Redis's
// Lua hashes byte by byte and copies twice, and that was the largest cost of a commit after
// the commands themselves. The script then checks that they are all there, so that the
// commit still has everything or nothing: a blob written by an earlier attempt is the same
// value under the same key, and one a concurrent release removed (a file) fails the commit,
// which is decided again.
type tx struct {
	keys   []string
	keyIdx map[string]int
	args   []any
	pre    [][]any // plain commands sent before the script
	blobs  []string
	// temp are the blobs that belong to this attempt only (the texts under fresh Message-IDs):
	// the script deletes them when it commits nothing.
	temp []string
}

// blob writes key ahead of the script with cmd (its first argument after the key name is the
// value) and has the script require it.
func (t *tx) blob(temp bool, cmd string, key string, args ...any) {
	t.pre = append(t.pre, append([]any{cmd, key}, args...))
	if slices.Contains(t.blobs, key) {
		return
	}
	t.blobs = append(t.blobs, key)
	if temp {
		t.temp = append(t.temp, key)
	}
}

// writePre queues the blob writes. Their replies are not read: the script's check of the
// keys is what decides.
func (t *tx) writePre(ctx context.Context, p redis.Pipeliner) {
	for _, args := range t.pre {
		p.Do(ctx, args...)
	}
}

// header is the script's fixed arguments: the duplicate marker and this attempt's value for
// it, the ticket and its expected version, then the blobs (temporary ones first) by their
// KEYS index. It goes in front of the queued commands, once they are all known.
func (t *tx) header(dedupe, attempt string, ticketKey, expect string) {
	dk, tki := t.key(dedupe), t.key(ticketKey)
	h := make([]any, 0, 7+len(t.blobs)+len(t.args))
	h = append(h, dk, attempt, DedupeTTL.Milliseconds(), tki, expect, len(t.blobs), len(t.temp))
	for _, k := range t.temp {
		h = append(h, t.key(k))
	}
	for _, k := range t.blobs {
		if !slices.Contains(t.temp, k) {
			h = append(h, t.key(k))
		}
	}
	t.args = append(h, t.args...)
}

func (t *tx) key(k string) int {
	if i, ok := t.keyIdx[k]; ok {
		return i
	}
	t.keys = append(t.keys, k)
	t.keyIdx[k] = len(t.keys)
	return len(t.keys)
}

// op queues one command. Its keys are declared in KEYS (so that Redis Cluster routes and checks
// them) and also written in place among its arguments, so that the script hands the command its
// slice of ARGV as it is, without building a table per command.
func (t *tx) op(name string, keys []string, args ...any) {
	t.args = append(t.args, name, len(keys)+len(args))
	for _, k := range keys {
		t.key(k)
		t.args = append(t.args, k)
	}
	t.args = append(t.args, args...)
}

// commitScript sets the duplicate marker (one command: the marker is the check), checks the
// ticket's version and that the blobs written ahead of it are there, then runs the queued
// commands. CAP increments a rate counter and skips the next n commands when over the limit.
var commitScript = redis.NewScript(`
local nb, nt = tonumber(ARGV[6]), tonumber(ARGV[7])
local function drop(marker)
  if marker then redis.call('DEL', KEYS[tonumber(ARGV[1])]) end
  for j = 1, nt do redis.call('DEL', KEYS[tonumber(ARGV[7 + j])]) end
end
local dk = KEYS[tonumber(ARGV[1])]
if not redis.call('SET', dk, ARGV[2], 'NX', 'PX', ARGV[3]) then
  -- The marker holds the attempt that set it, and the mails that attempt held back.
  local mv = redis.call('GET', dk)
  local bar = string.find(mv, '|', 1, true)
  if (bar and string.sub(mv, 1, bar - 1) or mv) == ARGV[2] then
    -- This very attempt, run again: a client resent the pipeline whose reply it lost. The
    -- first run committed, and what this run wrote ahead is the same values under the same
    -- keys: answer as the first run did.
    local out = {'ok'}
    if bar then
      for id in string.gmatch(string.sub(mv, bar + 1), '[^,]+') do out[#out + 1] = id end
    end
    return out
  end
  drop(false)
  return {'dup'}
end
local tk = KEYS[tonumber(ARGV[4])]
local v = redis.call('HGET', tk, 'v')
if (ARGV[5] == '' and v) or (ARGV[5] ~= '' and v ~= ARGV[5]) then
  -- The marker goes with the write it guards: the message is decided again.
  drop(true)
  return {'conflict'}
end
if nb > 0 then
  local ks = {}
  for j = 1, nb do ks[j] = KEYS[tonumber(ARGV[7 + j])] end
  if redis.call('EXISTS', unpack(ks)) ~= nb then
    drop(true)
    return {'missing'}
  end
end
local i = 8 + nb
local skip = 0
local capped = {}
while i <= #ARGV do
  local name = ARGV[i]
  local a = i + 2
  local b = i + 1 + tonumber(ARGV[i+1])
  i = b + 1
  if skip > 0 then
    skip = skip - 1
  elseif name == 'CAP' then
    -- key: counter; args: limit, ttl, skip, mail id
    local c = redis.call('INCR', ARGV[a])
    if c == 1 then redis.call('PEXPIRE', ARGV[a], ARGV[a+2]) end
    if c > tonumber(ARGV[a+1]) then
      skip = tonumber(ARGV[a+3])
      capped[#capped+1] = ARGV[a+4]
    end
  elseif name == 'BURST' then
    -- keys: counter, list, index; args: limit, ttl, skip, ticket, window end, index member
    local c = redis.call('INCR', ARGV[a])
    if c == 1 then redis.call('PEXPIRE', ARGV[a], ARGV[a+4]) end
    if c > tonumber(ARGV[a+3]) then
      redis.call('RPUSH', ARGV[a+1], ARGV[a+6])
      redis.call('ZADD', ARGV[a+2], 'NX', ARGV[a+7], ARGV[a+8])
      skip = tonumber(ARGV[a+5])
    end
  else
    redis.call(name, unpack(ARGV, a, b))
  end
end
if #capped > 0 then
  redis.call('SET', dk, ARGV[2] .. '|' .. table.concat(capped, ','), 'KEEPTTL')
end
return {'ok', unpack(capped)}`)

// orphanRawTTL bounds the life of a raw message written ahead of a commit that never ran (the
// pipeline broke in between) when raw messages are otherwise kept forever.
const orphanRawTTL = time.Hour

// Commit writes c in one atomic step. It returns ErrDuplicate when the marker exists and
// ErrConflict when the ticket changed since it was read.
func (s *Store) Commit(ctx context.Context, c *Commit) (CommitResult, error) {
	id := c.Ticket.ID
	tk := s.kTicket(id)
	before, err := s.before(ctx, c)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit message for ticket %d: %w", id, err)
	}
	t := &tx{keyIdx: map[string]int{}}
	// attempt is this commit's value for the duplicate marker: a pipeline run twice finds
	// its own value there and knows it committed.
	attempt := rand.Text()

	nowMs := c.Now.UnixMilli()
	t.op("HSET", []string{tk}, "meta", encodeTicket(c.Ticket), "v", c.Ticket.Version+1)
	if c.Message != nil {
		m := *c.Message
		// The raw message is kept under a key of this attempt: a message accepted again
		// once its marker has expired (same sender, Message-ID and body, other headers)
		// keeps its own copy, and the first keeps its.
		m.RawKey = c.Dedupe + ":" + attempt
		msgJSON, err := json.Marshal(m)
		if err != nil {
			return CommitResult{}, fmt.Errorf("encode message: %w", err)
		}
		t.op("RPUSH", []string{s.kMsgs(id)}, string(msgJSON))
		// Written ahead with a lifetime, and only once (NX: a resent pipeline leaves it as
		// the first run made it); the script deletes it when it commits nothing, and makes
		// it permanent when raw messages are kept forever. What a pipeline broken between
		// the two leaves expires.
		ttl := orphanRawTTL
		if s.keepRaw > 0 {
			ttl = s.keepRaw
		}
		rk := s.kRaw(m.RawKey)
		t.blob(true, "SET", rk, c.Raw, "PX", ttl.Milliseconds(), "NX")
		if s.keepRaw <= 0 {
			t.op("PERSIST", []string{rk})
		}
	}
	for _, e := range c.Events {
		b, _ := json.Marshal(e)
		t.op("RPUSH", []string{s.kEvents(id)}, string(b))
	}
	// Resolved tickets wait in the auto-close index from the moment they were resolved.
	class, prevClass := commitClasses(c)
	switch {
	case class == ticket.ClassResolved && prevClass != ticket.ClassResolved:
		t.op("ZADD", []string{s.kAutoClose()}, nowMs, id)
	case class != ticket.ClassResolved && prevClass == ticket.ClassResolved:
		t.op("ZREM", []string{s.kAutoClose()}, id)
	}
	s.slaOps(t, c)
	s.indexOps(t, before, &c.Ticket)
	for _, r := range c.Refs {
		t.op("SET", []string{s.kRef(r)}, id, "PX", RefTTL.Milliseconds())
	}
	hour := c.Now.Unix() / 3600
	s.fileOps(t, c.Files, c.FileTTL, c.Mails)
	for _, m := range c.Mails {
		// A Message-ID that names its ticket threads without a key.
		if n, own := ticket.TicketOfMessageID(m.MessageID); m.MessageID != "" && (!own || n != id) {
			t.op("SET", []string{s.kRef(m.MessageID)}, id, "PX", RefTTL.Milliseconds())
		}
		if m.CapLimit > 0 {
			// Over the cap, skip what queues the mail, its burst count included.
			skip := queueOpCount
			if m.Burst != nil {
				skip++
			}
			t.op("CAP", []string{s.kRate(m.To, hour)}, m.CapLimit, (2 * time.Hour).Milliseconds(), skip, m.ID)
		}
		if m.Burst != nil {
			s.burstOp(t, m, c.Now) // skips the queue commands below past the limit
		}
		s.queueOps(t, m, c.Now)
	}
	s.sentOps(t, c.Sent)
	expect := ""
	if !c.New {
		expect = strconv.FormatInt(c.Ticket.Version, 10)
	}
	t.header(s.kDedupe(c.Dedupe), attempt, tk, expect)
	if s.lose != nil {
		t.pre = slices.DeleteFunc(t.pre, func(a []any) bool { return s.lose(a[1].(string)) })
	}
	var res []string
	if s.dur.active() {
		res, err = s.runDurable(ctx, t)
	} else {
		var cmd *redis.Cmd
		s.grp.do(ctx, func(p redis.Pipeliner) {
			t.writePre(ctx, p)
			cmd = commitScript.EvalSha(ctx, p, t.keys, t.args...)
		})
		res, err = cmd.StringSlice()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// Not loaded yet (a new or restarted Redis): Run loads it. The blobs are
			// written already (or the script finds one missing and says so).
			res, err = commitScript.Run(ctx, s.rdb, t.keys, t.args...).StringSlice()
		}
	}
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit message for ticket %d: %w", id, err)
	}
	switch res[0] {
	case "dup":
		return CommitResult{}, ErrDuplicate
	case "conflict":
		return CommitResult{}, ErrConflict
	case "missing":
		// A stored file was released between its write and the script, or a write ahead
		// of the script failed: nothing was committed.
		return CommitResult{}, fmt.Errorf("%w: a value written ahead of the commit is missing", ErrConflict)
	}
	s.committed()
	return CommitResult{Capped: res[1:]}, nil
}
