package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// desk writes tickets through Commit, as ingest does, and remembers nothing: the store is
// the truth the listings are checked against.
type desk struct {
	t   testing.TB
	st  *store.Store
	ctx context.Context
	n   int
}

func newDesk(t testing.TB, st *store.Store) *desk {
	return &desk{t: t, st: st, ctx: context.Background()}
}

// open commits a new ticket; tk's ID is allocated.
func (d *desk) open(tk ticket.Ticket) int64 {
	d.t.Helper()
	id, err := d.st.NextID(d.ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	tk.ID = id
	if tk.UpdatedAt.IsZero() {
		tk.UpdatedAt = tk.CreatedAt
	}
	d.n++
	if _, err := d.st.Commit(d.ctx, &store.Commit{Dedupe: fmt.Sprint("open", id), New: true, Ticket: tk, Now: tk.UpdatedAt}); err != nil {
		d.t.Fatal(err)
	}
	return id
}

// change reads ticket id, applies f and commits it at time at, giving Before as ingest does
// (or not, with noBefore).
func (d *desk) change(id int64, at time.Time, noBefore bool, f func(*ticket.Ticket)) {
	d.t.Helper()
	before, err := d.st.Ticket(d.ctx, id, false)
	if err != nil {
		d.t.Fatal(err)
	}
	next := *before
	f(&next)
	next.UpdatedAt = at
	d.n++
	c := &store.Commit{Dedupe: fmt.Sprint("change", d.n), Ticket: next, PrevStatus: before.Status, Before: before, Now: at}
	if noBefore {
		c.Before = nil
	}
	if _, err := d.st.Commit(d.ctx, c); err != nil {
		d.t.Fatal(err)
	}
}

// all reads every ticket from the store, for the oracle.
func (d *desk) all() []*ticket.Ticket {
	d.t.Helper()
	var out []*ticket.Ticket
	for id := int64(30001); ; id++ {
		tk, err := d.st.Ticket(d.ctx, id, false)
		if errors.Is(err, store.ErrNotFound) {
			if id > 30001+int64(d.n) {
				return out
			}
			continue
		}
		if err != nil {
			d.t.Fatal(err)
		}
		out = append(out, tk)
	}
}

// walk lists every page of q, limit tickets at a time, between pages calling between(page).
func (d *desk) walk(q store.ListQuery, budget int, between func(page int)) []int64 {
	return d.walkPlan(q, budget, "", between)
}

func (d *desk) walkPlan(q store.ListQuery, budget int, plan string, between func(page int)) []int64 {
	d.t.Helper()
	var ids []int64
	for page := 0; ; page++ {
		p, err := d.st.ListTicketsPagePlan(d.ctx, q, budget, plan)
		if err != nil {
			d.t.Fatalf("page %d of %+v: %v", page, q, err)
		}
		if len(p.Tickets) > q.Limit {
			d.t.Fatalf("page %d has %d tickets, limit %d", page, len(p.Tickets), q.Limit)
		}
		for _, tk := range p.Tickets {
			ids = append(ids, tk.ID)
		}
		if p.Next == "" {
			return ids
		}
		if page > 10000 {
			d.t.Fatal("the cursor never ends")
		}
		q.Cursor = p.Next
		if between != nil {
			between(page)
		}
	}
}

// fieldOf is the oracle's reading of a ticket's field.
func fieldOf(tk *ticket.Ticket, f string) string {
	switch f {
	case store.FieldStatus:
		return tk.Status
	case store.FieldQueue:
		return tk.Queue
	case store.FieldPriority:
		return tk.Priority
	case store.FieldType:
		return tk.Type
	case store.FieldCreator:
		return tk.Creator
	case store.FieldOrg:
		return tk.Organization
	case store.FieldAssignee:
		return tk.Assignee
	case store.FieldSensitive:
		if isSensitive(tk) {
			return "true"
		}
		return ""
	}
	panic(f)
}

// expect is what q should list, computed from the tickets one by one.
func expect(all []*ticket.Ticket, q store.ListQuery) []int64 {
	var keep []*ticket.Ticket
next:
	for _, tk := range all {
		for _, m := range q.Where {
			v := store.NormalizeValue(m.Field, fieldOf(tk, m.Field))
			if !slices.ContainsFunc(m.Values, func(w string) bool { return store.NormalizeValue(m.Field, w) == v }) {
				continue next
			}
		}
		c := tk.CreatedAt.UnixMilli()
		if (!q.Since.IsZero() && c < q.Since.UnixMilli()) || (!q.Until.IsZero() && c >= q.Until.UnixMilli()) {
			continue
		}
		keep = append(keep, tk)
	}
	key := func(tk *ticket.Ticket) int64 {
		if q.Sort == store.SortCreated {
			return tk.CreatedAt.UnixMilli()
		}
		return tk.UpdatedAt.UnixMilli()
	}
	slices.SortFunc(keep, func(a, b *ticket.Ticket) int {
		// Redis orders equal scores by member bytes: "100000" before "30001".
		c := cmpInt(key(a), key(b))
		if c == 0 {
			c = strings.Compare(strconv.FormatInt(a.ID, 10), strconv.FormatInt(b.ID, 10))
		}
		if !q.Asc {
			c = -c
		}
		return c
	})
	ids := make([]int64, len(keep))
	for i, tk := range keep {
		ids[i] = tk.ID
	}
	return ids
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setSensitive marks tk sensitive through its "sensitive" JSON field, if the ticket type has
// one yet; it reports whether it could.
func setSensitive(tk *ticket.Ticket) bool {
	v := reflect.ValueOf(tk).Elem()
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ","); name == "sensitive" {
			v.Field(i).SetBool(true)
			return true
		}
	}
	return false
}

