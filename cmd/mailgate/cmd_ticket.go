package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

func ticketCommands() []command {
	return []command{
		{
			name: "ticket show", args: "N", nargs: 1, help: "one ticket with its messages",
			flags: ticketShowFlags,
			run:   cmdTicketShow,
		},
	}
}

// parseTicketID reads a ticket number, with or without its tag ("30001", "#TID30001").
func parseTicketID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(s), "#TID"), 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%q is not a ticket number", s)
	}
	return id, nil
}

func cmdTicketShow(c *cmdEnv, o any, pos []string) int {
	opts := o.(*ticketShowOpts)
	asJSON := *opts.json
	id, err := parseTicketID(pos[0])
	if err != nil {
		return usageErr(c.stderr, err.Error())
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t, err := st.Ticket(ctx, id, true)
		if err != nil {
			return err
		}
		if *opts.full {
			if err := fullTexts(ctx, st, t); err != nil {
				return err
			}
		}
		if asJSON {
			return writeJSON(c.stdout, t)
		}
		printTicket(c.stdout, t, c.ticketModel())
		return nil
	})
}

func printTicket(w io.Writer, t *ticket.Ticket, m *ticket.Model) {
	fmt.Fprintf(w, "%s  %s\n", t.Tag, t.Subject)
	fmt.Fprintf(w, "queue: %s  status: %s  priority: %s  type: %s\n", t.Queue, statusText(t, m), t.Priority, t.Type)
	fmt.Fprintf(w, "creator: %s (%s)  assignee: %s\n", t.Creator, t.Organization, t.Assignee)
	fmt.Fprintf(w, "followers: %s\n", followersText(t))
	printModelFields(w, t, m)
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
			sens := ""
			if at.Sensitive {
				sens = ", sensitive: agents only"
			}
			fmt.Fprintf(&b, "    [attachment] %s (%s, %d bytes%s)\n", at.Filename, at.ContentType, at.Size, sens)
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
