package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

func ticketListCommands() []command {
	return []command{
		{
			name: "ticket list", help: "tickets, newest update first; filters, order and pages (docs/listing.md)",
			flags: func(fs *flag.FlagSet) any {
				return &ticketListOpts{
					json:      jsonFlag(fs),
					status:    fs.String("status", "", "only tickets in this `STATUS` (a status name or a class)"),
					queue:     fs.String("queue", "", "only tickets opened on this support `ADDRESS`"),
					priority:  fs.String("priority", "", "only tickets of this `PRIORITY`"),
					typ:       fs.String("type", "", "only tickets of this `TYPE`"),
					creator:   fs.String("creator", "", "only tickets opened by this `ADDRESS`"),
					org:       fs.String("org", "", "only tickets of this `ORGANIZATION`"),
					assignee:  fs.String("assignee", "", "only tickets assigned to this `ADDRESS` (none: unassigned)"),
					sensitive: fs.Bool("sensitive", false, "only tickets marked sensitive"),
					since:     fs.String("since", "", "only tickets created at or after `TIME` (2026-11-22, RFC 3339, or 48h/7d ago)"),
					until:     fs.String("until", "", "only tickets created before `TIME` (same forms as --since)"),
					sort:      fs.String("sort", store.SortUpdated, "order by `FIELD`: updated or created"),
					asc:       fs.Bool("asc", false, "oldest first"),
					limit:     fs.Int("limit", store.DefaultListLimit, "at most `N` tickets per page"),
					cursor:    fs.String("cursor", "", "continue a listing from the `CURSOR` its previous page printed"),
					breached:  fs.Bool("breached", false, "only open tickets that missed a service-level target"),
					dueBefore: fs.String("due-before", "", "only tickets with a service-level due time before `TIME` (RFC 3339, a date, or how long from now: 4h, 2d)"),
				}
			},
			run: cmdTicketList,
		},
		{
			name: "ticket reindex", help: "rebuild the listing indexes from the tickets (after an upgrade)",
			run: cmdTicketReindex,
		},
	}
}

type ticketListOpts struct {
	json                                                 *bool
	status, queue, priority, typ, creator, org, assignee *string
	sensitive, asc                                       *bool
	since, until, sort, cursor                           *string
	limit                                                *int
	breached                                             *bool
	dueBefore                                            *string
}

// slaListCap bounds the tickets a --breached or --due-before listing reads from its due-time
// index before the other filters apply.
const slaListCap = 10000

// parseDueTime reads --due-before: an absolute time as --since takes it, or a duration from now
// (4h, 2d): due times lie ahead.
func parseDueTime(s string, now time.Time) (time.Time, error) {
	t, err := parseListTime(s, now)
	if err != nil {
		return t, fmt.Errorf("--due-before: %q is not a time: give an RFC 3339 time, a date, or how long from now (4h, 2d)", s)
	}
	if _, abs := time.Parse(time.RFC3339, s); abs != nil {
		if _, day := time.Parse("2006-01-02", s); day != nil {
			if _, min := time.Parse("2006-01-02T15:04", s); min != nil {
				return now.Add(now.Sub(t)), nil // a duration: parseListTime counted it back
			}
		}
	}
	return t, nil
}

// slaListing lists the tickets of the service-level indexes (breached, or due before a time),
// nearest due first, with the other filters applied to them; one page, bounded by --limit.
// A zero dueBefore is no due-time condition.
func slaListing(ctx context.Context, st *store.Store, breached bool, dueBefore time.Time, q store.ListQuery) ([]*ticket.Ticket, bool, error) {
	var ids []int64
	var err error
	if !dueBefore.IsZero() {
		if ids, err = st.DueBefore(ctx, dueBefore, slaListCap); err != nil {
			return nil, false, err
		}
	}
	if breached {
		b, err := st.Breached(ctx, slaListCap)
		if err != nil {
			return nil, false, err
		}
		if dueBefore.IsZero() {
			ids = b
		} else {
			in := map[int64]bool{}
			for _, id := range b {
				in[id] = true
			}
			kept := ids[:0]
			for _, id := range ids {
				if in[id] {
					kept = append(kept, id)
				}
			}
			ids = kept
		}
	}
	ts, err := st.Tickets(ctx, ids)
	if err != nil {
		return nil, false, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultListLimit
	}
	out := []*ticket.Ticket{}
	for _, t := range ts {
		if !store.Matches(t, q.Where) || (!q.Since.IsZero() && t.CreatedAt.Before(q.Since)) || (!q.Until.IsZero() && !t.CreatedAt.Before(q.Until)) {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, t)
	}
	return out, false, nil
}

