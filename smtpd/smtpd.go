// Package smtpd is mailgate's SMTP and LMTP front: go-smtp sessions, limits, and every reply
// code of the inbound rules. It reads the message and hands it to a Handler.
package smtpd

import (
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
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/reason"
	"github.com/mailgate/mailgate/threading"
)

// Handler takes one complete message. An error means our side failed (answered 451).
type Handler interface {
	Deliver(ctx context.Context, envFrom string, raw []byte) (ingest.Result, error)
}

// Rules is the part of the configuration a reload (SIGHUP) may change: it is asked at each
// use, so that a reload applies to the next command, never captured at start-up.
type Rules interface {
	// IsSupport reports whether a recipient is a support address or alias (rule 1).
	IsSupport(addr string) bool
}

// Config is the part of the configuration the server needs; all but Rules are read once.
type Config struct {
	Hostname        string
	MaxMessageBytes int64
	MaxRecipients   int
	MaxSessions     int
	MaxPerIP        int // sessions one client address may hold at once
	MaxErrors       int // refusals before the connection is closed
	ReadTimeout     time.Duration
	TLS             *tls.Config
	Rules           Rules
	LMTP            bool
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

	mu       sync.Mutex
	ln       *limitListener
	draining atomic.Bool
}

// New returns a server; Serve starts it.
func New(cfg Config, h Handler, log *slog.Logger, m *metrics.Metrics) *Server {
	s := &Server{cfg: cfg, h: h, log: log, m: m, sem: make(chan struct{}, cfg.MaxSessions),
		large: make(chan struct{}, 2*runtime.GOMAXPROCS(0)), base: context.Background()}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	// max_recipients is enforced by the session, so that the refusal is ours and counted.
	srv.MaxRecipients = 0
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.ReadTimeout
	// A single-line HTML body can be far over the default 2000; RFC 5321's 1000 is routinely
	// broken by real mail, so accept long lines up to a sane bound.
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

// Serve accepts on l until Shutdown; any other end is an error.
func (s *Server) Serve(l net.Listener) error {
	ll := newLimitListener(l, s)
	s.mu.Lock()
	s.ln = ll
	s.mu.Unlock()
	err := s.srv.Serve(ll)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes idle sessions at once with 421 4.3.2 and waits for the
// transactions in flight until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	ll := s.ln
	s.mu.Unlock()
	if ll != nil {
		ll.drain()
	}
	err := s.srv.Shutdown(ctx)
	if err != nil && ll != nil {
		// go-smtp's Close does nothing once Shutdown has begun: the sessions still open at
		// the deadline are closed here.
		ll.closeAll()
	}
	return err
}

// countRefusal counts a refusal smtpd decides itself (ingest counts its own).
func (s *Server) countRefusal(why reason.Reason) {
	s.m.Rejections.WithLabelValues(string(why)).Inc()
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.m.SessionsTotal.Inc()
	s.m.SessionsActive.Inc()
	tc := tracked(c.Conn())
	tc.setTop(c.Conn())
	return &session{s: s, c: tc, log: s.log.With("session", tc.id, "remote", remoteAddr(c.Conn()))}, nil
}

// session is one SMTP transaction at a time (go-smtp Session).
type session struct {
	s     *Server
	c     *conn
	log   *slog.Logger
	from  string
	utf8  bool  // the client gave SMTPUTF8: replies may carry UTF-8
	size  int64 // SIZE= from MAIL FROM, 0 when not given
	rcpts []string
}

func (se *session) Reset() {
	se.from = ""
	se.size = 0
	se.rcpts = nil
	se.c.end()
	if se.c.exhausted.Load() {
		se.c.bye(reason.TooManyErrors)
	} else if se.s.draining.Load() {
		// The transaction in flight at shutdown is over (its reply is written): close now.
		se.c.closeIfIdle()
	}
}

func (se *session) Logout() error {
	se.c.end()
	se.s.m.SessionsActive.Dec()
	return nil
}

// refuse answers why and counts it, towards smtp.max_errors too: at the limit the refusal is
// still answered, then the connection is closed with a 421 (conn.Read).
func (se *session) refuse(why reason.Reason, detail string) error {
	se.s.countRefusal(why)
	return se.counted(refusal(why, detail, se.utf8))
}

// refuseRcpt refuses a recipient with one log line: RCPT-stage refusals are the ones a
// sender's bounce shows and the "message handled" line never does.
func (se *session) refuseRcpt(rcpt string, why reason.Reason) error {
	se.log.Info("recipient refused", "rcpt", logCut(rcpt), "reason", why)
	return se.refuse(why, "")
}

// counted applies smtp.max_errors to a refusal written to the client and adds the session
// id to it. Our own failures (451 store) are not the client's fault and do not count.
func (se *session) counted(e *smtp.SMTPError) error {
	if e.Code != 451 && se.c.refused(se.s.cfg.MaxErrors) {
		se.s.countRefusal(reason.TooManyErrors)
		se.log.Info("too many errors; closing the connection", "reason", reason.TooManyErrors)
	}
	return withSession(e, se.c.id)
}

// tagged adds the session id to a reply of ours; other errors are passed as they are.
func (se *session) tagged(err error) error {
	var serr *smtp.SMTPError
	if errors.As(err, &serr) {
		return withSession(serr, se.c.id)
	}
	return err
}

// closing is the reply to a command on a connection that is being closed.
func (se *session) closing() error {
	if se.c.exhausted.Load() {
		se.c.bye(reason.TooManyErrors)
		return withSession(refusal(reason.TooManyErrors, "", false), se.c.id)
	}
	return withSession(refusal(reason.ShuttingDown, "", false), se.c.id)
}

// maxLogAddr bounds an address quoted in the log: RFC 5321 addresses fit in 256 octets, and
// go-smtp takes command lines far longer than that.
const maxLogAddr = 320

func logCut(s string) string {
	if len(s) > maxLogAddr {
		return s[:maxLogAddr] + "..."
	}
	return s
}

func (se *session) Mail(from string, opts *smtp.MailOptions) error {
	if se.c.exhausted.Load() || !se.c.begin() {
		return se.closing()
	}
	se.from = strings.ToLower(from)
	se.size, se.utf8 = 0, false
	if opts != nil {
		se.size, se.utf8 = opts.Size, opts.UTF8
	}
	se.rcpts = nil
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.c.exhausted.Load() {
		return se.closing()
	}
	addr := strings.ToLower(strings.TrimSpace(to))
	if !se.s.cfg.Rules.IsSupport(addr) {
		return se.refuseRcpt(addr, reason.NotSupportAddress)
	}
	if se.s.cfg.MaxRecipients > 0 && len(se.rcpts) >= se.s.cfg.MaxRecipients {
		return se.refuseRcpt(addr, reason.TooManyRecipients)
	}
	se.rcpts = append(se.rcpts, addr)
	return nil
}

func (se *session) Data(r io.Reader) error {
	if se.c.exhausted.Load() {
		return se.closing()
	}
	err := se.deliver(r)
	var serr *smtp.SMTPError
	if errors.As(err, &serr) {
		return se.counted(serr)
	}
	return err
}

// LMTPData answers each recipient with the one result: the message is handled once, whoever
// of our addresses it was sent to.
func (se *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	err := se.tagged(se.deliver(r))
	for _, rc := range se.rcpts {
		status.SetStatus(rc, err)
	}
	return nil
}

// deliver reads the whole message, hands it on and turns the result into a reply. Every
// error returned is an *smtp.SMTPError: anything else go-smtp answers 554, a permanent
// failure that also shows our internals.
func (se *session) deliver(r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			ref := newRef()
			se.log.Error("panic while handling message", "ref", ref, "panic", p)
			err = tempFail(ref)
		}
	}()
	msg, err := readMessage(r, se.size)
	if err != nil {
		var serr *smtp.SMTPError
		switch {
		case errors.As(err, &serr) && serr.Code == 552:
			se.s.m.Messages.WithLabelValues(threading.OutcomeRejected).Inc()
			se.s.countRefusal(reason.TooBig)
			se.log.Info("message handled", "envelope_from", se.from, "outcome", threading.OutcomeRejected,
				"reason", reason.TooBig, "recipients", len(se.rcpts))
			return refusal(reason.TooBig, "", se.utf8)
		case errors.Is(err, errSpool):
			ref := newRef()
			se.log.Error("spool failed; message deferred", "ref", ref, "err", err)
			return tempFail(ref)
		}
		se.log.Info("could not read the message data", "err", err)
		se.s.countRefusal(reason.BadData)
		return refusal(reason.BadData, "", se.utf8)
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
		ref := newRef()
		se.log.Error("spool failed; message deferred", "ref", ref, "err", err)
		return tempFail(ref)
	}
	if smuggled(raw) {
		// A lone "." between bare CR/LF is an SMTP smuggling attempt (CVE-2023-51764):
		// a less careful hop would see two messages where we see one.
		se.s.countRefusal(reason.Smuggling)
		se.s.m.Messages.WithLabelValues(threading.OutcomeRejected).Inc()
		se.log.Info("message handled", "envelope_from", se.from, "outcome", threading.OutcomeRejected,
			"reason", reason.Smuggling, "size", len(raw), "recipients", len(se.rcpts))
		return refusal(reason.Smuggling, "", se.utf8)
	}
	start := time.Now()
	defer func() { se.s.m.IngestDuration.Observe(time.Since(start).Seconds()) }()
	res, err := se.s.h.Deliver(se.s.base, se.from, raw)
	if err != nil {
		se.s.m.StoreErrors.Inc()
		se.s.countRefusal(reason.Store)
		ref := newRef()
		se.log.Error("store failed; message deferred", "ref", ref, "err", err)
		return tempFail(ref)
	}
	se.log.Info("message handled", "msgid", res.MessageID, "envelope_from", se.from, "outcome", res.Outcome,
		"reason", res.Reason, "ticket", res.TicketID, "size", len(raw), "recipients", len(se.rcpts))
	if res.Reject {
		return refusal(res.Reason, res.Detail, se.utf8)
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
