package smtpd

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailgate/mailgate/reason"
)

// limitListener refuses connections past max_sessions, or past max_sessions_per_ip from one
// address, with a 421, as Postfix does, instead of letting them queue unseen in the backlog.
// It also knows every open connection, so that a shutdown can close the idle ones at once:
// go-smtp's own Shutdown waits for every connection, idle ones included.
type limitListener struct {
	net.Listener
	sem      chan struct{}
	hostname string
	maxPerIP int
	// count is called for each connection refused here, with its reason.
	count func(reason.Reason)
	log   *slog.Logger

	mu       sync.Mutex
	perIP    map[string]int
	conns    map[*conn]struct{}
	draining bool
}

func newLimitListener(l net.Listener, s *Server) *limitListener {
	return &limitListener{Listener: l, sem: s.sem, hostname: s.cfg.Hostname, maxPerIP: s.cfg.MaxPerIP,
		count: s.countRefusal, log: s.log, perIP: map[string]int{}, conns: map[*conn]struct{}{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		// Every connection has its id from the start, refused ones too: the 421 carries it.
		id := newRef()
		ip := remoteIP(c)
		if why := l.take(ip); why != reason.None {
			l.refuse(c, id, why)
			continue
		}
		select {
		case l.sem <- struct{}{}:
		default:
			l.release(ip, nil)
			l.refuse(c, id, reason.TooManySessions)
			continue
		}
		l.log.Info("connect", "session", id, "remote", remoteAddr(c))
		tc := &conn{Conn: c, hostname: l.hostname, id: id}
		l.mu.Lock()
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		tc.release = func() {
			<-l.sem
			l.release(ip, tc)
		}
		return tc, nil
	}
}

// take books a connection from ip, or says why it is refused.
func (l *limitListener) take(ip string) reason.Reason {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.draining:
		return reason.ShuttingDown
	case l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP:
		return reason.TooManySessionsPerIP
	}
	l.perIP[ip]++
	return reason.None
}

func (l *limitListener) release(ip string, c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
	delete(l.conns, c)
}

// drain refuses new connections and closes every connection with no transaction in flight,
// with a 421 4.3.2; the others are closed when their transaction ends (session.Reset).
func (l *limitListener) drain() {
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
	for _, c := range l.open() {
		c.closeIfIdle()
	}
}

// open lists the connections still open.
func (l *limitListener) open() []*conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	open := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c)
	}
	return open
}

// closeAll closes every connection still open: the end of a shutdown's wait.
func (l *limitListener) closeAll() {
	for _, c := range l.open() {
		_ = c.Close()
	}
}

// refuse counts, logs and answers a connection refused at connect, then closes it.
func (l *limitListener) refuse(c net.Conn, id string, why reason.Reason) {
	l.count(why)
	l.log.Info("connection refused", "session", id, "remote", remoteAddr(c), "reason", why)
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, replyLine(l.hostname, why, id))
	_ = c.Close()
}

// replyLine is the whole reply line for a reason that closes the connection (421), with the
// session id as every reply of ours has it.
func replyLine(hostname string, why reason.Reason, id string) string {
	rp := why.Reply()
	return strconv.Itoa(rp.Code) + " " + strconv.Itoa(rp.Enhanced[0]) + "." + strconv.Itoa(rp.Enhanced[1]) + "." +
		strconv.Itoa(rp.Enhanced[2]) + " " + hostname + " " + rp.Text + sessionSuffix(id) + "\r\n"
}

