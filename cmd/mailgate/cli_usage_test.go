package main

import (
	"strings"
	"testing"
)

// The CLI's own usage: per-command help, argument checks before any store is touched.

func TestCommandHelpListsItsOwnFlags(t *testing.T) {
	out, _, code := cli(t, "ticket", "list", "-h")
	if code != exitOK || !strings.Contains(out, "usage: mailgate ticket list") || !strings.Contains(out, "-status") {
		t.Fatalf("ticket list -h: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "-dead") {
		t.Fatalf("ticket list -h shows another command's flag:\n%s", out)
	}
	out, _, code = cli(t, "--help")
	if code != exitOK || !strings.Contains(out, "quarantine list") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
}

func TestCommandUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not an address", []string{"account", "add", "notanaddress"}, "not an email address"},
		{"display name is not an address", []string{"account", "add", "Bob <bob@x.example>"}, "not an email address"},
		{"unknown flag", []string{"ticket", "list", "--colour"}, "colour"},
		{"flag of another command", []string{"ticket", "show", "1", "--dead"}, "dead"},
		{"missing argument", []string{"ticket", "show"}, "takes 1 argument"},
		{"extra argument", []string{"ticket", "list", "x"}, "takes no arguments"},
		{"group without sub-command", []string{"outbox"}, "needs one of: list, retry"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad ticket number", []string{"ticket", "show", "abc"}, "not a ticket number"},
		{"bad limit", []string{"outbox", "list", "--limit", "0"}, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := cli(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, errOut)
			}
		})
	}
}

func TestFlagsAnywhere(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("a@customer.example", "First", "1")
	for _, args := range [][]string{
		{"ticket", "show", "30001", "--json", "--config", e.configFile()},
		{"--config", e.configFile(), "ticket", "--json", "show", "#TID30001"},
		{"--json", "ticket", "show", "--config=" + e.configFile(), "30001"},
	} {
		out, errOut, code := cli(t, args...)
		if code != exitOK || !strings.Contains(out, `"id": 30001`) {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

func TestListSaysWhenCut(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("a@customer.example", "First", "1")
	e.deliver("b@customer.example", "Second", "2")
	_, errOut, code := cli(t, "ticket", "list", "--limit", "1", "--config", e.configFile())
	if code != exitOK || !strings.Contains(errOut, "showing the first 1") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
