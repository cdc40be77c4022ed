// Package smtpd is mailgate's SMTP and LMTP front: go-smtp sessions, limits, and every reply
// code of SPEC §2. It reads the message and hands it to a Handler.
package smtpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/metrics"
)

// Handler takes one complete message. An error means our side failed (answered 451).
type Handler interface {
	Deliver(ctx context.Context, envFrom string, raw []byte) (ingest.Result, error)
}

// Config is the part of the configuration the server needs.
type Config struct {
	Hostname        string
	MaxMessageBytes int64
	MaxRecipients   int
	MaxSessions     int
	MaxPerIP        int // sessions one client address may hold at once
	MaxErrors       int // refused commands before the session is closed
	ReadTimeout     time.Duration
	TLS             *tls.Config
	// IsSupport reports whether a recipient is a support address or alias (rule 1).
	IsSupport func(addr string) bool
	LMTP      bool
}

// Server is one SMTP or LMTP listener.
type Server struct {
	cfg   Config
	h     Handler
	log   *slog.Logger
	m     *metrics.Metrics
	srv   *smtp.Server
	sem   chan struct{}
	large chan struct{} // messages over spoolAt being parsed
	base  context.Context
}

// New returns a server; Serve starts it.
func New(cfg Config, h Handler, log *slog.Logger, m *metrics.Metrics) *Server {
	s := &Server{cfg: cfg, h: h, log: log, m: m, sem: make(chan struct{}, cfg.MaxSessions),
		large: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), base: context.Background()}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.ReadTimeout
	// A single-line HTML body can be far over the default 2000 (DEPENDENCY-NOTES); RFC 5321's
	// 1000 is routinely broken by real mail, so accept long lines up to a sane bound.
	srv.MaxLineLength = 1 << 20
	srv.LMTP = cfg.LMTP
	srv.TLSConfig = cfg.TLS
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogAdapter{log}
	s.srv = srv
	return s
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.l.Warn(fmt.Sprint(v...)) }

// Serve accepts on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.srv.Serve(&limitListener{Listener: l, sem: s.sem, hostname: s.cfg.Hostname,
		maxPerIP: s.cfg.MaxPerIP, maxErrors: s.cfg.MaxErrors, perIP: map[string]int{}})
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for sessions in flight until ctx ends, then closes them.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.m.SessionsTotal.Inc()
	s.m.SessionsActive.Inc()
	remote := ""
	if a := c.Conn().RemoteAddr(); a != nil {
		remote = a.String()
	}
	return &session{s: s, log: s.log.With("remote", remote)}, nil
}

// limitListener refuses connections past max_sessions, or past max_sessions_per_ip from one
// address, with a 421, as Postfix does, instead of letting them queue unseen in the backlog.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	hostname  string
	maxPerIP  int
	maxErrors int

	mu    sync.Mutex
	perIP map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		if !l.takeIP(ip) {
			refuse(c, "421 4.7.0 "+l.hostname+" too many connections from your address, try again later\r\n")
			continue
		}
		select {
		case l.sem <- struct{}{}:
			return &limitedConn{Conn: c, maxErrors: l.maxErrors, hostname: l.hostname, release: func() {
				<-l.sem
				l.releaseIP(ip)
			}}, nil
		default:
			l.releaseIP(ip)
			refuse(c, "421 4.7.0 "+l.hostname+" too many connections, try again later\r\n")
		}
	}
}

func refuse(c net.Conn, line string) {
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, line)
	_ = c.Close()
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

func (l *limitListener) takeIP(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxPerIP > 0 && l.perIP[ip] >= l.maxPerIP {
		return false
	}
	l.perIP[ip]++
	return true
}