func isSensitive(tk *ticket.Ticket) bool {
	v := reflect.ValueOf(tk).Elem()
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ","); name == "sensitive" {
			return v.Field(i).Bool()
		}
	}
	return false
}

var (
	statuses   = []string{"new", "open", "waiting_on_customer", "waiting_on_third_party", "resolved", "closed"}
	queues     = []string{"support@example.com", "billing@example.com", "sales@example.com"}
	priorities = []string{"low", "normal", "high", "urgent"}
	types      = []string{"", "incident", "question", "change_request"}
)

// pick returns a random element, the first ones more often, as on a real desk.
func pick(r *rand.Rand, xs []string) string {
	i := r.IntN(len(xs))
	if r.IntN(2) == 0 {
		i = i / 2
	}
	return xs[i]
}

// randomTicket is a ticket with skewed fields: some values common, some rare, so that both of
// the listing's plans (walk the order, gather a small set) are taken.
func randomTicket(r *rand.Rand, at time.Time) ticket.Ticket {
	creator := fmt.Sprintf("user%d@org%d.example", r.IntN(40), r.IntN(6))
	tk := ticket.Ticket{
		Queue: pick(r, queues), Subject: "s", Status: pick(r, statuses), Priority: pick(r, priorities),
		Type: pick(r, types), Creator: creator, Organization: ticket.Organization(creator),
		Followers: []string{creator}, CreatedAt: at,
	}
	if r.IntN(3) > 0 {
		tk.Assignee = fmt.Sprintf("agent%d@example.com", r.IntN(4))
	}
	if r.IntN(10) == 0 {
		setSensitive(&tk)
	}
	return tk
}

// seed opens n random tickets, a few in the same millisecond, and changes some of them.
func seed(d *desk, r *rand.Rand, n int) {
	at := t0
	var ids []int64
	for range n {
		if r.IntN(4) > 0 {
			at = at.Add(time.Duration(r.IntN(90)+1) * time.Hour) // over months
		}
		ids = append(ids, d.open(randomTicket(r, at)))
	}
	for range n / 2 {
		id := ids[r.IntN(len(ids))]
		at = at.Add(time.Duration(r.IntN(3)) * time.Minute)
		d.change(id, at, r.IntN(5) == 0, func(tk *ticket.Ticket) {
			tk.Status = pick(r, statuses)
			if r.IntN(3) == 0 {
				tk.Assignee = ""
			}
			if r.IntN(3) == 0 {
				tk.Priority = pick(r, priorities)
			}
		})
	}
}

