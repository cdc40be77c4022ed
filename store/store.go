// Package store keeps tickets, messages, accounts, the outbound queue and the quarantine in
// Redis. Every inbound message is written by one Lua script call: the message, the ticket
// change, the duplicate marker and the mails it causes land together or not at all.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/ticket"
)

var (
	// ErrNotFound is returned for a ticket, account or outbound mail that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means the duplicate marker was already there (inbound rule 6).
	ErrDuplicate = errors.New("duplicate message")
	// ErrConflict means the ticket changed since it was read; decide again.
	ErrConflict = errors.New("ticket changed concurrently")
)

// DedupeTTL is how long a duplicate marker lives: longer than any MTA keeps retrying (Postfix
// maximal_queue_lifetime defaults to 5 days).
const DedupeTTL = 14 * 24 * time.Hour

// RefTTL is how long a Message-ID keeps threading a reply that lost its tag onto its ticket
// (ref: keys, one per inbound message and per mail sent). Each use renews it, and every new
// message of a thread writes fresh ones, so only threads silent this long lose it; a reply
// to them still threads by the tag in its subject, the primary way.
const RefTTL = 180 * 24 * time.Hour

// Store is mailgate's Redis store. Its methods are safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	p       string
	firstID int64
	keepRaw time.Duration
	dur     Durability
	grp     *group
	// consumer names this Store in the outbound queue's consumer group; lastClean is when it
	// last looked for abandoned consumers (unix ms).
	consumer  string
	lastClean atomic.Int64
	// legacyDone: no mail of an older release's queue is left to move into the stream.
	legacyDone atomic.Bool
	// commits counts this process's commits; applying is set while it applies a batch of
	// index changes in the background (indexq.go).
	commits  atomic.Int64
	applying atomic.Bool
	bgError  func(error)
	// lose, in tests, drops the writes ahead of a commit script whose key it matches: what a
	// release racing a commit, or a failed write, leaves the script to find.
	lose func(key string) bool
}

// Options configures a Store.
type Options struct {
	KeyPrefix string
	FirstID   int64
	// KeepRaw bounds how long raw messages are kept; 0 keeps them.
	KeepRaw time.Duration
	// Durability adds WAIT/WAITAOF to every commit.
	Durability Durability
	// BackgroundError, when set, is told of failures of the store's own background work
	// (applying listing-index changes), which is retried.
	BackgroundError func(error)
}

// New returns a store on rdb.
func New(rdb redis.UniversalClient, o Options) *Store {
	if o.FirstID < 1 {
		o.FirstID = 1
	}
	return &Store{rdb: rdb, p: HashTagged(o.KeyPrefix), firstID: o.FirstID, keepRaw: o.KeepRaw, dur: o.Durability, grp: &group{rdb: rdb}, consumer: newConsumer(),
		bgError: o.BackgroundError}
}

// HashTagged makes every key of the store share one Redis Cluster hash slot, by putting the
// prefix in braces unless it already holds a hash tag: the commit script touches the ticket,
// the indexes, the duplicate marker and the outbound queue at once, and a script's keys must
// all live in one slot. On one server or Sentinel this changes nothing but the key names.
func HashTagged(prefix string) string {
	if i := strings.IndexByte(prefix, '{'); i >= 0 && strings.IndexByte(prefix[i:], '}') > 1 {
		return prefix
	}
	return "{" + prefix + "}"
}

// Client is the underlying Redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

func (s *Store) kTicket(id int64) string  { return s.p + "t:" + strconv.FormatInt(id, 10) }
func (s *Store) kMsgs(id int64) string    { return s.kTicket(id) + ":msgs" }
func (s *Store) kEvents(id int64) string  { return s.kTicket(id) + ":events" }
func (s *Store) kDedupe(d string) string  { return s.p + "dedupe:" + d }
func (s *Store) kRaw(d string) string     { return s.p + "raw:" + d }
func (s *Store) kRef(msgid string) string { return s.p + "ref:" + msgid }
func (s *Store) kAccount(a string) string { return s.p + "acct:" + a }
func (s *Store) kRate(a string, hour int64) string {
	return s.p + "rate:" + a + ":" + strconv.FormatInt(hour, 10)
}

func (s *Store) kSeq() string      { return s.p + "seq" }
func (s *Store) kUpdated() string  { return s.p + "idx:updated" }
func (s *Store) kAccounts() string { return s.p + "accts" }