func remoteAddr(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil {
		return ""
	}
	// A unix socket's peer has no name ("@" or ""): say what it is.
	if a.Network() == "unix" && (a.String() == "" || a.String() == "@") {
		return "unix"
	}
	return a.String()
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// conn is one client connection as accepted, under TLS if the client starts it. It holds
// what outlives a go-smtp session (STARTTLS ends the session, not the connection): the
// refusal count of smtp.max_errors and whether a transaction is in flight.
type conn struct {
	net.Conn
	hostname string
	once     sync.Once
	release  func()

	// id is the session id: on every log line of the connection and in every reply of ours,
	// across STARTTLS (which starts a new go-smtp session on the same connection).
	id string

	// refusals counts the refusals of smtp.max_errors. At the limit pending is set, and
	// exhausted once the last refusal's reply is written (go-smtp may read the rest of the
	// data before it writes that reply).
	refusals  atomic.Int32
	pending   atomic.Bool
	exhausted atomic.Bool

	// out holds what was written and not yet sent: the replies to a group of pipelined
	// commands go out together (RFC 2920 §3), sent when go-smtp next waits for input (Read),
	// before a close, or once they pass outMax. werr is the first error sending them.
	wmu  sync.Mutex
	out  []byte
	werr error

	mu sync.Mutex
	// top is the connection replies are written on: this one, or the TLS one over it.
	top     net.Conn
	busy    bool // a transaction is in flight: MAIL accepted, not yet ended
	closing bool // bye has been decided; no new transaction starts
	byeOnce sync.Once
}

// tracked finds our conn under a session's connection (under TLS after STARTTLS).
func tracked(nc net.Conn) *conn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if c, ok := nc.(*conn); ok {
		return c
	}
	// Not accepted by our listener (never in mailgate); a detached conn keeps the session working.
	return &conn{Conn: nc, id: newRef()}
}

// Read ends the input once the error limit is reached: the 421 is written on the reply
// stream (encrypted under TLS, which a wrapper of the bytes could not do) and go-smtp sees
// the end of the connection.
func (c *conn) Read(b []byte) (int, error) {
	if c.exhausted.Load() {
		c.bye(reason.TooManyErrors)
		return 0, io.EOF
	}
	// go-smtp reads through a buffer: it comes here only when it has answered every command
	// it holds and waits for more, which is when the answers must go (RFC 2920 §3).
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

// outMax bounds what Write holds back: replies are a few hundred bytes, a TLS handshake a few
// KB; anything larger goes out at once.
const outMax = 16 << 10

func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	err := c.werr
	if err == nil {
		c.out = append(c.out, b...)
		if len(c.out) > outMax {
			err = c.flushLocked()
		}
	}
	c.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	if c.pending.Load() {
		c.pending.Store(false)
		c.exhausted.Store(true)
	}
	return len(b), nil
}

// flush sends what Write held back.
func (c *conn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

func (c *conn) flushLocked() error {
	if c.werr != nil || len(c.out) == 0 {
		return c.werr
	}
	_, err := c.Conn.Write(c.out)
	c.out = c.out[:0]
	if err != nil {
		c.werr = err
	}
	return err
}

// Close sends what is held (QUIT's 221, an idle 421) and closes. The send has a deadline of
// its own: tls.Conn.Close sets the write deadline to now before it closes us. When another
// goroutine holds the buffer (a write blocked on a client that does not read), the close is
// what ends that write: it does not wait for it.
func (c *conn) Close() error {
	c.once.Do(func() {
		if c.release != nil {
			c.release()
		}
	})
	if c.wmu.TryLock() {
		if len(c.out) > 0 && c.werr == nil {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = c.flushLocked()
		}
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}

func (c *conn) setTop(top net.Conn) {
	c.mu.Lock()
	c.top = top
	c.mu.Unlock()
}

// begin marks a transaction in flight; false when the connection is being closed.
func (c *conn) begin() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.busy = true
	return true
}

// end marks the transaction over.
func (c *conn) end() {
	c.mu.Lock()
	c.busy = false
	c.mu.Unlock()
}

// closeIfIdle says goodbye (421 4.3.2) unless a transaction is in flight.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	if c.busy {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.mu.Unlock()
	c.bye(reason.ShuttingDown)
}

// bye writes the 421 of why on the reply stream and closes the connection, once.
func (c *conn) bye(why reason.Reason) {
	c.byeOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		top := c.top
		c.mu.Unlock()
		if top == nil {
			top = c.Conn
		}
		_ = top.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(top, replyLine(c.hostname, why, c.id))
		_ = c.flush()
		_ = c.Conn.Close()
	})
}

// refused counts one refusal against max; true when the limit is reached.
func (c *conn) refused(max int) bool {
	if max <= 0 {
		return false
	}
	if int(c.refusals.Add(1)) >= max {
		c.pending.Store(true)
		return true
	}
	return false
}
