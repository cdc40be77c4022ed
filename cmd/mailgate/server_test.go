package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

func TestMetricsExposition(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "x")
	e.waitMails("team@example.com", 1)
	e.drained()
	resp, err := http.Get("http://" + e.d.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, name := range []string{
		"mailgate_smtp_sessions_active", "mailgate_smtp_sessions_total", `mailgate_messages_total{outcome="created"} 1`,
		`mailgate_messages_total{outcome="auto"} 0`, `mailgate_rejections_total{reason="not_in_to"} 0`,
		"mailgate_tickets_created_total 1", "mailgate_ingest_duration_seconds_bucket", `mailgate_outbound_sent_total{kind="ack"} 1`,
		`mailgate_outbound_sent_total{kind="notice"} 1`, "mailgate_outbound_failures_total 0", "mailgate_outbound_queue_depth",
		"mailgate_outbound_dead_letters", "mailgate_outbound_oldest_age_seconds", "mailgate_store_errors_total 0",
	} {
		if !strings.Contains(text, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	var ours strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "mailgate_") {
			ours.WriteString(l + "\n")
		}
	}
	problems, err := promlint.New(strings.NewReader(ours.String())).Lint()
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %+v", err, problems)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(ours.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

func TestLMTP(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.LMTP.Listen = "127.0.0.1:0" })
	conn, err := net.Dial("tcp", e.d.LMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mta.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@customer.example", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"support@example.com", "billing@example.com"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rcpt("stranger@elsewhere.example", nil); toReply(err).Code != 550 {
		t.Fatalf("LMTP rule 1: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, msg("alice@customer.example", "support@example.com, billing@example.com", "Via LMTP", "hello"))
	resps, err := w.CloseWithLMTPResponse()
	if err != nil || len(resps) != 2 {
		t.Fatalf("LMTP replies %v, %v", resps, err)
	}
	if ts := e.tickets(); len(ts) != 1 {
		t.Fatalf("one message to two of our addresses is one ticket: %d", len(ts))
	}
}

func selfSigned(t testing.TB) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.support.example"},
		DNSNames: []string{"mx.support.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return
}

func TestSTARTTLS(t *testing.T) {
	cert, key := selfSigned(t)
	e := startEnv(t, func(c *config.Config) { c.SMTP.TLS = config.TLS{CertFile: cert, KeyFile: key} })
	c, err := smtp.DialStartTLS(e.d.SMTPAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("not encrypted")
	}
	if err := c.SendMail("alice@customer.example", []string{"support@example.com"}, strings.NewReader(msg("alice@customer.example", "support@example.com", "tls", "x"))); err != nil {
		t.Fatal(err)
	}
	if len(e.tickets()) != 1 {
		t.Fatal("no ticket over TLS")
	}
}

func TestSessionLimits(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.SMTP.MaxSessions = 1; c.SMTP.MaxRecipients = 2 })
	first, err := smtp.Dial(e.d.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.Hello("one.test"); err != nil {
		t.Fatal(err)
	}
	// The second concurrent session is turned away with 421.
	conn, err := net.Dial("tcp", e.d.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Fatalf("second session greeted with %q, want 421", line)
	}
	// max_recipients: the third RCPT is refused.
	if err := first.Mail("a@customer.example", nil); err != nil {
		t.Fatal(err)
	}
	first.Rcpt("support@example.com", nil)
	first.Rcpt("billing@example.com", nil)
	if r := toReply(first.Rcpt("helpdesk@example.com", nil)); r.Code != 452 {
		t.Fatalf("third recipient: %s, want 452", r)
	}
}

func TestReadTimeout(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.SMTP.ReadTimeout = config.Duration(300 * time.Millisecond) })
	conn, err := net.Dial("tcp", e.d.SMTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	// The server closes an idle session: reading reaches EOF well before our own deadline.
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("an idle session was not closed by read_timeout")
	}
}

