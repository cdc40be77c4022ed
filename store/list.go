package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/ticket"
)

// Orders of a listing.
const (
	SortUpdated = "updated"
	SortCreated = "created"
)

// DefaultListLimit is the page size when a query names none.
const DefaultListLimit = 50

// ErrBadCursor is returned for a cursor that is damaged or belongs to another listing.
var ErrBadCursor = errors.New("invalid cursor")

// Match keeps the tickets whose Field has any of Values (compared as NormalizeValue does).
type Match struct {
	Field  string
	Values []string
}

// ListQuery selects one page of tickets.
type ListQuery struct {
	Where []Match // all must hold
	// Since and Until bound the creation time: Since included, Until excluded; zero is open.
	Since, Until time.Time
	Sort         string // SortUpdated (default) or SortCreated
	Asc          bool   // oldest first
	Limit        int    // DefaultListLimit when 0
	// Cursor continues the listing that returned it; the other fields must be the same.
	Cursor string
}

// Page is one page of a listing; Next is the cursor of the following page, "" after the last.
type Page struct {
	Tickets []*ticket.Ticket
	Next    string
}

// walkBudget bounds the candidates one script call examines, so that a listing whose filters
// match few of the tickets it walks never holds Redis for long: it continues in further calls.
const walkBudget = 20000

// position is where a walk stands in its index: a score and, for ties, the member.
type position struct {
	score  int64
	member string
}

type cursor struct {
	pos   position
	bound string // upper bound of an ascending walk by update
}

// ListTicketsPage returns the page of tickets q asks for, from the indexes: a filter of one
// field costs the same whatever the number of tickets (see docs/listing.md).
//
// Paging is by position in the chosen order, so a ticket that does not change while the pages
// are read is listed exactly once. One that changes moves: by update, it moves past where the
// listing started and is not listed again (an ascending listing stops at the newest update it
// saw on its first page); by creation, it keeps its place. A ticket is shown as it is when its
// page is read, and left out if it stopped matching the filters meanwhile.
func (s *Store) ListTicketsPage(ctx context.Context, q ListQuery) (Page, error) {
	return s.listPage(ctx, q, walkBudget, "")
}

// listPage is ListTicketsPage with the budget of one script call, and a plan forced by tests.
func (s *Store) listPage(ctx context.Context, q ListQuery, budget int, plan string) (Page, error) {
	q, err := normalizeQuery(q)
	if err != nil {
		return Page{}, err
	}
	if err := s.flushIndex(ctx); err != nil {
		return Page{}, err
	}
	fp := q.fingerprint()
	var cur *cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, fp)
		if err != nil {
			return Page{}, err
		}
		cur = &c
	}
	keys := []string{s.kUpdated(), s.kCreated()}
	if q.Sort == SortCreated {
		keys[0] = s.kCreated()
	}
	walk, err := s.walkKeys(ctx, q)
	if err != nil {
		return Page{}, err
	}
	keys = append(keys, walk...)
	groups := make([]any, 0, len(q.Where))
	for _, m := range q.Where {
		groups = append(groups, len(m.Values))
		for _, v := range m.Values {
			keys = append(keys, s.kField(m.Field, v))
		}
	}
	dir := "desc"
	if q.Asc {
		dir = "asc"
	}
	wantBound := q.Asc && q.Sort == SortUpdated
	var bound string
	if cur != nil {
		bound = cur.bound
	}
	var found []position
	for {
		args := []any{dir, q.Limit + 1 - len(found), budget, "0", "", "", bound, luaBool(wantBound),
			msOrEmpty(q.Since), msOrEmpty(q.Until), luaBool(q.Sort == SortCreated), len(walk), len(groups), plan}
		if cur != nil {
			args[3], args[4], args[5] = "1", strconv.FormatInt(cur.pos.score, 10), cur.pos.member
		}
		args = append(args, groups...)
		res, err := listScript.Run(ctx, s.rdb, keys, args...).StringSlice()
		if err != nil {
			return Page{}, fmt.Errorf("list tickets: %w", err)
		}
		if len(res) < 2 {
			return Page{}, fmt.Errorf("list tickets: short reply %q", res)
		}
		if bound = res[1]; bound != "" {
			bound = strconv.FormatInt(parseScore(bound), 10)
		}
		for i := 4; i+1 < len(res); i += 2 {
			found = append(found, position{member: res[i], score: parseScore(res[i+1])})
		}
		if res[0] != "more" {
			break
		}
		// The call examined its share: continue from the last ticket it examined.
		cur = &cursor{pos: position{score: parseScore(res[2]), member: res[3]}}
	}
	var page Page
	if len(found) > q.Limit {
		found = found[:q.Limit]
		page.Next = encodeCursor(fp, cursor{pos: found[len(found)-1], bound: bound})
	}
	page.Tickets, err = s.readMatching(ctx, q, found)
	return page, err
}

