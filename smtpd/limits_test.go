package smtpd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/reason"
)

// selfSigned is a certificate for mx.test, made for the test.
func selfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		DNSNames: []string{"mx.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// client is a raw SMTP client over a real connection, that can start TLS.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	cl := &client{t: t, conn: c, r: bufio.NewReader(c)}
	if g := cl.reply(); !strings.HasPrefix(g, "220") {
		t.Fatalf("greeting %q", g)
	}
	return cl
}

// reply reads one reply and returns its last line.
func (c *client) reply() string {
	c.t.Helper()
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if len(l) < 4 || l[3] != '-' {
			return strings.TrimRight(l, "\r\n")
		}
	}
}

func (c *client) cmd(line, expect string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\r\n"); err != nil {
		c.t.Fatal(err)
	}
	got := c.reply()
	if !strings.HasPrefix(got, expect) {
		c.t.Fatalf("%s: got %q, want %q", line, got, expect)
	}
	return got
}

func (c *client) startTLS() {
	c.t.Helper()
	c.cmd("STARTTLS", "220")
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.test"})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

// rest reads what the server still sends until it closes the connection.
func (c *client) rest() string {
	c.t.Helper()
	b, err := io.ReadAll(c.r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("the server did not close the connection; got %q", b)
	}
	return string(b)
}

// smtp.max_errors holds under STARTTLS: the refusals are counted in the session, and the
// 421 arrives encrypted, followed by the end of the connection.
func TestMaxErrorsUnderSTARTTLS(t *testing.T) {
	addr := start(t, &fakeHandler{}, func(c *Config) { c.TLS = selfSigned(t); c.MaxErrors = 3 })
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.startTLS()
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<x@relay.example>", "550 5.1.1")
	c.cmd("RCPT TO:<y@relay.example>", "550 5.1.1")
	c.cmd("RCPT TO:<z@relay.example>", "550 5.1.1")
	if got := c.rest(); !strings.HasPrefix(got, "421 4.7.0") {
		t.Fatalf("after 3 refusals under TLS: %q, want a 421 and the end", got)
	}
}

// Refusals count across transactions and across the STARTTLS boundary, not per session.
func TestMaxErrorsCountsTheConnection(t *testing.T) {
	addr := start(t, &fakeHandler{}, func(c *Config) { c.TLS = selfSigned(t); c.MaxErrors = 2 })
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<x@relay.example>", "550 5.1.1")
	c.cmd("RSET", "250")
	c.startTLS()
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<y@relay.example>", "550 5.1.1")
	if got := c.rest(); !strings.HasPrefix(got, "421 4.7.0") {
		t.Fatalf("after 2 refusals: %q", got)
	}
}

// Replies quote the sender's text; a client that did not ask for SMTPUTF8 gets ASCII only.
func TestRepliesAreASCIIWithoutSMTPUTF8(t *testing.T) {
	h := &fakeHandler{result: ingest.Result{Reject: true, Reason: reason.NoFrom,
		Detail: "the From header \"Zoë «boss» <zoë@例え.jp>\" is not a valid address\r\n250 fake"}}
	addr := start(t, h, nil)
	send := func(mailFrom string) string {
		c := dial(t, addr)
		c.cmd("EHLO client.test", "250")
		c.cmd(mailFrom, "250")
		c.cmd("RCPT TO:<support@example.com>", "250")
		c.cmd("DATA", "354")
		return c.cmd("From: x\r\n\r\nx\r\n.", "550 5.6.0")
	}
	got := send("MAIL FROM:<a@b>")
	for _, ch := range got {
		if ch > '~' {
			t.Fatalf("non-ASCII reply to a client without SMTPUTF8: %q", got)
		}
	}
	if !strings.Contains(got, "Zo? ") || !strings.Contains(got, "250 fake") {
		t.Fatalf("reply %q", got)
	}
	if got := send("MAIL FROM:<a@b> SMTPUTF8"); !strings.Contains(got, "Zoë") {
		t.Fatalf("SMTPUTF8 client: %q", got)
	}
}

// shutdown runs s.Shutdown in the background; the channel gets its result.
func shutdown(s *Server) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	return done
}

func startServer(t testing.TB, h Handler) (*Server, string) {
	t.Helper()
	s := New(Config{Hostname: "mx.test", MaxMessageBytes: 10000, MaxRecipients: 3, MaxSessions: 10, MaxErrors: 10,
		ReadTimeout: time.Minute, Rules: SupportFunc(func(a string) bool { return a == "support@example.com" })},
		h, discard(), newMetrics())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s, l.Addr().String()
}

func waitShutdown(t testing.TB, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown still waiting")
	}
}

// An idle client does not hold a shutdown: it is told 421 4.3.2 and closed at once.
func TestShutdownClosesIdleSessions(t *testing.T) {
	s, addr := startServer(t, &fakeHandler{})
	idle := dial(t, addr)
	idle.cmd("EHLO client.test", "250")
	done := shutdown(s)
	if got := idle.rest(); !strings.HasPrefix(got, "421 4.3.2") {
		t.Fatalf("idle client got %q, want 421 4.3.2", got)
	}
	waitShutdown(t, done)
}

// A transaction in flight at shutdown is finished (250), then the session is closed.
func TestShutdownFinishesTransactionsInFlight(t *testing.T) {
	h := &fakeHandler{}
	s, addr := startServer(t, h)
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<support@example.com>", "250")
	done := shutdown(s)
	// New connections are refused once the shutdown has begun.
	poll.Until(t, 10*time.Second, "the listener to stop taking sessions", func() bool {
		n, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		defer n.Close()
		l, _ := bufio.NewReader(n).ReadString('\n')
		return strings.HasPrefix(l, "421")
	})
	c.cmd("DATA", "354")
	c.cmd("From: a@b\r\n\r\nin flight\r\n.", "250")
	if got := c.rest(); !strings.HasPrefix(got, "421 4.3.2") {
		t.Fatalf("after the transaction: %q", got)
	}
	waitShutdown(t, done)
	if len(h.got) != 1 {
		t.Fatalf("handler got %d messages", len(h.got))
	}
}

// The refusal that reaches the limit at the end of data is answered before the 421, even
// when the rest of the data is still to be read (a message over the size limit).
func TestMaxErrorsAtTheEndOfData(t *testing.T) {
	addr := start(t, &fakeHandler{}, func(c *Config) { c.MaxErrors = 2 })
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250")
	c.cmd("RCPT TO:<x@relay.example>", "550 5.1.1")
	c.cmd("RCPT TO:<support@example.com>", "250")
	c.cmd("DATA", "354")
	c.cmd("From: a@b\r\n\r\n"+strings.Repeat("0123456789\r\n", 1200)+".", "552 5.3.4")
	if got := c.rest(); !strings.HasPrefix(got, "421 4.7.0") {
		t.Fatalf("after the second refusal: %q", got)
	}
}