// TestBinarySIGTERM runs the real binary: it serves, takes mail, and exits 0 on SIGTERM.
func TestBinarySIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	relay := smtpcapture.Start(t)
	cfg := testConfig(t, relay.Port())
	cfg.SMTP.Listen = "127.0.0.1:" + freePort(t)
	redistest.Client(t, cfg.Redis.KeyPrefix) // removes the test's keys at the end
	p := startProc(t, cfg)
	if r := send(t, cfg.SMTP.Listen, "alice@customer.example", []string{"support@example.com"}, msg("alice@customer.example", "support@example.com", "hi", "x")); r.Code != 250 {
		t.Fatal(r)
	}
	relay.WaitFor(t, "the acknowledgement", func(ms []smtpcapture.Mail) bool { return len(smtpcapture.To(ms, "alice@customer.example")) == 1 })
	// A transaction in flight at SIGTERM (MAIL FROM accepted) is finished, not cut; an idle
	// session would be closed at once (TestBinarySIGTERMClosesIdleSessions).
	c, err := smtp.Dial(cfg.SMTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	c.Hello("x.test")
	if err := c.Mail("bob@customer.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("support@example.com", nil); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	w, err := c.Data()
	if err == nil {
		_, err = io.WriteString(w, msg("bob@customer.example", "support@example.com", "during shutdown", "y"))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatalf("transaction in flight at SIGTERM: %v", err)
	}
	c.Close()
	p.term(t)
	out, _, _ := cli(t, "ticket", "list", "--json", "--config", p.configFile())
	if ts := decodeJSON[[]map[string]any](t, out); len(ts) != 2 {
		t.Fatalf("tickets after shutdown: %s", out)
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds cmd/mailgate once per test run.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mailgate-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mailgate")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestDevMode: no config at all; the CLI run beside the daemon reads its embedded store and
// outbound mail lands in ./data/outbox.
func TestDevMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	smtpAddr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAILGATE_SMTP_LISTEN="+smtpAddr, "MAILGATE_METRICS_LISTEN=127.0.0.1:0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", stderr.String())
		}
	})
	waitListening(t, smtpAddr)
	if r := send(t, smtpAddr, "alice@customer.example", []string{"support@localhost"}, msg("alice@customer.example", "support@localhost", "Printer on fire", "It is on fire.")); r.Code != 250 {
		t.Fatal(r)
	}
	eventually(t, "ack and notice in the Maildir", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "data", "outbox", "new", "*"))
		return len(files) == 2
	})
	show := exec.Command(bin, "ticket", "show", "30001", "--json")
	show.Dir = dir
	out, err := show.Output()
	if err != nil || !strings.Contains(string(out), `"creator": "alice@customer.example"`) {
		t.Fatalf("CLI beside the dev daemon: %v\n%s", err, out)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	waitExit0(t, exited)
	if !strings.Contains(stderr.String(), "DEV MODE") || !strings.Contains(stderr.String(), "IN-MEMORY") {
		t.Fatalf("dev mode is not announced loudly:\n%s", stderr.String())
	}
}

// waitListening polls until something accepts connections on addr.
func waitListening(t testing.TB, addr string) {
	t.Helper()
	eventually(t, "a listener on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// waitExit0 waits (bounded) for a process to exit and checks it exited 0.
func waitExit0(t testing.TB, exited <-chan error) {
	t.Helper()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestSIGHUPReload: the binary re-reads its config file on SIGHUP and applies it to the next
// message; a broken file changes nothing.
func TestSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	relay := smtpcapture.Start(t)
	cfg := testConfig(t, relay.Port())
	cfg.SMTP.Listen = "127.0.0.1:" + freePort(t)
	redistest.Client(t, cfg.Redis.KeyPrefix)
	p := startProc(t, cfg)
	file := p.configFile()
	ccOnly := "From: a@customer.example\r\nTo: friend@customer.example\r\nCc: support@example.com\r\nSubject: fyi\r\n\r\nx\r\n"
	if r := send(t, cfg.SMTP.Listen, "a@customer.example", []string{"support@example.com"}, ccOnly); r.Code != 550 {
		t.Fatalf("before reload: %s", r)
	}
	// A broken file is refused and the running config stays.
	os.WriteFile(file, []byte("tickets: {not_in_to: maybe}\n"), 0o600)
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the broken file to be refused", func() bool { return strings.Contains(p.logs.String(), "config not reloaded") })
	if r := send(t, cfg.SMTP.Listen, "a@customer.example", []string{"support@example.com"}, ccOnly); r.Code != 550 {
		t.Fatalf("a broken file changed the running config: %s", r)
	}
	cfg.Tickets.NotInTo = "ignore"
	e2 := &env{t: t, cfg: cfg}
	b, _ := os.ReadFile(e2.configFile())
	os.WriteFile(file, b, 0o600)
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the reloaded not_in_to: ignore", func() bool {
		return send(t, cfg.SMTP.Listen, "a@customer.example", []string{"support@example.com"}, ccOnly).Code == 250
	})
	p.term(t)
}
