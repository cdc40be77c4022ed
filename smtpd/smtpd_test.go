package smtpd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/reason"
)

// fakeHandler forces each outcome the session must answer (maddy's test target idea).
type fakeHandler struct {
	mu     sync.Mutex
	got    [][]byte
	from   []string
	result ingest.Result
	err    error
	panics bool
}

func (f *fakeHandler) Deliver(_ context.Context, envFrom string, raw []byte) (ingest.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics {
		panic("boom")
	}
	f.got = append(f.got, raw)
	f.from = append(f.from, envFrom)
	return f.result, f.err
}

func start(t testing.TB, h Handler, mod func(*Config)) string {
	t.Helper()
	return startLogged(t, h, mod, discard())
}

func startLogged(t testing.TB, h Handler, mod func(*Config), log *slog.Logger) string {
	t.Helper()
	cfg := Config{Hostname: "mx.test", MaxMessageBytes: 10000, MaxRecipients: 3, MaxSessions: 10, ReadTimeout: 10 * time.Second,
		Rules: SupportFunc(func(a string) bool { return a == "support@example.com" || a == "billing@example.com" })}
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg, h, log, metrics.New())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return l.Addr().String()
}

// dialog plays rows of {send, expect reply prefix} over a real connection.
type row struct{ send, expect string }

func dialog(t *testing.T, addr string, rows []row) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	readReply := func() string {
		var last string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (so far %q)", err, last)
			}
			last = l
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n")
			}
		}
	}
	if g := readReply(); !strings.HasPrefix(g, "220") {
		t.Fatalf("greeting %q", g)
	}
	for i, rw := range rows {
		if _, err := io.WriteString(c, rw.send); err != nil {
			t.Fatal(err)
		}
		if rw.expect == "" {
			continue
		}
		if got := readReply(); !strings.HasPrefix(got, rw.expect) {
			t.Fatalf("row %d %q: got %q, want %q", i, rw.send, got, rw.expect)
		}
	}
}

var mailOK = []row{
	{"EHLO client.test\r\n", "250"},
	{"MAIL FROM:<A@Customer.Example>\r\n", "250"},
	{"RCPT TO:<Support@Example.com>\r\n", "250"},
	{"DATA\r\n", "354"},
}

func TestAccepts(t *testing.T) {
	h := &fakeHandler{}
	addr := start(t, h, nil)
	dialog(t, addr, append(mailOK, row{"From: a@customer.example\r\n\r\nhello\r\n.\r\n", "250"}, row{"QUIT\r\n", "221"}))
	if len(h.got) != 1 || string(h.got[0]) != "From: a@customer.example\r\n\r\nhello\r\n" || h.from[0] != "a@customer.example" {
		t.Fatalf("handler got %q from %v", h.got, h.from)
	}
}

func TestReplies(t *testing.T) {
	tests := []struct {
		name   string
		h      *fakeHandler
		expect string
	}{
		{"store failure is 451, never 5xx", &fakeHandler{err: errors.New("redis: connection refused 10.0.0.7")}, "451 4.3.0"},
		{"panic is 451", &fakeHandler{panics: true}, "451 4.3.0"},
		{"rule 4", &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.NoFrom, Detail: "no parseable From address"}}, "550 5.6.0"},
		{"rule 5", &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.NotInTo}}, "550 5.7.1 support address must be in To:"},
		{"rule 7", &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.NoAccount}}, "550 5.7.1 no active support account"},
		{"loop", &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.Loop}}, "554 5.4.6"},
		{"header too big", &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.HeaderTooBig}}, "552 5.3.4"},
		{"ignored is 250", &fakeHandler{result: ingest.Result{Outcome: "ignored"}}, "250"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := start(t, tc.h, nil)
			dialog(t, addr, append(mailOK, row{"From: a@b\r\n\r\nx\r\n.\r\n", tc.expect}))
		})
	}
}

