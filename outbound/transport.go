package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Transport delivers one mail.
type Transport interface {
	Send(ctx context.Context, from, to string, raw []byte) error
}

// PermanentError is a refusal that retrying will not cure (a 5xx from the relay).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err should dead-letter the mail at once.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Relay sends through outbound.smtp, reusing idle connections (one transaction after another
// on each, as Postfix's connection cache does): a new TCP+EHLO(+TLS, AUTH) per mail cost more
// than the mail itself. A relay that advertises PIPELINING gets MAIL, RCPT and DATA in one
// write (pipelining.go); one that does not, go-smtp's client.
type Relay struct {
	Host, Username, Password string
	Port                     int
	TLS                      string // none | starttls | implicit
	HelloName                string
	Timeout                  time.Duration
	// TLSConfig overrides the default verification (tests use a self-signed relay).
	TLSConfig *tls.Config

	mu           sync.Mutex
	idle         []idleClient
	noPipelining atomic.Bool // the relay was seen not to advertise PIPELINING
}

// relayConn is one connection to the relay: a pipelinedConn when the relay advertises
// PIPELINING, go-smtp's client otherwise.
type relayConn interface {
	// transact sends one mail and notes the relay's reply to the end of data.
	transact(ctx context.Context, from, to string, raw []byte) error
	// reusable reports whether the connection can carry another mail after transact failed.
	reusable() bool
	quit()
	close()
}

type idleClient struct {
	c     relayConn
	since time.Time
}

// maxIdle bounds the cached connections; maxIdleAge stays under common relay idle timeouts.
const (
	maxIdle    = 16
	maxIdleAge = 30 * time.Second
)

// Send delivers raw to one recipient.
func (r *Relay) Send(ctx context.Context, from, to string, raw []byte) error {
	if c := r.take(); c != nil {
		err := c.transact(ctx, from, to, raw)
		r.done(c, err)
		if err == nil {
			return nil
		}
		if !stale(err) {
			return classify(err) // the relay answered: that is its verdict
		}
		// The cached connection had gone stale (closed under us, or the relay said 421 as it
		// closes an idle one): that is no verdict on this mail. Try once on a fresh one.
	}
	c, err := r.dial(ctx)
	if err != nil {
		return err
	}
	err = c.transact(ctx, from, to, raw)
	r.done(c, err)
	return classify(err)
}

// done caches c after a transaction, unless it failed and left c in no state to carry another.
func (r *Relay) done(c relayConn, err error) {
	if err == nil || c.reusable() {
		r.put(c)
		return
	}
	c.close()
}

// stale reports whether err on a cached connection says the connection, not the mail, failed:
// an I/O error, or 421 (RFC 5321 §3.8: the server is closing the transmission channel).
func stale(err error) bool {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return true
	}
	return se.Code == 421
}

// smtpClient is the path for a relay that does not pipeline: go-smtp's client, four round
// trips per mail (MAIL, RCPT, DATA, end of data).
type smtpClient struct {
	c       *smtp.Client
	timeout time.Duration
}

func (s smtpClient) transact(ctx context.Context, from, to string, raw []byte) error {
	c := s.c
	c.CommandTimeout, c.SubmissionTimeout = s.timeout, s.timeout
	var opts *smtp.MailOptions
	if !isASCII(from) || !isASCII(to) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(from, opts); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return err
	}
	noteReply(ctx, "250 "+resp.StatusText)
	return nil
}

func (s smtpClient) reusable() bool { return false }
func (s smtpClient) quit()          { _ = s.c.Quit() }
func (s smtpClient) close()         { _ = s.c.Close() }

func (p *pipelinedConn) reusable() bool { return !p.broken }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (r *Relay) timeout() time.Duration {
	if r.Timeout == 0 {
		return time.Minute
	}
	return r.Timeout
}

func (r *Relay) take() relayConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.idle) > 0 {
		ic := r.idle[len(r.idle)-1]
		r.idle = r.idle[:len(r.idle)-1]
		if time.Since(ic.since) < maxIdleAge {
			return ic.c
		}
		ic.c.close()
	}
	return nil
}

func (r *Relay) put(c relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.idle) >= maxIdle {
		c.quit()
		return
	}
	r.idle = append(r.idle, idleClient{c: c, since: time.Now()})
}

// Close closes the cached connections.
func (r *Relay) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ic := range r.idle {
		ic.c.quit()
	}
	r.idle = nil
}

// dial opens a connection: pipelined while the relay advertises PIPELINING; once it has been
// seen not to, go-smtp's client from then on (that first connection is closed and dialled
// again: one extra connection for the life of the Relay).
func (r *Relay) dial(ctx context.Context) (relayConn, error) {
	if !r.noPipelining.Load() {
		p, err := r.dialPipelined(ctx)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, errNoPipelining) {
			return nil, err
		}
		r.noPipelining.Store(true)
	}
	c, err := r.dialClient(ctx)
	if err != nil {
		return nil, err
	}
	return smtpClient{c: c, timeout: r.timeout()}, nil
}

func (r *Relay) addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// connect opens the TCP connection to the relay and returns the TLS settings to use on it.
func (r *Relay) connect(ctx context.Context) (net.Conn, *tls.Config, error) {
	addr := r.addr()
	tc := r.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: r.Host}
	}
	d := net.Dialer{Timeout: r.timeout()}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect relay %s: %w", addr, err)
	}
	return conn, tc, nil
}

func (r *Relay) dialClient(ctx context.Context) (*smtp.Client, error) {
	conn, tc, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	switch r.TLS {
	case "implicit":
		c = smtp.NewClient(tls.Client(conn, tc))
	case "starttls":
		if c, err = smtp.NewClientStartTLS(conn, tc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("relay %s starttls: %w", r.addr(), err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = r.timeout()
	if r.HelloName != "" {
		if err := c.Hello(r.HelloName); err != nil {
			c.Close()
			return nil, classify(err)
		}
	}
	if r.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.Username, r.Password)); err != nil {
			c.Close()
			return nil, classify(fmt.Errorf("relay auth: %w", err))
		}
	}
	return c, nil
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return &PermanentError{Err: err}
	}
	return err
}

// Maildir writes each mail as a file into dir/new (outbound.transport: file), the tmp-then-
// rename way so a reader never sees half a file.
type Maildir struct{ Dir string }

// Send writes raw into the Maildir.
func (m *Maildir) Send(_ context.Context, _, _ string, raw []byte) error {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(m.Dir, sub), 0o750); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + "." + NewID() + ".mailgate"
	tmp := filepath.Join(m.Dir, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o640); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.Dir, "new", name)); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// replyNote carries the relay's answer to the end of data back to the worker's log line,
// through the context so that a transport wrapping another (signing, say) passes it on.
type replyNote struct {
	mu  sync.Mutex
	msg string
}

type replyKey struct{}

func withReply(ctx context.Context) (context.Context, *replyNote) {
	n := &replyNote{}
	return context.WithValue(ctx, replyKey{}, n), n
}

// noteReply records text as the reply of the attempt ctx belongs to, if anyone listens.
func noteReply(ctx context.Context, text string) {
	if n, ok := ctx.Value(replyKey{}).(*replyNote); ok {
		n.mu.Lock()
		n.msg = text
		n.mu.Unlock()
	}
}

func (n *replyNote) text() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.msg
}
