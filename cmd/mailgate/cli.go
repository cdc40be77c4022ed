package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// cliStore opens the store `serve` uses: the config's Redis, or the running dev daemon's
// embedded store.
func cliStore(cfgPath string, environ []string) (*store.Store, func(), error) {
	if cfgPath == "" {
		addr, err := os.ReadFile(devStoreFile)
		if err != nil {
			return nil, nil, errors.New("no --config given and no dev-mode daemon running here (start `mailgate serve` in this directory, or pass --config FILE)")
		}
		cfg := config.Dev()
		rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSpace(string(addr))})
		return store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID}), func() { rdb.Close() }, nil
	}
	cfg, err := config.Load(cfgPath, environ)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	rdb, err := store.Dial(cfg.Redis.URL)
	if err != nil {
		return nil, nil, err
	}
	return store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID}), func() { rdb.Close() }, nil
}

func cmdStore(a args, cfgPath string, stdout, stderr io.Writer, environ []string) int {
	sub := ""
	if len(a.pos) > 1 {
		sub = a.pos[1]
	}
	rest := a.pos[min(2, len(a.pos)):]
	// Check usage before touching the store, so a typo is exit 2 even with Redis down.
	need := map[string]int{"ticket list": 0, "ticket show": 1, "account add": 1, "account disable": 1,
		"account list": 0, "outbox list": 0, "outbox retry": 1, "quarantine list": 0}
	n, ok := need[a.pos[0]+" "+sub]
	if !ok || len(rest) != n {
		return usageErr(stderr, "bad arguments for "+strings.TrimSpace(a.pos[0]+" "+sub))
	}
	if s := a.flags["status"]; s != "" && !ticket.ValidStatus(s) {
		return usageErr(stderr, fmt.Sprintf("--status %q is not one of %s", s, strings.Join(ticket.Statuses, ", ")))
	}
	st, closeFn, err := cliStore(cfgPath, environ)
	if err != nil {
		fmt.Fprintf(stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limit := int64(1000)
	if l := a.flags["limit"]; l != "" {
		if limit, err = strconv.ParseInt(l, 10, 64); err != nil || limit < 1 {
			return usageErr(stderr, "--limit takes a positive number")
		}
	}
	asJSON := a.has("json")
	err = nil
	switch a.pos[0] + " " + sub {
	case "ticket list":
		var ts []*ticket.Ticket
		if ts, err = st.ListTickets(ctx, a.flags["status"], 0, limit); err == nil && ts != nil {
			if asJSON {
				err = writeJSON(stdout, ts)
			} else {
				printTickets(stdout, ts)
			}
		}
	case "ticket show":
		id, perr := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(rest[0]), "#TID"), 10, 64)
		if perr != nil {
			return usageErr(stderr, fmt.Sprintf("%q is not a ticket number", rest[0]))
		}
		var t *ticket.Ticket
		if t, err = st.Ticket(ctx, id, true); err == nil {
			if asJSON {
				err = writeJSON(stdout, t)
			} else {
				printTicket(stdout, t)
			}
		}
	case "account add":
		addr := strings.ToLower(rest[0])
		org := a.flags["org"]
		if org == "" {
			org = ticket.Organization(addr)
		}
		if err = st.AddAccount(ctx, addr, org, time.Now()); err == nil {
			fmt.Fprintf(stdout, "account %s active (organization %s)\n", addr, org)
		}
	case "account disable":
		if err = st.DisableAccount(ctx, strings.ToLower(rest[0])); err == nil {
			fmt.Fprintf(stdout, "account %s disabled\n", strings.ToLower(rest[0]))
		}
	case "account list":
		var as []store.Account
		if as, err = st.Accounts(ctx); err == nil {
			if asJSON {
				err = writeJSON(stdout, as)
			} else {
				tw := table(stdout, "ADDRESS\tORGANIZATION\tACTIVE")
				for _, x := range as {
					fmt.Fprintf(tw, "%s\t%s\t%v\n", x.Address, x.Organization, x.Active)
				}
				tw.Flush()
			}
		}
	case "outbox list":
		var items []*store.OutboxItem
		if items, err = st.ListOutbox(ctx, a.has("dead"), limit); err == nil {
			if asJSON {
				if items == nil {
					items = []*store.OutboxItem{}
				}
				err = writeJSON(stdout, items)
			} else {
				tw := table(stdout, "ID\tKIND\tTICKET\tTO\tATTEMPTS\tLAST ERROR")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.Kind, ticket.Tag(it.TicketID), it.To, it.Attempts, it.LastError)
				}
				tw.Flush()
			}
		}
	case "outbox retry":
		if err = st.Requeue(ctx, rest[0], time.Now().UTC()); err == nil {
			fmt.Fprintf(stdout, "outbound mail %s queued again\n", rest[0])
		}
	case "quarantine list":
		var qs []store.Quarantined
		if qs, err = st.ListQuarantine(ctx, limit); err == nil {
			if asJSON {
				err = writeJSON(stdout, qs)
			} else {
				tw := table(stdout, "ID\tRECEIVED\tSIZE\tENVELOPE FROM\tREASON")
				for _, q := range qs {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", q.ID, q.ReceivedAt.Format(time.RFC3339), q.Size, q.EnvelopeFrom, q.Reason)
				}
				tw.Flush()
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// table starts an aligned text table with its header line; the caller writes rows and flushes.
func table(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printTickets(w io.Writer, ts []*ticket.Ticket) {
	tw := table(w, "TAG\tSTATUS\tPRIORITY\tCREATOR\tUPDATED\tSUBJECT")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Tag, t.Status, t.Priority, t.Creator, t.UpdatedAt.Format(time.RFC3339), t.Subject)
	}
	tw.Flush()
}

func printTicket(w io.Writer, t *ticket.Ticket) {
	fmt.Fprintf(w, "%s  %s\n", t.Tag, t.Subject)
	fmt.Fprintf(w, "queue: %s  status: %s  priority: %s  type: %s\n", t.Queue, t.Status, t.Priority, t.Type)
	fmt.Fprintf(w, "creator: %s (%s)  assignee: %s\n", t.Creator, t.Organization, t.Assignee)
	fmt.Fprintf(w, "followers: %s\n", strings.Join(t.Followers, ", "))
	if t.RelatedTo != 0 {
		fmt.Fprintf(w, "related to %s (the sender used that tag but may not add to it)\n", ticket.Tag(t.RelatedTo))
	}
	if t.Forged {
		fmt.Fprintln(w, "WARNING: opened by mail whose From failed authentication (likely forged)")
	}
	fmt.Fprintf(w, "created: %s  updated: %s\n", t.CreatedAt.Format(time.RFC3339), t.UpdatedAt.Format(time.RFC3339))
	// One timeline: messages and events in time order (a message before the events it caused).
	type entry struct {
		at   time.Time
		text string
	}
	var tl []entry
	for _, m := range t.Messages {
		flags := m.Role
		if m.Internal {
			flags += ", internal"
		}
		if m.Auto {
			flags += ", auto"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n--- %s  %s (%s)\n%s\n", m.ReceivedAt.Format(time.RFC3339), m.Author, flags, m.Text)
		for _, at := range m.Attachments {
			fmt.Fprintf(&b, "    [attachment] %s (%s, %d bytes)\n", at.Filename, at.ContentType, at.Size)
		}
		for _, r := range m.Refused {
			fmt.Fprintf(&b, "    [refused] %s: %s\n", r.Filename, r.Reason)
		}
		tl = append(tl, entry{m.ReceivedAt, b.String()})
	}
	for _, e := range t.Events {
		tl = append(tl, entry{e.At, fmt.Sprintf("  * %s %s by %s: %s\n", e.At.Format(time.RFC3339), e.Kind, e.By, e.Detail)})
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].at.Before(tl[j].at) })
	for _, e := range tl {
		fmt.Fprint(w, e.text)
	}
}
