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
// than the mail itself.
type Relay struct {
	Host, Username, Password string
	Port                     int
	TLS                      string // none | starttls | implicit
	HelloName                string
	Timeout                  time.Duration
	// TLSConfig overrides the default verification (tests use a self-signed relay).
	TLSConfig *tls.Config

	mu   sync.Mutex
	idle []idleClient
}

type idleClient struct {
	c     *smtp.Client
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
		err := r.transact(ctx, c, from, to, raw)
		if err == nil {
			r.put(c)
			return nil
		}
		c.Close()
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
	if err := r.transact(ctx, c, from, to, raw); err != nil {
		c.Close()
		return classify(err)
	}
	r.put(c)
	return nil
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

// transact runs one mail transaction on c and notes the relay's reply to the end of data.
func (r *Relay) transact(ctx context.Context, c *smtp.Client, from, to string, raw []byte) error {
	timeout := r.timeout()
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
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

func (r *Relay) take() *smtp.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.idle) > 0 {
		ic := r.idle[len(r.idle)-1]
		r.idle = r.idle[:len(r.idle)-1]
		if time.Since(ic.since) < maxIdleAge {
			return ic.c
		}
		_ = ic.c.Close()
	}
	return nil
}

func (r *Relay) put(c *smtp.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.idle) >= maxIdle {
		_ = c.Quit()
		return
	}
	r.idle = append(r.idle, idleClient{c: c, since: time.Now()})
}

// Close closes the cached connections.
func (r *Relay) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ic := range r.idle {
		_ = ic.c.Quit()
	}
	r.idle = nil
}

func (r *Relay) dial(ctx context.Context) (*smtp.Client, error) {
	addr := net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
	tc := r.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: r.Host}
	}
	d := net.Dialer{Timeout: r.timeout()}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect relay %s: %w", addr, err)
	}
	var c *smtp.Client
	switch r.TLS {
	case "implicit":
		c = smtp.NewClient(tls.Client(conn, tc))
	case "starttls":
		if c, err = smtp.NewClientStartTLS(conn, tc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("relay %s starttls: %w", addr, err)
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
