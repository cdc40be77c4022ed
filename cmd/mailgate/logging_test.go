package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
)

func TestRateLimitedWarnings(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	log := slog.New(newRateLimited(slog.NewTextHandler(&buf, nil), time.Minute, func() time.Time { return now }))
	outbound := log.With("component", "outbound")
	for i := 0; i < 60; i++ {
		outbound.Warn("claim outbound mail", "err", "connection refused")
		log.Warn("claim outbound mail", "err", "connection refused") // another component: its own count
		log.Info("message handled", "n", i)                          // one line per mail: never limited
		now = now.Add(time.Second / 2)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	count := func(sub string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, sub) {
				n++
			}
		}
		return n
	}
	if got := count("claim outbound mail"); got != 2 {
		t.Fatalf("60 identical warnings per component in 30s gave %d lines, want 2:\n%s", got, buf.String())
	}
	if got := count("message handled"); got != 60 {
		t.Fatalf("info lines were limited: %d of 60", got)
	}
	buf.Reset()
	for i := 0; i < 5; i++ {
		log.Warn("outbound delivery attempt", "outbox_id", i, "outcome", "dead") // each about its own mail
	}
	if got := strings.Count(buf.String(), "outbound delivery attempt"); got != 5 {
		t.Fatalf("warnings about different mails were limited: %d of 5\n%s", got, buf.String())
	}
	buf.Reset()
	now = now.Add(time.Minute)
	outbound.Warn("claim outbound mail", "err", "connection refused")
	if !strings.Contains(buf.String(), "component=outbound") || !strings.Contains(buf.String(), "suppressed=59") {
		t.Fatalf("the first line after the window does not count what was left out: %s", buf.String())
	}
}

func TestNewLoggerFormatAndLevel(t *testing.T) {
	var buf bytes.Buffer
	var lv slog.LevelVar
	log := newLogger(&buf, config.Log{Format: "json", Level: "warn"}, &lv)
	log.Info("not shown")
	log.Warn("shown", "ticket", 30001)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "shown" || m["ticket"] != float64(30001) {
		t.Fatalf("json log: %v %q", err, buf.String())
	}
	lv.Set(slog.LevelDebug) // SIGHUP applies a new log.level to the same logger
	buf.Reset()
	log.Debug("now shown")
	if !strings.Contains(buf.String(), "now shown") {
		t.Fatalf("level change not applied: %q", buf.String())
	}
}

func TestDurabilityWithoutPersistenceIsAWarning(t *testing.T) {
	if durabilityLevel("redis 7.0.15, appendonly=false; NO persistence: a Redis restart loses accepted mail") != slog.LevelWarn {
		t.Fatal("NO persistence is not a warning")
	}
	if durabilityLevel("redis 7.0.15, appendonly=true appendfsync=always; every write is fsynced before Redis answers") != slog.LevelInfo {
		t.Fatal("a durable store is not info")
	}
}

// TestServeLogsJSON: with MAILGATE_LOG_FORMAT=json every line the daemon writes, from start
// to stop, is one JSON object, and each delivered outbound mail has its line.
func TestServeLogsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	smtpAddr := "127.0.0.1:" + freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MAILGATE_SMTP_LISTEN="+smtpAddr, "MAILGATE_METRICS_LISTEN=127.0.0.1:0", "MAILGATE_LOG_FORMAT=json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitListening(t, smtpAddr)
	if r := send(t, smtpAddr, "alice@customer.example", []string{"support@localhost"}, msg("alice@customer.example", "support@localhost", "Printer on fire", "It is on fire.")); r.Code != 250 {
		t.Fatal(r)
	}
	eventually(t, "ack and notice in the Maildir", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "data", "outbox", "new", "*"))
		return len(files) == 2
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	waitExit0(t, exited)
	delivered := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q\nall:\n%s", line, stderr.String())
		}
		if m["msg"] == "outbound delivery attempt" && m["outcome"] == "sent" && m["ticket"] == float64(30001) {
			delivered++
		}
	}
	if delivered != 2 {
		t.Fatalf("%d delivery lines for ticket 30001, want 2 (ack, notice):\n%s", delivered, stderr.String())
	}
}