// listStatus is one status a listing can filter on, with its class.
type listStatus struct{ Name, Class string }

// listClasses are the status classes of the life cycle, in its order.
var listClasses = []string{ticket.ClassNew, ticket.ClassOpen, ticket.ClassWaitingCustomer, ticket.ClassWaitingOther,
	ticket.ClassResolved, ticket.ClassClosed}

// listStatusModel is the desk's statuses, each with its class: what `--status` accepts.
func listStatusModel(cfg config.Config) []listStatus {
	m := cfg.TicketModel()
	var out []listStatus
	for _, s := range m.Statuses() {
		out = append(out, listStatus{Name: s, Class: m.Class(s)})
	}
	return out
}

// resolveStatus turns --status into the status names it stands for: a status name (matched
// as people write it: "Waiting on customer"), else a class (every status of that class). A
// name wins over a class of the same spelling.
func resolveStatus(model []listStatus, s string) ([]string, bool) {
	key := store.NormalizeValue(store.FieldStatus, s)
	for _, st := range model {
		if store.NormalizeValue(store.FieldStatus, st.Name) == key {
			return []string{st.Name}, true
		}
	}
	for _, c := range listClasses {
		if c != key {
			continue
		}
		var names []string
		for _, st := range model {
			if st.Class == c {
				names = append(names, st.Name)
			}
		}
		return names, true
	}
	return nil, false
}

// parseListTime reads a --since/--until time: a date (midnight UTC), an RFC 3339 time, or a
// duration back from now (48h, 90m, 7d, 2w).
func parseListTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return t, nil
	}
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit > 0 {
		if n, err := strconv.Atoi(strings.TrimRight(s, "dw")); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * unit), nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: give a date (2026-11-22), an RFC 3339 time, or how long ago (48h, 7d)", s)
}

// listQuery builds the store query from the flags, except --status (which may need the store).
func (o *ticketListOpts) listQuery(now time.Time) (store.ListQuery, error) {
	q := store.ListQuery{Sort: *o.sort, Asc: *o.asc, Limit: *o.limit, Cursor: *o.cursor}
	if q.Sort != store.SortUpdated && q.Sort != store.SortCreated {
		return q, fmt.Errorf("--sort takes %s or %s, not %q", store.SortUpdated, store.SortCreated, q.Sort)
	}
	if q.Limit < 1 {
		return q, errors.New("--limit takes a positive number")
	}
	for _, f := range []struct {
		field string
		v     *string
	}{{store.FieldQueue, o.queue}, {store.FieldPriority, o.priority}, {store.FieldType, o.typ},
		{store.FieldCreator, o.creator}, {store.FieldOrg, o.org}, {store.FieldAssignee, o.assignee}} {
		v := strings.TrimSpace(*f.v)
		if v == "" {
			continue
		}
		if f.field == store.FieldAssignee && strings.EqualFold(v, "none") {
			v = "" // the unassigned tickets
		}
		q.Where = append(q.Where, store.Match{Field: f.field, Values: []string{v}})
	}
	if *o.sensitive {
		q.Where = append(q.Where, store.Match{Field: store.FieldSensitive, Values: []string{"true"}})
	}
	var err error
	if *o.since != "" {
		if q.Since, err = parseListTime(*o.since, now); err != nil {
			return q, fmt.Errorf("--since: %w", err)
		}
	}
	if *o.until != "" {
		if q.Until, err = parseListTime(*o.until, now); err != nil {
			return q, fmt.Errorf("--until: %w", err)
		}
	}
	return q, nil
}

// listConfig is the invocation's configuration, as store() reads it.
func (c *cmdEnv) listConfig() (config.Config, error) {
	if c.cfgPath == "" {
		return config.Dev(), nil
	}
	cfg, err := config.Load(c.cfgPath, c.environ)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", c.cfgPath, err)
	}
	return cfg, nil
}