func TestListEveryFilterAndSort(t *testing.T) {
	st := newStore(t)
	d := newDesk(t, st)
	r := rand.New(rand.NewPCG(1, 2))
	seed(d, r, 300)
	all := d.all()
	mid := t0.Add(200 * 45 * time.Hour / 2)
	filters := []struct {
		name  string
		where []store.Match
		since time.Time
		until time.Time
	}{
		{name: "none"},
		{name: "status", where: []store.Match{{Field: store.FieldStatus, Values: []string{"open"}}}},
		{name: "status written as people do", where: []store.Match{{Field: store.FieldStatus, Values: []string{"Waiting on-Customer"}}}},
		{name: "status class (union)", where: []store.Match{{Field: store.FieldStatus, Values: []string{"waiting_on_customer", "waiting_on_third_party"}}}},
		{name: "queue", where: []store.Match{{Field: store.FieldQueue, Values: []string{"Billing@Example.com"}}}},
		{name: "priority", where: []store.Match{{Field: store.FieldPriority, Values: []string{"urgent"}}}},
		{name: "type", where: []store.Match{{Field: store.FieldType, Values: []string{"change-request"}}}},
		{name: "creator", where: []store.Match{{Field: store.FieldCreator, Values: []string{"user3@org1.example"}}}},
		{name: "org", where: []store.Match{{Field: store.FieldOrg, Values: []string{"org2.example"}}}},
		{name: "assignee", where: []store.Match{{Field: store.FieldAssignee, Values: []string{"agent1@example.com"}}}},
		{name: "unassigned", where: []store.Match{{Field: store.FieldAssignee, Values: []string{""}}}},
		{name: "sensitive", where: []store.Match{{Field: store.FieldSensitive, Values: []string{"true"}}}},
		{name: "since", since: mid},
		{name: "until", until: mid},
		{name: "since and until", since: mid, until: mid.Add(900 * time.Hour)},
		{name: "two fields", where: []store.Match{{Field: store.FieldStatus, Values: []string{"closed"}}, {Field: store.FieldPriority, Values: []string{"low"}}}},
		{name: "three fields and a range", since: mid, where: []store.Match{
			{Field: store.FieldQueue, Values: []string{"support@example.com"}},
			{Field: store.FieldAssignee, Values: []string{"agent0@example.com", "agent2@example.com"}},
			{Field: store.FieldStatus, Values: []string{"new", "open", "resolved"}}}},
		{name: "a value nobody has", where: []store.Match{{Field: store.FieldCreator, Values: []string{"nobody@example.com"}}}},
	}
	for _, f := range filters {
		for _, sort := range []string{store.SortUpdated, store.SortCreated} {
			for _, asc := range []bool{false, true} {
				for _, limit := range []int{3, 50} {
					q := store.ListQuery{Where: f.where, Since: f.since, Until: f.until, Sort: sort, Asc: asc, Limit: limit}
					want := expect(all, q)
					for _, run := range []struct {
						plan   string
						budget int
					}{{"", 20000}, {"walk", 20000}, {"walk", 5}, {"gather", 20000}} {
						got := d.walkPlan(q, run.budget, run.plan, nil)
						if !slices.Equal(got, want) {
							t.Errorf("%s, by %s asc=%t, limit %d, plan %q budget %d:\n got %v\nwant %v", f.name, sort, asc, limit, run.plan, run.budget, got, want)
						}
					}
				}
			}
		}
	}
	if !setSensitive(&ticket.Ticket{}) {
		t.Log("the ticket type has no sensitive field yet: the sensitive filter was checked empty only")
	}
}

