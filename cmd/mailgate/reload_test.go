package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

// TestReloadReachesRCPT: a reload (what SIGHUP does) applies the support addresses to RCPT
// at once: an added address is accepted, a removed one is refused at RCPT with 550 5.1.1,
// not accepted there and refused later with another code.
func TestReloadReachesRCPT(t *testing.T) {
	e := startEnv(t, nil)
	addr := e.d.SMTPAddr
	sales := msg("alice@customer.example", "sales@example.com", "quote", "How much?")
	billing := msg("alice@customer.example", "billing@example.com", "invoice", "Where is it?")
	if r := send(t, addr, "alice@customer.example", []string{"sales@example.com"}, sales); r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Fatalf("sales@ before the reload: %s", r)
	}
	cfg := e.cfg
	cfg.Support.Addresses = []string{"support@example.com", "sales@example.com"}
	if _, err := e.d.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if r := send(t, addr, "alice@customer.example", []string{"sales@example.com"}, sales); r.Code != 250 {
		t.Fatalf("sales@ after the reload: %s", r)
	}
	if ts := e.tickets(); len(ts) != 1 || ts[0].Queue != "sales@example.com" {
		t.Fatalf("tickets after the reload: %+v", ts)
	}
	if r := send(t, addr, "alice@customer.example", []string{"billing@example.com"}, billing); r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Fatalf("removed billing@ after the reload: %s, want 550 5.1.1 at RCPT", r)
	}
}

// TestListenerFailureStopsDaemon: a listener that stops serving stops the whole daemon with an
// error (exit 1 from serve), so a supervisor restarts it, instead of staying up healthy and
// deaf.
func TestListenerFailureStopsDaemon(t *testing.T) {
	e := startEnv(t, nil)
	if len(e.d.listeners) == 0 {
		t.Fatal("no listeners recorded")
	}
	_ = e.d.listeners[0].Close()
	stopped := make(chan error, 1)
	go func() { stopped <- e.d.Wait() }()
	select {
	case err := <-stopped:
		if err == nil {
			t.Fatal("the daemon stopped without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon is still running with a dead SMTP listener")
	}
}

// TestBinarySIGTERMClosesIdleSessions: the real binary answers an idle client 421 4.3.2 at
// SIGTERM and exits 0, instead of holding the stop until the client's timeout.
func TestBinarySIGTERMClosesIdleSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	relay := smtpcapture.Start(t)
	cfg := testConfig(t, relay.Port())
	cfg.SMTP.Listen = "127.0.0.1:" + freePort(t)
	redistest.Client(t, cfg.Redis.KeyPrefix)
	p := startProc(t, cfg)
	c, err := net.Dial("tcp", cfg.SMTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "220") {
		t.Fatalf("greeting %q", l)
	}
	io.WriteString(c, "EHLO idle.test\r\n")
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "250 ") {
			break
		}
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	rest, err := io.ReadAll(r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the idle session was not closed at SIGTERM (got %q)", rest)
	}
	if !strings.HasPrefix(string(rest), "421 4.3.2") {
		t.Fatalf("idle client at SIGTERM got %q, want 421 4.3.2", rest)
	}
	p.term(t)
}