func (l *limitListener) releaseIP(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

// limitedConn releases its slot on close, and closes the session after maxErrors 4xx/5xx
// replies: go-smtp has no error limit, so replies are counted where they are written.
type limitedConn struct {
	net.Conn
	once      sync.Once
	release   func()
	maxErrors int
	errors    int
	hostname  string
}

func (c *limitedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil || c.maxErrors <= 0 {
		return n, err
	}
	// Final lines of 4xx/5xx replies ("550 ..."), not continuation lines ("250-..."); scanned
	// in place, since every reply of every session passes here.
	for start := 0; start < len(b); {
		line := b[start:]
		if len(line) >= 4 && (line[0] == '4' || line[0] == '5') && line[3] == ' ' {
			c.errors++
		}
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			break
		}
		start += i + 1
	}
	if c.errors >= c.maxErrors {
		_, _ = io.WriteString(c.Conn, "421 4.7.0 "+c.hostname+" too many errors, closing connection\r\n")
		_ = c.Conn.Close()
	}
	return n, err
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// session is one SMTP transaction at a time (go-smtp Session).
type session struct {
	s     *Server
	log   *slog.Logger
	from  string
	size  int64 // SIZE= from MAIL FROM, 0 when not given
	rcpts []string
}

func (se *session) Reset() {
	se.from = ""
	se.size = 0
	se.rcpts = nil
}

func (se *session) Logout() error {
	se.s.m.SessionsActive.Dec()
	return nil
}

func (se *session) Mail(from string, opts *smtp.MailOptions) error {
	se.from = strings.ToLower(from)
	se.size = 0
	if opts != nil {
		se.size = opts.Size
	}
	se.rcpts = nil
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr := strings.ToLower(strings.TrimSpace(to))
	if !se.s.cfg.IsSupport(addr) {
		se.s.m.Rejections.WithLabelValues("not_support_address").Inc()
		return errNotSupport
	}
	se.rcpts = append(se.rcpts, addr)
	return nil
}

func (se *session) Data(r io.Reader) error {
	return se.deliver(r)
}

// LMTPData answers each recipient with the one result: the message is handled once, whoever
// of our addresses it was sent to.
func (se *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	err := se.deliver(r)
	for _, rc := range se.rcpts {
		status.SetStatus(rc, err)
	}
	return nil
}

// deliver reads the whole message, hands it on and turns the result into a reply. Every
// error returned is an *smtp.SMTPError: anything else go-smtp answers 554 (DEPENDENCY-NOTES).
func (se *session) deliver(r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			se.log.Error("panic while handling message", "panic", p)
			err = tempFail("internal error")
		}
	}()
	msg, err := readMessage(r, se.size)
	if err != nil {
		var serr *smtp.SMTPError
		if errors.As(err, &serr) {
			if serr.Code == 552 {
				se.s.m.Rejections.WithLabelValues("too_big").Inc()
				se.s.m.Messages.WithLabelValues("rejected").Inc()
			}
			return serr
		}
		if errors.Is(err, errSpool) {
			se.log.Error("spool failed; message deferred", "err", err)
			return tempFail("spool")
		}
		se.s.m.Rejections.WithLabelValues("bad_data").Inc()
		return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Could not read the message: " + err.Error()}
	}
	defer msg.close()
	if msg.large() {
		// Large messages are parsed a few at a time: parsing holds the message and its
		// decoded parts in memory, and more at once would not go faster on these cores.
		se.s.large <- struct{}{}
		defer func() { <-se.s.large }()
	}
	raw, err := msg.bytes()
	if err != nil {
		se.log.Error("spool failed; message deferred", "err", err)
		return tempFail("spool")
	}
	if smuggled(raw) {
		// A lone "." between bare CR/LF is an SMTP smuggling attempt (CVE-2023-51764):
		// a less careful hop would see two messages where we see one.
		se.s.m.Rejections.WithLabelValues("bad_data").Inc()
		se.s.m.Messages.WithLabelValues("rejected").Inc()
		return errSmuggling
	}
	start := time.Now()
	defer func() { se.s.m.IngestDuration.Observe(time.Since(start).Seconds()) }()
	res, err := se.s.h.Deliver(se.s.base, se.from, raw)
	if err != nil {
		se.s.m.StoreErrors.Inc()
		se.s.m.Rejections.WithLabelValues("store").Inc()
		id := newRef()
		se.log.Error("store failed; message deferred", "ref", id, "err", err)
		return tempFail("ref " + id)
	}
	if res.Reject {
		return rejection(res)
	}
	return nil
}

// smuggled reports whether raw holds a line made of one "." ended or started by a bare CR or
// LF. The real end of data (CRLF.CRLF) never reaches us, so any such line is an attempt.
func smuggled(raw []byte) bool {
	for i := 1; i+1 < len(raw); i++ {
		if raw[i] != '.' {
			continue
		}
		prev, next := raw[i-1], raw[i+1]
		if (prev != '\r' && prev != '\n') || (next != '\r' && next != '\n') {
			continue
		}
		crlfBefore := prev == '\n' && i >= 2 && raw[i-2] == '\r'
		crlfAfter := next == '\r' && i+2 < len(raw) && raw[i+2] == '\n'
		if !crlfBefore || !crlfAfter {
			return true
		}
	}
	return false
}
