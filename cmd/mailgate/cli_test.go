package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CLI and its JSON.

func TestTicketShowJSON(t *testing.T) {
	e := startEnv(t, nil)
	jpg := "/9j/4EpGSUYgZmFrZQ==" // JPEG magic, 13 bytes
	raw := "From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <abc@customer.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nIt is on fire.\r\n" +
		"--B\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=photo.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n" + jpg + "\r\n--B--\r\n"
	if r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatal(r)
	}
	out, errOut, code := cli(t, "ticket", "show", "30001", "--json", "--config", e.configFile())
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	v := decodeJSON[map[string]any](t, out)
	want := map[string]any{"id": 30001.0, "tag": "#TID30001", "queue": "support@example.com", "subject": "Printer on fire",
		"status": "new", "priority": "normal", "type": "", "creator": "alice@customer.example",
		"organization": "customer.example", "assignee": ""}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	if f := v["followers"].([]any); len(f) != 1 || f[0] != "alice@customer.example" {
		t.Errorf("followers = %v", f)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if _, err := time.Parse(time.RFC3339, v[k].(string)); err != nil {
			t.Errorf("%s is not RFC 3339: %v", k, v[k])
		}
	}
	msgs := v["messages"].([]any)
	m := msgs[0].(map[string]any)
	wantMsg := map[string]any{"message_id": "<abc@customer.example>", "author": "alice@customer.example", "role": "customer",
		"internal": false, "auto": false, "text": "It is on fire."}
	for k, w := range wantMsg {
		if m[k] != w {
			t.Errorf("message %s = %v, want %v", k, m[k], w)
		}
	}
	at := m["attachments"].([]any)[0].(map[string]any)
	if at["filename"] != "photo.jpg" || at["content_type"] != "image/jpeg" || at["size"] != 13.0 || len(at["sha256"].(string)) != 64 {
		t.Errorf("attachment = %v", at)
	}

	// Flags before positionals and MAILGATE_CONFIG work too.
	var o strings.Builder
	if code := run([]string{"--json", "ticket", "show", "#TID30001"}, &o, &o, []string{"MAILGATE_CONFIG=" + e.configFile()}); code != 0 || !strings.Contains(o.String(), `"id": 30001`) {
		t.Fatalf("MAILGATE_CONFIG: %d %s", code, o.String())
	}
	// Human output.
	out, _, _ = cli(t, "ticket", "show", "30001", "--config", e.configFile())
	if !strings.Contains(out, "#TID30001  Printer on fire") || !strings.Contains(out, "It is on fire.") {
		t.Fatalf("show:\n%s", out)
	}
}

func TestTicketListJSON(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("a@customer.example", "First", "1")
	e.deliver("b@customer.example", "Second", "2")
	e.deliver("bob@example.com", "Re: [#TID30001] First", "#status waiting_on_customer\nanswer")
	out, _, code := cli(t, "ticket", "list", "--json", "--config", e.configFile())
	ts := decodeJSON[[]map[string]any](t, out)
	if code != 0 || len(ts) != 2 {
		t.Fatalf("list: %s", out)
	}
	// Newest update first; two updates in the same millisecond may come in either order.
	u0, _ := time.Parse(time.RFC3339, ts[0]["updated_at"].(string))
	u1, _ := time.Parse(time.RFC3339, ts[1]["updated_at"].(string))
	if u0.Before(u1) || (u0.After(u1) && ts[0]["id"] != 30001.0) {
		t.Fatalf("newest update first: %s", out)
	}
	if _, has := ts[0]["messages"]; has {
		t.Fatal("list objects carry no messages")
	}
	out, _, _ = cli(t, "ticket", "list", "--status", "new", "--json", "--config", e.configFile())
	if ts := decodeJSON[[]map[string]any](t, out); len(ts) != 1 || ts[0]["id"] != 30002.0 {
		t.Fatalf("--status new: %s", out)
	}
	out, _, _ = cli(t, "ticket", "list", "--status", "closed", "--json", "--config", e.configFile())
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("an empty list is []: %q", out)
	}
	out, _, _ = cli(t, "ticket", "list", "--config", e.configFile())
	if !strings.Contains(out, "#TID30002") || !strings.Contains(out, "waiting_on_customer") {
		t.Fatalf("list:\n%s", out)
	}
}

func TestCLIExitStatus(t *testing.T) {
	e := startEnv(t, nil)
	cfg := e.configFile()
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"ticket", "show", "99999", "--config", cfg}, 1},
		{[]string{"ticket", "show", "--config", cfg}, 2},
		{[]string{"ticket", "show", "abc", "--config", cfg}, 2},
		{[]string{"ticket", "frobnicate", "--config", cfg}, 2},
		{[]string{"ticket", "list", "--status", "bogus", "--config", cfg}, 2},
		{[]string{"ticket", "list", "--bogus", "--config", cfg}, 2},
		{[]string{"nonsense"}, 2},
		{[]string{}, 2},
		{[]string{"account", "disable", "nobody@x.example", "--config", cfg}, 1},
		{[]string{"ticket", "list", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, 1},
		{[]string{"ticket", "list", "--config", cfg}, 0},
		{[]string{"outbox", "list", "--dead", "--config", cfg}, 0},
	}
	for _, tc := range tests {
		if _, errOut, code := cli(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("redis: {url: 'redis://:s3cret@127.0.0.1:6379/0'}\nsupport: {addresses: [support@example.com]}\noutbound: {smtp: {host: relay.example, port: 587, tls: starttls, username: u, password: hunter2}}\n"), 0o600)
	out, errOut, code := cli(t, "config", "check", "--config", good)
	if code != 0 || strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") || !strings.Contains(out, "relay.example") {
		t.Fatalf("config check (%d): %s %s", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("redis: {url: 'redis://x'}\nsupport: {addresses: [support@example.com]}\ntickets: {cc_policy: everyone}\n"), 0o600)
	if _, errOut, code := cli(t, "config", "check", "--config", bad); code != 1 || !strings.Contains(errOut, "tickets.cc_policy") {
		t.Fatalf("bad value (%d): %s", code, errOut)
	}
	if _, _, code := cli(t, "config", "check"); code != 2 {
		t.Fatalf("config check without --config: exit %d", code)
	}
}
