package main

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

// listIDs runs `ticket list --json` with args and returns the IDs listed and the next cursor
// (the last line of the output when there is a next page).
func listIDs(t *testing.T, e *env, args ...string) ([]int64, string) {
	t.Helper()
	out, errOut, code := cli(t, append([]string{"ticket", "list", "--json", "--config", e.configFile()}, args...)...)
	if code != exitOK {
		t.Fatalf("ticket list %q: exit %d\n%s%s", args, code, out, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var ts []struct {
		ID int64 `json:"id"`
	}
	if err := dec.Decode(&ts); err != nil {
		t.Fatalf("ticket list %q: %v\n%s", args, err, out)
	}
	var next struct {
		Next string `json:"next_cursor"`
	}
	if err := dec.Decode(&next); err != nil && err != io.EOF {
		t.Fatalf("ticket list %q: the line after the array: %v\n%s", args, err, out)
	}
	ids := make([]int64, len(ts))
	for i, tk := range ts {
		ids[i] = tk.ID
	}
	return ids, next.Next
}

// TestTicketListFilters opens tickets by mail, changes them by agent commands and lists them
// by every filter of the command line.
func TestTicketListFilters(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("Alice <alice@customer.example>", "Printer on fire", "help") // 30001
	if r := send(t, e.d.SMTPAddr, "bea@other.example", []string{"billing@example.com"},
		msg("bea@other.example", "billing@example.com", "Invoice", "wrong amount")); r.Code != 250 { // 30002
		t.Fatalf("billing: %s", r)
	}
	e.deliver("Carl@Customer.example", "Login", "cannot log in") // 30003
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire",
		"#status waiting_on_customer\n#priority urgent\n#assign bob@example.com\n#type incident\n\nIs it plugged in?")
	e.deliver("bob@example.com", "Re: [#TID30003] Login", "#status resolved\n\nReset.")

	for _, c := range []struct {
		name string
		args []string
		want []int64
	}{
		{"all, newest update first", nil, []int64{30003, 30001, 30002}},
		{"status as people write it", []string{"--status", "Waiting on-Customer"}, []int64{30001}},
		{"status class", []string{"--status", "waiting_customer"}, []int64{30001}},
		{"status new", []string{"--status", "new"}, []int64{30002}},
		{"queue", []string{"--queue", "Billing@example.com"}, []int64{30002}},
		{"priority", []string{"--priority", "URGENT"}, []int64{30001}},
		{"type", []string{"--type", "incident"}, []int64{30001}},
		{"creator", []string{"--creator", "carl@customer.example"}, []int64{30003}},
		{"org", []string{"--org", "customer.example"}, []int64{30003, 30001}},
		{"assignee", []string{"--assignee", "bob@example.com"}, []int64{30001}},
		{"unassigned", []string{"--assignee", "none"}, []int64{30003, 30002}},
		{"sensitive", []string{"--sensitive"}, []int64{}},
		{"since an hour ago", []string{"--since", "1h"}, []int64{30003, 30001, 30002}},
		{"until long ago", []string{"--until", "2000-01-01"}, []int64{}},
		{"since and until on creation", []string{"--since", "2000-01-01", "--until", "2100-01-01T00:00:00Z", "--status", "resolved"}, []int64{30003}},
		{"by creation", []string{"--sort", "created"}, []int64{30003, 30002, 30001}},
		{"by creation, oldest first", []string{"--sort", "created", "--asc"}, []int64{30001, 30002, 30003}},
		{"oldest update first", []string{"--asc"}, []int64{30002, 30001, 30003}},
		{"two filters", []string{"--org", "customer.example", "--status", "resolved"}, []int64{30003}},
	} {
		got, next := listIDs(t, e, c.args...)
		if !slices.Equal(got, c.want) || next != "" {
			t.Errorf("%s: got %v (next %q), want %v", c.name, got, next, c.want)
		}
	}
}

func TestTicketListCursor(t *testing.T) {
	e := startEnv(t, nil)
	for _, s := range []string{"one", "two", "three", "four", "five"} {
		e.deliver("a@customer.example", s, s)
	}
	// JSON: the cursor is the last line; following it lists every ticket once.
	var all []int64
	var cursor string
	for page := 0; page < 10; page++ {
		args := []string{"--limit", "2", "--sort", "created"}
		if cursor != "" {
			args = append(args, "--cursor", cursor)
		}
		ids, next := listIDs(t, e, args...)
		all = append(all, ids...)
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []int64{30005, 30004, 30003, 30002, 30001}; !slices.Equal(all, want) {
		t.Fatalf("paged: %v, want %v", all, want)
	}
	// Text: the table on stdout, the cursor on stderr.
	out, errOut, code := cli(t, "ticket", "list", "--limit", "2", "--config", e.configFile())
	if code != exitOK || strings.Count(out, "#TID") != 2 {
		t.Fatalf("text page: exit %d\n%s", code, out)
	}
	_, cur, ok := strings.Cut(errOut, "next cursor: ")
	if !ok || strings.Contains(out, "cursor") {
		t.Fatalf("the next cursor goes to stderr: %q", errOut)
	}
	out, _, code = cli(t, "ticket", "list", "--limit", "2", "--cursor", strings.TrimSpace(cur), "--config", e.configFile())
	if code != exitOK || !strings.Contains(out, "#TID30003") || strings.Contains(out, "#TID30005") {
		t.Fatalf("second text page: exit %d\n%s", code, out)
	}
}

func TestTicketListUsage(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("a@customer.example", "one", "one")
	cfg := e.configFile()
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--status", "bogus"}, "waiting_on_customer"},
		{[]string{"--sort", "subject"}, "--sort"},
		{[]string{"--since", "last tuesday"}, "--since"},
		{[]string{"--limit", "0"}, "--limit"},
		{[]string{"--cursor", "garbage"}, "--cursor"},
	} {
		_, errOut, code := cli(t, append([]string{"ticket", "list", "--config", cfg}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: exit %d, stderr %q", c.args, code, errOut)
		}
	}
	// A cursor from another listing is refused, not misread.
	e.deliver("b@customer.example", "two", "two")
	_, next := listIDs(t, e, "--limit", "1", "--status", "new")
	if next == "" {
		t.Fatal("no next cursor with two tickets and --limit 1")
	}
	if _, errOut, code := cli(t, "ticket", "list", "--cursor", next, "--sort", "created", "--config", cfg); code != exitUsage || !strings.Contains(errOut, "other filters or order") {
		t.Fatalf("cursor of another listing: exit %d %q", code, errOut)
	}
}

func TestTicketReindex(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("a@customer.example", "one", "one")
	e.deliver("b@customer.example", "two", "two")
	out, errOut, code := cli(t, "ticket", "reindex", "--config", e.configFile())
	if code != exitOK || !strings.Contains(out, "reindexed 2 tickets") {
		t.Fatalf("reindex: exit %d %q %q", code, out, errOut)
	}
	if ids, _ := listIDs(t, e, "--creator", "b@customer.example"); !slices.Equal(ids, []int64{30002}) {
		t.Fatalf("after reindex: %v", ids)
	}
}
