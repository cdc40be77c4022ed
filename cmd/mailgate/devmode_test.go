package main

import (
	"github.com/mailgate/mailgate/internal/logbuf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondDevServeKeepsTheFirst: a second `serve` in the same directory fails to bind and
// exits 1, leaving the running daemon's ./data/dev-redis.addr in place, so the CLI beside it
// still reaches the first daemon's store.
func TestSecondDevServeKeepsTheFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	smtpAddr := "127.0.0.1:" + freePort(t)
	env := append(os.Environ(), "MAILGATE_SMTP_LISTEN="+smtpAddr, "MAILGATE_METRICS_LISTEN=127.0.0.1:0")
	first := exec.Command(bin, "serve")
	first.Dir, first.Env = dir, env
	var logs logbuf.Buffer
	first.Stderr = &logs
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	t.Cleanup(func() { _ = first.Process.Kill() })
	waitListening(t, smtpAddr)
	file := filepath.Join(dir, devStoreFile)
	// The file is written once every listener is bound, a moment after SMTP answers.
	var before []byte
	eventually(t, "the first daemon's "+devStoreFile, func() bool {
		var err error
		before, err = os.ReadFile(file)
		return err == nil
	})

	second := exec.Command(bin, "serve")
	second.Dir, second.Env = dir, env
	out, err := runBounded(t, second)
	if err == nil {
		t.Fatalf("a second serve on the same address exited 0:\n%s", out)
	}
	after, err := os.ReadFile(file)
	if err != nil || string(after) != string(before) {
		t.Fatalf("the second serve changed %s: %q (%v), was %q", devStoreFile, after, err, before)
	}
	list := exec.Command(bin, "ticket", "list")
	list.Dir = dir
	if out, err := list.CombinedOutput(); err != nil {
		t.Fatalf("CLI beside the first daemon: %v\n%s", err, out)
	}
	_ = first.Process.Signal(syscall.SIGTERM)
	waitExit0(t, exited)
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the first daemon left %s behind: %v", devStoreFile, err)
	}
}

// runBounded runs cmd to its end, failing the test if it does not end.
func runBounded(t testing.TB, cmd *exec.Cmd) (string, error) {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%v still running", cmd.Args)
		return "", nil
	}
}
