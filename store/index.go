package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/ticket"
)

// Fields a ticket listing can filter on. Each value of each field has a Redis set of the IDs
// of the tickets that carry it (idx:f:<field>:<value>), kept by the same script that writes the
// ticket, so a listing never reads a ticket to decide whether it matches.
const (
	FieldStatus    = "status"
	FieldQueue     = "queue"
	FieldPriority  = "priority"
	FieldType      = "type"
	FieldCreator   = "creator"
	FieldOrg       = "org"
	FieldAssignee  = "assignee"
	FieldSensitive = "sensitive"
)

// indexedFields is the order in which a ticket's index entries are written.
var indexedFields = []string{FieldStatus, FieldQueue, FieldPriority, FieldType, FieldCreator, FieldOrg, FieldAssignee, FieldSensitive}

// NormalizeValue is the form in which a field's value is indexed and looked up. Status,
// priority and type names compare case-insensitively with spaces, '-' and '_' equivalent
// ("Waiting on customer" = "waiting_on_customer"); addresses, queues and organisations compare
// case-insensitively.
func NormalizeValue(field, v string) string {
	switch field {
	case FieldStatus, FieldPriority, FieldType:
		f := strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ' ' || r == '-' || r == '_' || r == '\t' })
		return strings.Join(f, "_")
	case FieldSensitive:
		if v == "" || v == "false" {
			return ""
		}
		return "true"
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func (s *Store) kField(field, value string) string { return s.p + "idx:f:" + field + ":" + value }
func (s *Store) kCreated() string                  { return s.p + "idx:created" }

// kCreatedDays and kCreatedMonths name the sorted sets of the tickets created on one day or
// in one month (UTC), scored by their last update: a listing by update bounded on creation
// walks the months inside its range and the days at its edges, instead of every ticket.
func (s *Store) kCreatedDay(t time.Time) string {
	return s.p + "idx:cd:" + t.UTC().Format("20060102")
}

func (s *Store) kCreatedMonth(t time.Time) string {
	return s.p + "idx:cm:" + t.UTC().Format("200601")
}

func (s *Store) kCreatedBuckets(t time.Time) []string {
	return []string{s.kCreatedDay(t), s.kCreatedMonth(t)}
}

// kIndexKeys names the set of every field index key ever written, so that a rebuild can drop
// them all without SCAN (which sees one node only on Redis Cluster).
func (s *Store) kIndexKeys() string { return s.p + "idx:keys" }

// indexValues returns the indexed value of each field of t. An empty value is indexed too
// (unassigned tickets have the assignee ""), except for sensitivity, where only sensitive
// tickets are listed.
func indexValues(t *ticket.Ticket) map[string]string {
	return map[string]string{
		FieldStatus:    NormalizeValue(FieldStatus, t.Status),
		FieldQueue:     NormalizeValue(FieldQueue, t.Queue),
		FieldPriority:  NormalizeValue(FieldPriority, t.Priority),
		FieldType:      NormalizeValue(FieldType, t.Type),
		FieldCreator:   NormalizeValue(FieldCreator, t.Creator),
		FieldOrg:       NormalizeValue(FieldOrg, t.Organization),
		FieldAssignee:  NormalizeValue(FieldAssignee, t.Assignee),
		FieldSensitive: NormalizeValue(FieldSensitive, strconv.FormatBool(t.Sensitive)),
	}
}

