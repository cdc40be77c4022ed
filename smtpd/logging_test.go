package smtpd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/reason"
)

// logCapture keeps what the server logs, one JSON object a line.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(l, nil)) }

// lines returns the lines with message msg ("" for all).
func (l *logCapture) lines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// one returns the only line with message msg.
func (l *logCapture) one(t testing.TB, msg string) map[string]any {
	t.Helper()
	got := l.lines(t, msg)
	if len(got) != 1 {
		t.Fatalf("%d lines %q, want 1; log:\n%s", len(got), msg, l.lines(t, ""))
	}
	return got[0]
}

var sessionRE = regexp.MustCompile(` \(session ([0-9a-f]{12})\)$`)

// sessionOf returns the session id that ends a reply, failing when there is none.
func sessionOf(t testing.TB, reply string) string {
	t.Helper()
	m := sessionRE.FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("reply %q does not end with a session id", reply)
	}
	return m[1]
}

// One id per connection: in each refusal's text and on every log line of the session, so
// that the id a sender quotes from a bounce finds the session in the log.
func TestSessionIDInRepliesAndLog(t *testing.T) {
	logs := &logCapture{}
	addr := startLogged(t, &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.NotInTo}}, nil, logs.logger())
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	id := sessionOf(t, c.cmd("RCPT TO:<victim@elsewhere.example>", "550 5.1.1"))
	c.cmd("RCPT TO:<support@example.com>", "250")
	c.cmd("DATA", "354")
	if got, want := c.cmd("From: a@b\r\n\r\nx\r\n.", "550"), "550 5.7.1 support address must be in To: (session "+id+")"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, msg := range []string{"connect", "recipient refused", "message handled"} {
		if l := logs.one(t, msg); l["session"] != id || l["remote"] != c.conn.LocalAddr().String() {
			t.Fatalf("%q line %v, want session %s and remote %s", msg, l, id, c.conn.LocalAddr())
		}
	}
	for _, l := range logs.lines(t, "") {
		if l["session"] != id {
			t.Fatalf("line without the session id: %v", l)
		}
	}

	other := dial(t, addr)
	other.cmd("EHLO client.test", "250")
	other.cmd("MAIL FROM:<a@b>", "250")
	if id2 := sessionOf(t, other.cmd("RCPT TO:<x@elsewhere.example>", "550 5.1.1")); id2 == id {
		t.Fatalf("two connections share the session id %s", id)
	}
}

// The 451 of a store failure keeps its ref and gains the session; both are on the error line.
func TestStoreFailureReplyHasRefAndSession(t *testing.T) {
	logs := &logCapture{}
	addr := startLogged(t, &fakeHandler{err: errors.New("redis down")}, nil, logs.logger())
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<support@example.com>", "250")
	c.cmd("DATA", "354")
	got := c.cmd("From: a@b\r\n\r\nx\r\n.", "451 4.3.0 Temporary failure storing the message, please try again later (ref ")
	m := regexp.MustCompile(`\(ref ([0-9a-f]{12})\) \(session ([0-9a-f]{12})\)$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("reply %q", got)
	}
	if l := logs.one(t, "store failed; message deferred"); l["ref"] != m[1] || l["session"] != m[2] || l["level"] != "ERROR" {
		t.Fatalf("error line %v for reply %q", l, got)
	}
}

// Each RCPT refusal is one info line with the session, the client, the recipient and why.
func TestRcptRefusalsLogged(t *testing.T) {
	logs := &logCapture{}
	addr := startLogged(t, &fakeHandler{}, func(c *Config) { c.MaxRecipients = 1 }, logs.logger())
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	id := sessionOf(t, c.cmd("RCPT TO:<Victim@Elsewhere.example>", "550 5.1.1"))
	c.cmd("RCPT TO:<support@example.com>", "250")
	if got := sessionOf(t, c.cmd("RCPT TO:<billing@example.com>", "452 4.5.3")); got != id {
		t.Fatalf("session %s, then %s", id, got)
	}
	got := logs.lines(t, "recipient refused")
	want := []struct{ rcpt, reason string }{{"victim@elsewhere.example", "not_support_address"}, {"billing@example.com", "too_many_recipients"}}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		l := got[i]
		if l["level"] != "INFO" || l["session"] != id || l["remote"] != c.conn.LocalAddr().String() || l["rcpt"] != w.rcpt || l["reason"] != w.reason {
			t.Errorf("line %d: %v, want rcpt %s reason %s", i, l, w.rcpt, w.reason)
		}
	}
}

// "message handled" says how large the message was and how many recipients it had.
func TestMessageHandledLogsSizeAndRecipients(t *testing.T) {
	logs := &logCapture{}
	addr := startLogged(t, &fakeHandler{result: ingest.Result{Outcome: "created", TicketID: 30001}}, nil, logs.logger())
	body := "From: a@b\r\nSubject: hello\r\n\r\n" + strings.Repeat("line of text\r\n", 20)
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<support@example.com>", "250")
	c.cmd("RCPT TO:<billing@example.com>", "250")
	c.cmd("DATA", "354")
	c.cmd(body+".", "250")
	l := logs.one(t, "message handled")
	if l["size"] != float64(len(body)) || l["recipients"] != float64(2) || l["remote"] != c.conn.LocalAddr().String() {
		t.Fatalf("message handled: %v, want size %d and 2 recipients", l, len(body))
	}
}

// The 421 lines carry the session id too: at connect (logged, as the connection has no
// session after it) and when max_errors closes the connection.
func TestClosingRepliesCarrySession(t *testing.T) {
	logs := &logCapture{}
	addr := startLogged(t, &fakeHandler{}, func(c *Config) { c.MaxPerIP = 1; c.MaxErrors = 2 }, logs.logger())
	c := dial(t, addr)
	n, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	line, err := bufio.NewReader(n).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "421 4.7.0 mx.test Too many connections from your address, try again later (session ") {
		t.Fatalf("second connection got %q", line)
	}
	refused := sessionOf(t, line)
	if l := logs.one(t, "connection refused"); l["session"] != refused || l["reason"] != "too_many_sessions_per_ip" || l["remote"] != n.LocalAddr().String() {
		t.Fatalf("connection refused line %v for %q", l, line)
	}

	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	id := sessionOf(t, c.cmd("RCPT TO:<x@elsewhere.example>", "550 5.1.1"))
	if id == refused {
		t.Fatal("the refused connection has the session id of another")
	}
	c.cmd("RCPT TO:<y@elsewhere.example>", "550 5.1.1")
	if got, want := c.rest(), "421 4.7.0 mx.test Too many errors, closing connection (session "+id+")\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if l := logs.one(t, "too many errors; closing the connection"); l["session"] != id {
		t.Fatalf("too many errors line %v", l)
	}
}

// Over LMTP each recipient's reply carries the session id.
func TestLMTPRepliesCarrySession(t *testing.T) {
	addr := start(t, &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.NotInTo}}, func(c *Config) { c.LMTP = true })
	c := dial(t, addr)
	c.cmd("LHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<support@example.com>", "250")
	c.cmd("RCPT TO:<billing@example.com>", "250")
	c.cmd("DATA", "354")
	id := sessionOf(t, c.cmd("From: a@b\r\n\r\nx\r\n.", "550 5.7.1 <support@example.com> support address must be in To: (session "))
	if got, want := c.reply(), "550 5.7.1 <billing@example.com> support address must be in To: (session "+id+")"; got != want {
		t.Fatalf("second recipient got %q, want %q", got, want)
	}
}