// NextID allocates a ticket ID from the one atomic counter, which counts IDs issued: the n-th
// is first_id+n-1. A retried or abandoned allocation leaves a gap; gaps are accepted
// (go-redis may retry INCR).
func (s *Store) NextID(ctx context.Context) (int64, error) {
	n, err := s.rdb.Incr(ctx, s.kSeq()).Result()
	if err != nil {
		return 0, fmt.Errorf("allocate ticket id: %w", err)
	}
	return s.idOf(n), nil
}

func (s *Store) idOf(n int64) int64 { return s.firstID - 1 + n }

// encodeTicket stores a ticket without its messages and events, which have keys of their own.
func encodeTicket(t ticket.Ticket) string {
	t.Messages, t.Events = nil, nil
	b, _ := json.Marshal(t)
	return string(b)
}

func decodeTicket(v map[string]string) (*ticket.Ticket, error) {
	var t ticket.Ticket
	if err := json.Unmarshal([]byte(v["meta"]), &t); err != nil {
		return nil, fmt.Errorf("decode ticket: %w", err)
	}
	t.Version, _ = strconv.ParseInt(v["v"], 10, 64)
	t.Tag = ticket.Tag(t.ID)
	if t.Followers == nil {
		t.Followers = []string{}
	}
	if t.Fields == nil {
		t.Fields = map[string]string{}
	}
	return &t, nil
}

// Ticket returns ticket id; with messages it also reads its messages and events.
func (s *Store) Ticket(ctx context.Context, id int64, messages bool) (*ticket.Ticket, error) {
	pipe := s.rdb.Pipeline()
	h := pipe.HGetAll(ctx, s.kTicket(id))
	var msgs, evs *redis.StringSliceCmd
	if messages {
		msgs = pipe.LRange(ctx, s.kMsgs(id), 0, -1)
		evs = pipe.LRange(ctx, s.kEvents(id), 0, -1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read ticket %d: %w", id, err)
	}
	if len(h.Val()) == 0 {
		return nil, fmt.Errorf("ticket %d: %w", id, ErrNotFound)
	}
	t, err := decodeTicket(h.Val())
	if err != nil {
		return nil, err
	}
	if messages {
		t.Messages = []ticket.Message{}
		for _, raw := range msgs.Val() {
			var m ticket.Message
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return nil, fmt.Errorf("decode message of ticket %d: %w", id, err)
			}
			t.Messages = append(t.Messages, m)
		}
		for _, raw := range evs.Val() {
			var e ticket.Event
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				return nil, fmt.Errorf("decode event of ticket %d: %w", id, err)
			}
			t.Events = append(t.Events, e)
		}
	}
	return t, nil
}

// ListTickets returns tickets newest update first, from the indexes (never SCAN); status ""
// is every status.
func (s *Store) ListTickets(ctx context.Context, status string, offset, limit int64) ([]*ticket.Ticket, error) {
	if status != "" {
		return s.listStatus(ctx, status, offset, limit)
	}
	if err := s.flushIndex(ctx); err != nil {
		return nil, err
	}
	ids, err := s.rdb.ZRevRange(ctx, s.kUpdated(), offset, offset+limit-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	nums := make([]int64, len(ids))
	for i, id := range ids {
		nums[i], _ = strconv.ParseInt(id, 10, 64)
	}
	ts, err := s.Tickets(ctx, nums)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return ts, nil
}

// listStatus is ListTickets of one status, through the listing's status index.
func (s *Store) listStatus(ctx context.Context, status string, offset, limit int64) ([]*ticket.Ticket, error) {
	q := ListQuery{Where: []Match{{Field: FieldStatus, Values: []string{status}}}, Limit: int(min(offset+limit, 1000))}
	out := []*ticket.Ticket{}
	for int64(len(out)) < offset+limit {
		p, err := s.ListTicketsPage(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Tickets...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if int64(len(out)) <= offset {
		return []*ticket.Ticket{}, nil
	}
	return out[offset:min(int64(len(out)), offset+limit)], nil
}

// Raw returns a stored raw message by its key (from ticket.Message.RawKey).
func (s *Store) Raw(ctx context.Context, key string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.kRaw(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("raw message %s: %w", key, ErrNotFound)
	}
	return b, err
}