func TestListDefaultsToUpdatedNewestFirstAndFifty(t *testing.T) {
	st := newStore(t)
	d := newDesk(t, st)
	for i := range 60 {
		d.open(ticket.Ticket{Status: "new", Creator: "a@x.example", CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	d.change(30001, t0.Add(2*time.Hour), false, func(tk *ticket.Ticket) { tk.Status = "open" })
	p, err := st.ListTicketsPage(context.Background(), store.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tickets) != store.DefaultListLimit || p.Next == "" {
		t.Fatalf("first page: %d tickets, next %q", len(p.Tickets), p.Next)
	}
	if p.Tickets[0].ID != 30001 || p.Tickets[1].ID != 30060 {
		t.Fatalf("newest update first: %d, %d", p.Tickets[0].ID, p.Tickets[1].ID)
	}
}

// TestListCursorWhileTicketsChange changes, opens and moves tickets between every two pages:
// no ticket is listed twice, every ticket that did not change is listed once, and by creation
// order every ticket is listed once.
func TestListCursorWhileTicketsChange(t *testing.T) {
	for _, c := range []struct {
		sort  string
		asc   bool
		where []store.Match
	}{
		{sort: store.SortUpdated},
		{sort: store.SortUpdated, asc: true},
		{sort: store.SortCreated},
		{sort: store.SortCreated, asc: true},
		{sort: store.SortUpdated, where: []store.Match{{Field: store.FieldStatus, Values: []string{"open"}}}},
		{sort: store.SortCreated, asc: true, where: []store.Match{{Field: store.FieldStatus, Values: []string{"open"}}}},
	} {
		for _, plan := range []string{"walk", "gather"} {
			t.Run(fmt.Sprintf("%s asc=%t filtered=%t %s", c.sort, c.asc, c.where != nil, plan), func(t *testing.T) {
				cursorWhileTicketsChange(t, c.sort, c.asc, c.where, plan)
			})
		}
	}
}

func cursorWhileTicketsChange(t *testing.T, sort string, asc bool, where []store.Match, plan string) {
	st := newStore(t)
	d := newDesk(t, st)
	r := rand.New(rand.NewPCG(3, 4))
	at := t0
	for range 80 {
		at = at.Add(time.Duration(r.IntN(2)) * time.Minute) // ties too
		tk := randomTicket(r, at)
		tk.Status = "open"
		d.open(tk)
	}
	changed := map[int64]bool{}
	left := map[int64]bool{} // stopped matching the filter
	clock := at
	between := func(int) {
		for range 3 {
			id := 30001 + int64(r.IntN(80))
			clock = clock.Add(time.Minute)
			changed[id] = true
			leave := r.IntN(2) == 0
			if leave {
				left[id] = true
			}
			d.change(id, clock, false, func(tk *ticket.Ticket) {
				if leave {
					tk.Status = "closed"
				}
			})
		}
		clock = clock.Add(time.Minute)
		o := randomTicket(r, clock)
		o.Status = "open"
		d.open(o)
	}
	q := store.ListQuery{Sort: sort, Asc: asc, Where: where, Limit: 6}
	got := d.walkPlan(q, 20000, plan, between)
	seen := map[int64]int{}
	for _, id := range got {
		seen[id]++
		if seen[id] > 1 {
			t.Fatalf("ticket %d listed twice: %v", id, got)
		}
	}
	for id := int64(30001); id <= 30080; id++ {
		must := !changed[id] || (sort == store.SortCreated && (where == nil || !left[id]))
		if must && seen[id] != 1 {
			t.Errorf("ticket %d (changed %t) listed %d times", id, changed[id], seen[id])
		}
	}
}

func TestListCursorBelongsToItsListing(t *testing.T) {
	st := newStore(t)
	d := newDesk(t, st)
	for i := range 3 {
		d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	ctx := context.Background()
	q := store.ListQuery{Limit: 1, Where: []store.Match{{Field: store.FieldPriority, Values: []string{"low"}}}}
	p, err := st.ListTicketsPage(ctx, q)
	if err != nil || p.Next == "" {
		t.Fatalf("%+v %v", p, err)
	}
	// The same listing with another page size continues.
	q.Cursor, q.Limit = p.Next, 5
	if p2, err := st.ListTicketsPage(ctx, q); err != nil || len(p2.Tickets) != 2 || p2.Next != "" {
		t.Fatalf("next page: %+v %v", p2, err)
	}
	for name, bad := range map[string]store.ListQuery{
		"other filter":   {Cursor: p.Next, Where: []store.Match{{Field: store.FieldPriority, Values: []string{"high"}}}},
		"other order":    {Cursor: p.Next, Where: q.Where, Sort: store.SortCreated},
		"other way":      {Cursor: p.Next, Where: q.Where, Asc: true},
		"not a cursor":   {Cursor: "hello", Where: q.Where},
		"a damaged one":  {Cursor: p.Next[:len(p.Next)-3], Where: q.Where},
		"not base64 url": {Cursor: "a/b+c", Where: q.Where},
	} {
		if _, err := st.ListTicketsPage(ctx, bad); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("%s: err = %v, want ErrBadCursor", name, err)
		}
	}
	if _, err := st.ListTicketsPage(ctx, store.ListQuery{Sort: "subject"}); err == nil {
		t.Error("an unknown order must be refused")
	}
}

// TestCommitWithoutBeforeMovesEntries: a caller that does not pass the state it read (a
// commit written before Before existed) still leaves no stale entry.
func TestCommitWithoutBeforeMovesEntries(t *testing.T) {
	st := newStore(t)
	d := newDesk(t, st)
	id := d.open(ticket.Ticket{Status: "new", Priority: "low", CreatedAt: t0})
	d.change(id, t0.Add(time.Minute), true, func(tk *ticket.Ticket) { tk.Status = "open"; tk.Priority = "high" })
	ctx := context.Background()
	for _, c := range []struct {
		field, value string
		want         int
	}{{store.FieldStatus, "new", 0}, {store.FieldStatus, "open", 1}, {store.FieldPriority, "low", 0}, {store.FieldPriority, "high", 1}} {
		p, err := st.ListTicketsPage(ctx, store.ListQuery{Where: []store.Match{{Field: c.field, Values: []string{c.value}}}})
		if err != nil || len(p.Tickets) != c.want {
			t.Errorf("%s %s: %d tickets, want %d (%v)", c.field, c.value, len(p.Tickets), c.want, err)
		}
		if n, _ := st.CountIndexed(ctx, c.field, c.value); n != int64(c.want) {
			t.Errorf("%s %s: index holds %d, want %d", c.field, c.value, n, c.want)
		}
	}
}

func TestReindex(t *testing.T) {
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001})
	d := newDesk(t, st)
	r := rand.New(rand.NewPCG(5, 6))
	seed(d, r, 120)
	if _, err := st.NextID(context.Background()); err != nil { // a gap in the IDs
		t.Fatal(err)
	}
	d.open(randomTicket(r, t0.Add(1000*time.Hour)))
	all := d.all()
	ctx := context.Background()
	q := store.ListQuery{Limit: 1000, Where: []store.Match{{Field: store.FieldStatus, Values: []string{"open"}}}}
	want := expect(all, q)

	// A desk from before the listing indexes: none of them, and one wrong entry.
	hp := store.HashTagged(p)
	keys, _ := rdb.SMembers(ctx, hp+"idx:keys").Result()
	if len(keys) == 0 {
		t.Fatal("commits register no index keys")
	}
	rdb.Del(ctx, append(keys, hp+"idx:keys", hp+"idx:created")...)
	rdb.SAdd(ctx, hp+"idx:f:status:open", "30001", "99999")
	rdb.SAdd(ctx, hp+"idx:keys", hp+"idx:f:status:open")
	if inc, err := st.IndexIncomplete(ctx); err != nil || !inc {
		t.Fatalf("IndexIncomplete = %t, %v", inc, err)
	}

	n, err := st.Reindex(ctx)
	if err != nil || n != len(all) {
		t.Fatalf("Reindex = %d, %v; want %d", n, err, len(all))
	}
	if inc, _ := st.IndexIncomplete(ctx); inc {
		t.Fatal("still incomplete after reindex")
	}
	got := d.walk(q, 20000, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("after reindex:\n got %v\nwant %v", got, want)
	}
	for _, q := range []store.ListQuery{
		{Limit: 1000, Sort: store.SortCreated, Where: []store.Match{{Field: store.FieldCreator, Values: []string{"user1@org1.example"}}}},
		{Limit: 1000, Since: t0.Add(50 * time.Hour), Where: []store.Match{{Field: store.FieldAssignee, Values: []string{""}}}},
	} {
		if got, want := d.walk(q, 20000, nil), expect(all, q); !slices.Equal(got, want) {
			t.Fatalf("after reindex %+v:\n got %v\nwant %v", q, got, want)
		}
	}
	// Reindexing again changes nothing.
	if n2, err := st.Reindex(ctx); err != nil || n2 != n {
		t.Fatalf("second Reindex = %d, %v", n2, err)
	}
	if got := d.walk(q, 20000, nil); !slices.Equal(got, want) {
		t.Fatalf("after a second reindex:\n got %v\nwant %v", got, want)
	}
}

// TestListOnMiniredis: the dev-mode daemon keeps its store in miniredis, whose Lua is not
// Redis's; the listing script must run there too.
func TestListOnMiniredis(t *testing.T) {
	st := embeddedStore(t, "mg:", 30001)
	d := newDesk(t, st)
	seed(d, rand.New(rand.NewPCG(7, 8)), 60)
	all := d.all()
	for _, q := range []store.ListQuery{
		{Limit: 7},
		{Limit: 7, Sort: store.SortCreated, Asc: true},
		{Limit: 7, Asc: true},
		{Limit: 3, Where: []store.Match{{Field: store.FieldCreator, Values: []string{"user1@org1.example", "user2@org2.example"}}}},
		{Limit: 5, Since: t0.Add(10 * time.Hour), Where: []store.Match{{Field: store.FieldStatus, Values: []string{"closed"}}}},
	} {
		for _, budget := range []int{20000, 3} {
			if got, want := d.walk(q, budget, nil), expect(all, q); !slices.Equal(got, want) {
				t.Errorf("%+v budget %d:\n got %v\nwant %v", q, budget, got, want)
			}
		}
	}
	if n, err := st.Reindex(context.Background()); err != nil || n != len(all) {
		t.Fatalf("Reindex on miniredis = %d, %v", n, err)
	}
}