func TestStoreErrorDoesNotLeak(t *testing.T) {
	addr := start(t, &fakeHandler{err: errors.New("dial tcp 10.0.0.7:6379: connection refused")}, nil)
	c, _ := net.Dial("tcp", addr)
	defer c.Close()
	r := bufio.NewReader(c)
	io.WriteString(c, "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nx\r\n.\r\n")
	var all strings.Builder
	for !strings.Contains(all.String(), "451") {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		all.WriteString(l)
	}
	if strings.Contains(all.String(), "10.0.0.7") {
		t.Fatalf("internal detail in reply: %s", all.String())
	}
}

func TestRcptAndSize(t *testing.T) {
	addr := start(t, &fakeHandler{}, nil)
	dialog(t, addr, []row{
		{"EHLO client.test\r\n", "250"},
		{"MAIL FROM:<a@b>\r\n", "250"},
		{"RCPT TO:<victim@elsewhere.example>\r\n", "550 5.1.1"},
		{"RCPT TO:<support@example.com>\r\n", "250"},
		{"RCPT TO:<billing@example.com>\r\n", "250"},
		{"RCPT TO:<support@example.com>\r\n", "250"},
		{"RCPT TO:<billing@example.com>\r\n", "452"},
		{"DATA\r\n", "354"},
		{"From: a@b\r\n\r\n" + strings.Repeat("0123456789\r\n", 1200) + ".\r\n", "552 5.3.4"},
	})
}

// go-smtp always advertises CHUNKING: the BDAT path must reach the same handler.
func TestBDAT(t *testing.T) {
	h := &fakeHandler{}
	addr := start(t, h, nil)
	body := "From: a@b\r\n\r\nvia bdat\r\n"
	dialog(t, addr, []row{
		{"EHLO client.test\r\n", "250"},
		{"MAIL FROM:<a@b>\r\n", "250"},
		{"RCPT TO:<support@example.com>\r\n", "250"},
		{"BDAT 11\r\n" + body[:11], "250"},
		{"BDAT " + strconv.Itoa(len(body)-11) + " LAST\r\n" + body[11:], "250"},
	})
	if len(h.got) != 1 || string(h.got[0]) != body {
		t.Fatalf("got %q", h.got)
	}
	h2 := &fakeHandler{err: errors.New("down")}
	addr2 := start(t, h2, nil)
	dialog(t, addr2, []row{
		{"EHLO client.test\r\n", "250"},
		{"MAIL FROM:<a@b>\r\n", "250"},
		{"RCPT TO:<support@example.com>\r\n", "250"},
		{"BDAT " + strconv.Itoa(len(body)) + " LAST\r\n" + body, "451 4.3.0"},
	})
}

// A message over the in-memory part is spooled to disk and reaches the handler intact.
func TestLargeMessageSpooled(t *testing.T) {
	h := &fakeHandler{}
	addr := start(t, h, func(c *Config) { c.MaxMessageBytes = 8 << 20 })
	body := "From: a@b\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 40000)
	dialog(t, addr, append(mailOK, row{body + ".\r\n", "250"}))
	if len(h.got) != 1 || string(h.got[0]) != body {
		t.Fatalf("got %d bytes, want %d", len(h.got[0]), len(body))
	}
}

// Every reason the decision can refuse with has its own reply, not a catch-all.
func TestEveryDecisionReasonHasItsReply(t *testing.T) {
	tests := []struct {
		reason reason.Reason
		expect string
	}{
		{reason.CommentOnly, "550 5.7.1 This address takes agents' notes"},
		{reason.Loop, "554 5.4.6"},
		{reason.NotInTo, "550 5.7.1 support address must be in To:"},
	}
	for _, tc := range tests {
		t.Run(string(tc.reason), func(t *testing.T) {
			addr := start(t, &fakeHandler{result: ingest.Result{Reject: true, Reason: tc.reason}}, nil)
			dialog(t, addr, append(mailOK, row{"From: a@b\r\n\r\nx\r\n.\r\n", tc.expect}))
		})
	}
}

func discard() *slog.Logger        { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func newMetrics() *metrics.Metrics { return metrics.New() }

// SupportFunc is Rules for a fixed function.
type SupportFunc func(addr string) bool

func (f SupportFunc) IsSupport(addr string) bool { return f(addr) }