// walkKeys names the sorted sets a walk reads in order: the sort index, or for a listing by
// update bounded on creation, the creation buckets of the range: whole months inside it, days
// at its edges (an open end is the oldest or newest ticket's creation).
func (s *Store) walkKeys(ctx context.Context, q ListQuery) ([]string, error) {
	if q.Sort == SortCreated {
		return []string{s.kCreated()}, nil
	}
	if q.Since.IsZero() && q.Until.IsZero() {
		return []string{s.kUpdated()}, nil
	}
	from, to := q.Since, q.Until.Add(-time.Millisecond)
	if q.Since.IsZero() || q.Until.IsZero() {
		pipe := s.rdb.Pipeline()
		first := pipe.ZRangeWithScores(ctx, s.kCreated(), 0, 0)
		last := pipe.ZRangeWithScores(ctx, s.kCreated(), -1, -1)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		if len(first.Val()) == 0 {
			return nil, nil
		}
		if q.Since.IsZero() {
			from = time.UnixMilli(int64(first.Val()[0].Score))
		}
		if q.Until.IsZero() {
			to = time.UnixMilli(int64(last.Val()[0].Score))
		}
	}
	return s.bucketsBetween(from, to), nil
}

// bucketsBetween covers the days from..to (UTC, both included) with the fewest buckets.
func (s *Store) bucketsBetween(from, to time.Time) []string {
	day := func(t time.Time) time.Time {
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	last := day(to)
	var keys []string
	for d := day(from); !d.After(last); {
		if next := d.AddDate(0, 1, 0); d.Day() == 1 && !next.AddDate(0, 0, -1).After(last) {
			keys = append(keys, s.kCreatedMonth(d))
			d = next
			continue
		}
		keys = append(keys, s.kCreatedDay(d))
		d = d.AddDate(0, 0, 1)
	}
	return keys
}

// readMatching reads the tickets found, in order, leaving out any that changed since the
// script saw them and no longer match.
func (s *Store) readMatching(ctx context.Context, q ListQuery, found []position) ([]*ticket.Ticket, error) {
	out := make([]*ticket.Ticket, 0, len(found))
	if len(found) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(found))
	for i, p := range found {
		id, _ := strconv.ParseInt(p.member, 10, 64)
		cmds[i] = pipe.HGetAll(ctx, s.kTicket(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		t, err := decodeTicket(c.Val())
		if err != nil {
			return nil, err
		}
		if q.matches(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (q ListQuery) matches(t *ticket.Ticket) bool {
	vals := indexValues(t)
	for _, m := range q.Where {
		if !slices.Contains(m.Values, vals[m.Field]) {
			return false
		}
	}
	if !q.Since.IsZero() && t.CreatedAt.UnixMilli() < q.Since.UnixMilli() {
		return false
	}
	if !q.Until.IsZero() && t.CreatedAt.UnixMilli() >= q.Until.UnixMilli() {
		return false
	}
	return true
}

func normalizeQuery(q ListQuery) (ListQuery, error) {
	switch q.Sort {
	case "":
		q.Sort = SortUpdated
	case SortUpdated, SortCreated:
	default:
		return q, fmt.Errorf("list tickets: sort %q is not %s or %s", q.Sort, SortUpdated, SortCreated)
	}
	if q.Limit <= 0 {
		q.Limit = DefaultListLimit
	}
	where := make([]Match, 0, len(q.Where))
	for _, m := range q.Where {
		if !slices.Contains(indexedFields, m.Field) {
			return q, fmt.Errorf("list tickets: no index on %q", m.Field)
		}
		if len(m.Values) == 0 {
			return q, fmt.Errorf("list tickets: filter on %s names no value", m.Field)
		}
		vs := make([]string, 0, len(m.Values))
		for _, v := range m.Values {
			vs = append(vs, NormalizeValue(m.Field, v))
		}
		slices.Sort(vs)
		where = append(where, Match{Field: m.Field, Values: slices.Compact(vs)})
	}
	q.Where = where
	return q, nil
}

// fingerprint names the listing a cursor belongs to: order and filters, not the page size.
func (q ListQuery) fingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%t|%s|%s", q.Sort, q.Asc, msOrEmpty(q.Since), msOrEmpty(q.Until))
	ws := slices.Clone(q.Where)
	slices.SortFunc(ws, func(a, b Match) int { return strings.Compare(a.Field, b.Field) })
	for _, m := range ws {
		fmt.Fprintf(&b, "|%s=%q", m.Field, m.Values)
	}
	h := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(h[:6])
}

// A cursor is "1.<fingerprint>.<score>.<member>.<bound>" in URL-safe base64: opaque to users,
// readable when debugging.
func encodeCursor(fp string, c cursor) string {
	raw := fmt.Sprintf("1.%s.%d.%s.%s", fp, c.pos.score, c.pos.member, c.bound)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s, fp string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: not one this command printed", ErrBadCursor)
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 5 || parts[0] != "1" {
		return cursor{}, fmt.Errorf("%w: not one this command printed", ErrBadCursor)
	}
	if parts[1] != fp {
		return cursor{}, fmt.Errorf("%w: it continues a listing with other filters or order", ErrBadCursor)
	}
	score, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: not one this command printed", ErrBadCursor)
	}
	if _, err := strconv.ParseInt(parts[3], 10, 64); err != nil {
		return cursor{}, fmt.Errorf("%w: not one this command printed", ErrBadCursor)
	}
	if parts[4] != "" {
		if _, err := strconv.ParseInt(parts[4], 10, 64); err != nil {
			return cursor{}, fmt.Errorf("%w: not one this command printed", ErrBadCursor)
		}
	}
	return cursor{pos: position{score: score, member: parts[3]}, bound: parts[4]}, nil
}

// parseScore reads a score as Redis prints it (an integer number of milliseconds, possibly
// in exponent form).
func parseScore(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, _ := strconv.ParseFloat(s, 64)
	return int64(f)
}

func msOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func luaBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// CountIndexed is the number of tickets whose field has value: it tells whether a value that
// is no longer configured (a status removed from the list) is still on tickets.
func (s *Store) CountIndexed(ctx context.Context, field, value string) (int64, error) {
	if err := s.flushIndex(ctx); err != nil {
		return 0, err
	}
	n, err := s.rdb.SCard(ctx, s.kField(field, NormalizeValue(field, value))).Result()
	if err != nil {
		return 0, fmt.Errorf("count tickets by %s: %w", field, err)
	}
	return n, nil
}

// IndexIncomplete reports whether some tickets are missing from the listing indexes (written
// by a version without them): `mailgate ticket reindex` adds them.
func (s *Store) IndexIncomplete(ctx context.Context) (bool, error) {
	if err := s.flushIndex(ctx); err != nil {
		return false, err
	}
	pipe := s.rdb.Pipeline()
	up := pipe.ZCard(ctx, s.kUpdated())
	cr := pipe.ZCard(ctx, s.kCreated())
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("check the listing indexes: %w", err)
	}
	return cr.Val() < up.Val(), nil
}
