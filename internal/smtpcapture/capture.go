// Package smtpcapture is a real SMTP server for tests that captures what mailgate sends, and
// can be told to answer with an error.
package smtpcapture

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one captured message.
type Mail struct {
	From string
	To   []string
	Data string
}

// Server captures mail on a loopback port.
type Server struct {
	Addr string
	srv  *smtp.Server

	mu      sync.Mutex
	mails   []Mail
	failErr *smtp.SMTPError
	changed chan struct{}
}

// Start starts a capture server, stopped when the test ends.
func Start(t testing.TB) *Server { return StartAt(t, "127.0.0.1:0") }

// StartAt starts a capture server on addr (a relay that comes up late).
func StartAt(t testing.TB, addr string) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "capture.test"
	s.srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Fail makes every following DATA answer err (nil: accept again).
func (s *Server) Fail(err *smtp.SMTPError) {
	s.mu.Lock()
	s.failErr = err
	s.mu.Unlock()
}

// Mails returns what was captured so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitFor polls until pred holds for the captured mail or the deadline passes.
func (s *Server) WaitFor(t testing.TB, what string, pred func([]Mail) bool) []Mail {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s.mu.Lock()
		ms := append([]Mail(nil), s.mails...)
		ch := s.changed
		s.mu.Unlock()
		if pred(ms) {
			return ms
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; captured %d mails", what, len(ms))
		}
	}
}

// To returns the captured mails addressed to rcpt.
func To(ms []Mail, rcpt string) []Mail {
	var out []Mail
	for _, m := range ms {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }
func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from = from
	return nil
}
func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}
func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	if se.s.failErr != nil {
		return se.s.failErr
	}
	se.s.mails = append(se.s.mails, Mail{From: se.from, To: se.to, Data: string(b)})
	close(se.s.changed)
	se.s.changed = make(chan struct{})
	return nil
}
