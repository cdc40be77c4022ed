package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/ticket"
)

// ticketModel is the desk's ticket model of the configuration the command runs with; without
// a readable configuration, the built-in one (the command reports the configuration error
// itself when it opens the store).
func (c *cmdEnv) ticketModel() *ticket.Model {
	if c.cfgPath == "" {
		cfg := config.Dev()
		return cfg.TicketModel()
	}
	cfg, err := config.Load(c.cfgPath, c.environ)
	if err != nil {
		return ticket.DefaultModel()
	}
	return cfg.TicketModel()
}

// statusText shows a ticket's status with its class, and says so when the status is no longer
// configured (it was removed by a reload): the ticket keeps it until an agent moves it.
func statusText(t *ticket.Ticket, m *ticket.Model) string {
	if !m.Known(t.Status) {
		return fmt.Sprintf("%s (class %s; no longer configured, move it with #status)", t.Status, m.ClassOf(t))
	}
	// A desk with its own statuses also sees the class each one stands for.
	if c := m.Class(t.Status); c != t.Status && strings.Join(m.Statuses(), " ") != strings.Join(ticket.Statuses, " ") {
		return fmt.Sprintf("%s (class %s)", t.Status, c)
	}
	return t.Status
}

// followersText lists the followers, marking those added by an agent or the customer (they may
// write to the ticket).
func followersText(t *ticket.Ticket) string {
	out := make([]string, 0, len(t.Followers))
	for _, f := range t.Followers {
		if by := t.FollowersAddedBy[f]; by != "" {
			f += " (follower, " + strings.ReplaceAll(by, "_", " ") + ")"
		}
		out = append(out, f)
	}
	return strings.Join(out, ", ")
}

// printModelFields prints the sensitive mark and the free-text fields: configured fields in
// their order, then any set before a reload removed them.
func printModelFields(w io.Writer, t *ticket.Ticket, m *ticket.Model) {
	if t.Sensitive {
		fmt.Fprintln(w, "sensitive: yes (attachments are mailed to agents only)")
	}
	if len(t.Fields) == 0 {
		return
	}
	var names []string
	seen := map[string]bool{}
	for _, f := range m.Fields() {
		if _, ok := t.Fields[f]; ok {
			names = append(names, f)
			seen[f] = true
		}
	}
	var rest []string
	for f := range t.Fields {
		if !seen[f] {
			rest = append(rest, f)
		}
	}
	sort.Strings(rest)
	fmt.Fprintln(w, "fields:")
	for _, f := range append(names, rest...) {
		fmt.Fprintf(w, "  %s: %s\n", f, t.Fields[f])
	}
}