func cmdTicketList(c *cmdEnv, o any, _ []string) int {
	opts := o.(*ticketListOpts)
	q, err := opts.listQuery(time.Now())
	if err != nil {
		return usageErr(c.stderr, err.Error())
	}
	cfg, err := c.listConfig()
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	st, closeFn, err := c.store()
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed := func(err error) int {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	if s := *opts.status; s != "" {
		model := listStatusModel(cfg)
		names, ok := resolveStatus(model, s)
		if !ok {
			// A status taken out of the configuration stays on its tickets: it can still be
			// listed, to find them and move them on.
			n, err := st.CountIndexed(ctx, store.FieldStatus, s)
			if err != nil {
				return failed(err)
			}
			if n == 0 {
				return usageErr(c.stderr, fmt.Sprintf("--status %q is not a status (%s) nor a class (%s)", s, statusNames(model), strings.Join(listClasses, ", ")))
			}
			names = []string{s}
		}
		if len(names) == 0 { // a class no configured status has
			if err := c.printPage(opts, store.Page{Tickets: []*ticket.Ticket{}}); err != nil {
				return failed(err)
			}
			return exitOK
		}
		q.Where = append(q.Where, store.Match{Field: store.FieldStatus, Values: names})
	}
	if *opts.breached || *opts.dueBefore != "" {
		if *opts.cursor != "" {
			return usageErr(c.stderr, "--cursor does not apply to --breached or --due-before listings (one page, nearest due first; raise --limit)")
		}
		var due time.Time
		if *opts.dueBefore != "" {
			if due, err = parseDueTime(*opts.dueBefore, time.Now()); err != nil {
				return usageErr(c.stderr, err.Error())
			}
		}
		ts, cut, err := slaListing(ctx, st, *opts.breached, due, q)
		if err != nil {
			return failed(err)
		}
		if cut {
			fmt.Fprintf(c.stderr, "mailgate: showing the first %d; raise --limit to see more\n", len(ts))
		}
		if err := c.printPage(opts, store.Page{Tickets: ts}); err != nil {
			return failed(err)
		}
		return exitOK
	}
	page, err := st.ListTicketsPage(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return usageErr(c.stderr, "--cursor: "+err.Error())
	}
	if err != nil {
		return failed(err)
	}
	if incomplete, err := st.IndexIncomplete(ctx); err == nil && incomplete {
		fmt.Fprintln(c.stderr, "mailgate: some tickets are not in the listing indexes yet; run `mailgate ticket reindex`")
	}
	if err := c.printPage(opts, page); err != nil {
		return failed(err)
	}
	return exitOK
}

func statusNames(model []listStatus) string {
	names := make([]string, len(model))
	for i, s := range model {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// printPage writes one page: in JSON the array of tickets, then, when there is a next page,
// one more line {"next_cursor": "..."}; in text the table, and the cursor on stderr.
func (c *cmdEnv) printPage(opts *ticketListOpts, page store.Page) error {
	if page.Next != "" {
		fmt.Fprintf(c.stderr, "mailgate: showing the first %d; pass --cursor to see the next page\n", len(page.Tickets))
	}
	if *opts.json {
		if err := writeJSON(c.stdout, page.Tickets); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		b, _ := json.Marshal(struct {
			Next string `json:"next_cursor"`
		}{page.Next})
		_, err := fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	printTickets(c.stdout, page.Tickets)
	if page.Next != "" {
		fmt.Fprintf(c.stderr, "next cursor: %s\n", page.Next)
	}
	return nil
}

func printTickets(w io.Writer, ts []*ticket.Ticket) {
	tw := table(w, "TAG\tSTATUS\tPRIORITY\tCREATOR\tUPDATED\tSUBJECT")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Tag, t.Status, t.Priority, t.Creator, t.UpdatedAt.Format(time.RFC3339), t.Subject)
	}
	tw.Flush()
}

func cmdTicketReindex(c *cmdEnv, _ any, _ []string) int {
	return c.withStore(func(st *store.Store) error {
		n, err := st.Reindex(context.Background())
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "reindexed %d tickets\n", n)
		return nil
	})
}
