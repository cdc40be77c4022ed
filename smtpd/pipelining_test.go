package smtpd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/metrics"
)

// writeLog is a listener whose connections note every Write that reaches the socket.
type writeLog struct {
	net.Listener
	mu     sync.Mutex
	writes []string
}

func (l *writeLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loggedConn{Conn: c, l: l}, nil
}

func (l *writeLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.writes...)
}

type loggedConn struct {
	net.Conn
	l *writeLog
}

func (c loggedConn) Write(b []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, string(b))
	c.l.mu.Unlock()
	return c.Conn.Write(b)
}

// startWriteLogged runs a server on loopback whose sockets' writes are logged.
func startWriteLogged(tb testing.TB, h Handler) (string, *writeLog) {
	tb.Helper()
	cfg := Config{Hostname: "mx.test", MaxMessageBytes: 1 << 20, MaxRecipients: 3, MaxSessions: 10, ReadTimeout: 10 * time.Second,
		Rules: SupportFunc(func(a string) bool { return a == "support@example.com" })}
	s := New(cfg, h, discard(), metrics.New())
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	l := &writeLog{Listener: tcp}
	go func() { _ = s.Serve(l) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return tcp.Addr().String(), l
}

// The replies to commands a client pipelines (RFC 2920) go out as one unit, as the RFC asks
// of a server (§3): MAIL, RCPT and DATA sent together are answered by one write, not three;
// a client that waits for each reply still gets each at once (it is sent before the server
// waits for the next command), and QUIT's reply is sent before the connection closes.
func TestPipelinedRepliesGoOutTogether(t *testing.T) {
	addr, l := startWriteLogged(t, &fakeHandler{})
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	if _, err := io.WriteString(c.conn, "MAIL FROM:<a@customer.example>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"250", "250", "354"} {
		if got := c.reply(); !strings.HasPrefix(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	c.cmd("Subject: x\r\n\r\nbody\r\n.", "250")
	c.cmd("QUIT", "221")

	var together, alone int
	for _, w := range l.snapshot() {
		if strings.HasPrefix(w, "250 ") && strings.Contains(w, "\r\n250 ") && strings.HasSuffix(w, "\r\n") && strings.Contains(w, "\r\n354 ") {
			together++
		}
		if strings.HasPrefix(w, "354 ") {
			alone++
		}
	}
	if together != 1 || alone != 0 {
		t.Fatalf("the three replies to MAIL, RCPT and DATA came in %d joint and %d separate writes: %q", together, alone, l.snapshot())
	}
}

// BenchmarkPipelinedTransaction is one mail from a client that pipelines as Postfix does
// (MAIL, RCPT and DATA in one write, then the body), against the server with a handler that
// keeps nothing: client and server in this process, over loopback. server-writes/op counts
// the writes that reach the server's socket.
func BenchmarkPipelinedTransaction(b *testing.B) {
	addr, l := startWriteLogged(b, countingHandler{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	replies := func(n int) {
		for range n {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if len(line) < 4 || line[3] != '-' {
					break
				}
			}
		}
	}
	replies(1)
	_, _ = io.WriteString(c, "EHLO client.test\r\n")
	replies(1)
	body := "Subject: x\r\n\r\n" + strings.Repeat("a line of the body, as a customer writes it\r\n", 45) + ".\r\n"
	before := len(l.snapshot())
	for b.Loop() {
		_, _ = io.WriteString(c, "MAIL FROM:<a@customer.example>\r\nRCPT TO:<support@example.com>\r\nDATA\r\n")
		replies(3)
		_, _ = io.WriteString(c, body)
		replies(1)
	}
	b.ReportMetric(float64(len(l.snapshot())-before)/float64(b.N), "server-writes/op")
}

// countingHandler accepts every message and keeps nothing.
type countingHandler struct{}

func (countingHandler) Deliver(context.Context, string, []byte) (ingest.Result, error) {
	return ingest.Result{}, nil
}

// The last reply before a close leaves under STARTTLS too: tls.Conn.Close sends its
// close_notify and sets the write deadline to now before it closes the connection under it,
// whose Close sends what it holds. QUIT's 221 and the idle timeout's 421.
func TestLastReplyUnderSTARTTLS(t *testing.T) {
	addr := start(t, &fakeHandler{}, func(c *Config) { c.TLS = selfSigned(t) })
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.startTLS()
	c.cmd("EHLO client.test", "250")
	c.cmd("QUIT", "221")

	addr = start(t, &fakeHandler{}, func(c *Config) { c.TLS = selfSigned(t); c.ReadTimeout = 300 * time.Millisecond })
	c = dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.startTLS()
	c.cmd("EHLO client.test", "250")
	if got := c.rest(); !strings.HasPrefix(got, "421 4.4.2") {
		t.Fatalf("idle under TLS: %q, want the 421", got)
	}
}

// A close does not wait for a write blocked on a client that does not read: it ends it.
func TestCloseEndsABlockedSend(t *testing.T) {
	server, client := net.Pipe() // a write blocks until the other side reads
	defer client.Close()
	c := &conn{Conn: server, id: "test"}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, outMax+1)) // past outMax: sent at once, and blocks
		wrote <- err
	}()
	poll.Until(t, 10*time.Second, "the write to hold the buffer", func() bool {
		if c.wmu.TryLock() {
			c.wmu.Unlock()
			return false
		}
		return true
	})
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	for _, ch := range []string{"close", "write"} {
		select {
		case <-closed:
			closed = nil
		case err := <-wrote:
			if err == nil {
				t.Fatal("the blocked write succeeded although nobody read")
			}
			wrote = nil
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still waiting: Close waits for the blocked write", ch)
		}
	}
}

// Sessions still open when a shutdown's wait ends are closed then, not left to the process's
// exit (go-smtp's Close does nothing once its Shutdown has begun).
func TestShutdownClosesWhatIsLeftAtTheDeadline(t *testing.T) {
	s, addr := startServer(t, &fakeHandler{})
	c := dial(t, addr)
	c.cmd("EHLO client.test", "250")
	c.cmd("MAIL FROM:<a@b>", "250") // a transaction in flight: the drain leaves it open
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v, want the deadline", err)
	}
	if got := c.rest(); got != "" {
		t.Fatalf("after the deadline the client got %q, want the connection closed", got)
	}
}