// Matches reports whether t satisfies every condition of where, as the listing indexes would:
// for listings whose candidates come from elsewhere (the service-level due times).
func Matches(t *ticket.Ticket, where []Match) bool {
	vals := indexValues(t)
	for _, m := range where {
		ok := false
		for _, v := range m.Values {
			if vals[m.Field] == NormalizeValue(m.Field, v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// before is the state a commit replaces, for moving index entries: the caller's when it gave
// one (it read the ticket to decide), else read here. The commit script refuses the write if
// the ticket changed since, so the state read is the one replaced.
func (s *Store) before(ctx context.Context, c *Commit) (*ticket.Ticket, error) {
	if c.New {
		return nil, nil
	}
	if c.Before != nil && c.Before.Version == c.Ticket.Version {
		return c.Before, nil
	}
	t, err := s.Ticket(ctx, c.Ticket.ID, false)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// reindexScript writes the index entries of a batch of tickets, each only if the ticket is
// still at the version they were computed from. KEYS[1] idx:created, KEYS[2] idx:updated,
// KEYS[3] the index key registry, then the tickets' keys, creation buckets and set keys; ARGV
// per ticket: id, version, created ms, updated ms, the index of its ticket key, nb, the
// indexes of its nb creation buckets, n, then the indexes of its n set keys. It returns the
// IDs that changed meanwhile, to be read again.
var reindexScript = redis.NewScript(`
local stale = {}
local i = 1
while i <= #ARGV do
  local id, v, cr, up = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local tk, nb = KEYS[tonumber(ARGV[i+4])], tonumber(ARGV[i+5])
  local buckets = i + 6
  local n = tonumber(ARGV[buckets + nb])
  local sets = buckets + nb + 1
  if redis.call('HGET', tk, 'v') ~= v then
    stale[#stale+1] = id
  else
    for j = sets, sets + n - 1 do
      local k = KEYS[tonumber(ARGV[j])]
      redis.call('SADD', k, id)
      redis.call('SADD', KEYS[3], k)
    end
    for j = buckets, buckets + nb - 1 do
      local k = KEYS[tonumber(ARGV[j])]
      redis.call('ZADD', k, up, id)
      redis.call('SADD', KEYS[3], k)
    end
    redis.call('ZADD', KEYS[1], cr, id)
    redis.call('ZADD', KEYS[2], up, id)
  end
  i = sets + n
end
return stale`)

// Reindex rebuilds the listing indexes from the tickets themselves: after an upgrade from a
// version without them, or if they are ever suspected wrong. The daemon may keep running:
// commits made meanwhile keep their own entries right, and a ticket that changes while it is
// being indexed is read again. Listings made during the rebuild may miss tickets.
func (s *Store) Reindex(ctx context.Context) (int, error) {
	// The changes pending now were committed before the rebuild reads the tickets: it covers
	// them. Those committed during the rebuild stay pending and are applied after it.
	if err := s.discardPending(ctx); err != nil {
		return 0, err
	}
	if err := s.dropFieldIndexes(ctx); err != nil {
		return 0, err
	}
	seq, err := s.rdb.Get(ctx, s.kSeq()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reindex: read the ticket counter: %w", err)
	}
	const batch = 500
	n := 0
	last := s.idOf(seq)
	for from := s.firstID; from <= last; from += batch {
		ids := make([]int64, 0, batch)
		for id := from; id < from+batch && id <= last; id++ {
			ids = append(ids, id)
		}
		for len(ids) > 0 {
			done, stale, err := s.reindexBatch(ctx, ids)
			if err != nil {
				return n, err
			}
			n += done
			ids = stale
		}
	}
	return n, nil
}

// dropFieldIndexes deletes every field index key. A commit that adds to a key between the two
// steps loses that entry until the rebuild that follows writes it again.
func (s *Store) dropFieldIndexes(ctx context.Context) error {
	for {
		ks, err := s.rdb.SPopN(ctx, s.kIndexKeys(), 500).Result()
		if err != nil {
			return fmt.Errorf("reindex: drop old entries: %w", err)
		}
		if len(ks) == 0 {
			return nil
		}
		if err := s.rdb.Del(ctx, ks...).Err(); err != nil {
			return fmt.Errorf("reindex: drop old entries: %w", err)
		}
	}
}

// reindexBatch indexes the tickets ids that exist; it returns how many it indexed and those
// that changed while it worked.
func (s *Store) reindexBatch(ctx context.Context, ids []int64) (int, []int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.kTicket(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, nil, fmt.Errorf("reindex: read tickets: %w", err)
	}
	t := &tx{keyIdx: map[string]int{}}
	t.key(s.kCreated())
	t.key(s.kUpdated())
	t.key(s.kIndexKeys())
	n := 0
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue // a gap in the IDs
		}
		tk, err := decodeTicket(c.Val())
		if err != nil {
			return 0, nil, fmt.Errorf("reindex ticket %d: %w", ids[i], err)
		}
		vals := indexValues(tk)
		var keys []any
		for _, f := range indexedFields {
			if f == FieldSensitive && vals[f] == "" {
				continue
			}
			keys = append(keys, t.key(s.kField(f, vals[f])))
		}
		buckets := s.kCreatedBuckets(tk.CreatedAt)
		t.args = append(t.args, tk.ID, c.Val()["v"], tk.CreatedAt.UnixMilli(), tk.UpdatedAt.UnixMilli(), t.key(s.kTicket(tk.ID)), len(buckets))
		for _, k := range buckets {
			t.args = append(t.args, t.key(k))
		}
		t.args = append(t.args, len(keys))
		t.args = append(t.args, keys...)
		n++
	}
	if n == 0 {
		return 0, nil, nil
	}
	res, err := reindexScript.Run(ctx, s.rdb, t.keys, t.args...).StringSlice()
	if err != nil {
		return 0, nil, fmt.Errorf("reindex: write: %w", err)
	}
	stale := make([]int64, 0, len(res))
	for _, r := range res {
		id, _ := strconv.ParseInt(r, 10, 64)
		stale = append(stale, id)
	}
	return n - len(stale), stale, nil
}
