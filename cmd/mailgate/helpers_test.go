package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// env is one running daemon on its own key prefix, with a capture relay for outbound mail.
type env struct {
	t       testing.TB
	cfg     config.Config
	d       *Daemon
	relay   *smtpcapture.Server
	st      *store.Store
	cfgFile string
}

func testConfig(t testing.TB, relayPort int) config.Config {
	c := config.Default()
	c.SMTP.Listen = "127.0.0.1:0"
	c.SMTP.Hostname = "mx.support.example"
	c.Metrics.Listen = "127.0.0.1:0"
	c.Redis.URL = redistest.URL()
	c.Redis.KeyPrefix = redistest.Prefix(t)
	c.Support.Addresses = []string{"support@example.com", "billing@example.com"}
	c.Support.Aliases = []string{"helpdesk@example.com"}
	c.Support.FromName = "Example Support"
	c.Agents.Domains = []string{"example.com"}
	c.Agents.Notify = []string{"team@example.com"}
	c.Outbound.SMTP.Port = relayPort
	return c
}

// startEnv starts a daemon; mod adjusts the configuration first.
func startEnv(t testing.TB, mod func(*config.Config)) *env {
	t.Helper()
	relay := smtpcapture.Start(t)
	cfg := testConfig(t, relay.Port())
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	rdb := redistest.Client(t, cfg.Redis.KeyPrefix)
	e := &env{t: t, cfg: cfg, relay: relay,
		st: store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID})}
	e.d = startDaemonT(t, cfg)
	return e
}

// startDaemonT starts one more daemon on cfg (several may share one Redis and relay).
func startDaemonT(t testing.TB, cfg config.Config) *Daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("MGTEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	d, err := startDaemonWith(ctx, cfg, log, outbound.WorkerConfig{MaxAge: cfg.Outbound.MaxAge.D(), Lease: cfg.Outbound.Lease.D(),
		Poll: 50 * time.Millisecond, BaseBackoff: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		AutoCloseEvery: 20 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = d.Wait()
	})
	return d
}

// configFile writes the env's configuration as YAML, for the CLI.
func (e *env) configFile() string {
	if e.cfgFile != "" {
		return e.cfgFile
	}
	b, err := yaml.Marshal(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.cfgFile = filepath.Join(e.t.TempDir(), "mailgate.yaml")
	if err := os.WriteFile(e.cfgFile, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return e.cfgFile
}

// reply is an SMTP reply as the client saw it.
type reply struct {
	Code     int
	Enhanced string
	Text     string
}

func (r reply) String() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text) }

func toReply(err error) reply {
	if err == nil {
		return reply{Code: 250}
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return reply{Code: se.Code, Enhanced: fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2]), Text: se.Message}
	}
	return reply{Code: -1, Text: err.Error()}
}

// send speaks SMTP to addr: MAIL FROM envFrom, RCPT TO each of rcpts, DATA raw.
func send(t testing.TB, addr, envFrom string, rcpts []string, raw string) reply {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return toReply(err)
	}
	if err := c.Mail(envFrom, nil); err != nil {
		return toReply(err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return toReply(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return toReply(err)
	}
	if _, err := io.WriteString(w, raw); err != nil {
		return toReply(err)
	}
	err = w.Close()
	_ = c.Quit()
	return toReply(err)
}

// msg builds a simple message; headers are "Name: value" lines added after the defaults.
func msg(from, to, subject, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n", from, to, subject)
	hasID := false
	for _, h := range headers {
		hasID = hasID || strings.HasPrefix(strings.ToLower(h), "message-id:")
		b.WriteString(h + "\r\n")
	}
	if !hasID {
		fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", outbound.NewID(), "client.test")
	}
	b.WriteString("\r\n" + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n")
	return b.String()
}

// deliver sends a message from `from` to support@example.com and expects 250.
func (e *env) deliver(from, subject, body string, headers ...string) {
	e.t.Helper()
	envFrom := from
	if i := strings.IndexByte(from, '<'); i >= 0 {
		envFrom = strings.Trim(from[i:], "<>")
	}
	if r := send(e.t, e.d.SMTPAddr, envFrom, []string{"support@example.com"}, msg(from, "support@example.com", subject, body, headers...)); r.Code != 250 {
		e.t.Fatalf("send from %s: %s", from, r)
	}
}

func (e *env) ticket(id int64) *ticket.Ticket {
	e.t.Helper()
	tk, err := e.st.Ticket(context.Background(), id, true)
	if err != nil {
		e.t.Fatalf("ticket %d: %v", id, err)
	}
	return tk
}

func (e *env) tickets() []*ticket.Ticket {
	e.t.Helper()
	ts, err := e.st.ListTickets(context.Background(), "", 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ts
}

// waitMails waits until rcpt has received n mails and returns them.
func (e *env) waitMails(rcpt string, n int) []smtpcapture.Mail {
	e.t.Helper()
	ms := e.relay.WaitFor(e.t, fmt.Sprintf("%d mails to %s", n, rcpt), func(ms []smtpcapture.Mail) bool {
		return len(smtpcapture.To(ms, rcpt)) >= n
	})
	return smtpcapture.To(ms, rcpt)
}

// waitMailWith waits for a mail to rcpt whose raw text contains marker and returns it. The
// worker sends what it claimed together concurrently, so mails to one recipient may arrive
// in any order: tests pick them by content.
func (e *env) waitMailWith(rcpt, marker string) smtpcapture.Mail {
	e.t.Helper()
	var found smtpcapture.Mail
	e.relay.WaitFor(e.t, fmt.Sprintf("a mail to %s with %q", rcpt, marker), func(ms []smtpcapture.Mail) bool {
		for _, m := range smtpcapture.To(ms, rcpt) {
			if strings.Contains(m.Data, marker) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 15*time.Second, what, cond)
}

// drained waits until the outbound queue is empty, so that "no mail was sent" can be checked.
func (e *env) drained() {
	e.t.Helper()
	eventually(e.t, "the outbound queue to drain", func() bool {
		st, err := e.st.OutboxStats(context.Background(), time.Now())
		return err == nil && st.Depth == 0
	})
}

// cli runs the mailgate command line in-process.
func cli(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, er bytes.Buffer
	code = run(args, &o, &er, nil)
	return o.String(), er.String(), code
}

func (e *env) metric(name string) string {
	e.t.Helper()
	resp, err := http.Get("http://" + e.d.MetricsAddr + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func decodeJSON[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %v:\n%s", err, s)
	}
	return v
}
