package main

import (
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/config"
)

func TestLMTPUnixSocketModeAndGroup(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	group, gid := "", os.Getgid()
	if g, err := user.LookupGroup("nogroup"); err == nil {
		group = g.Name
		gid, _ = strconv.Atoi(g.Gid)
	}
	e := startEnv(t, func(c *config.Config) {
		c.LMTP.Listen = "unix:" + sock
		c.LMTP.SocketMode = "0660"
		c.LMTP.SocketGroup = group
	})
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != fs.ModeSocket || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode = %v, want srw-rw----", st.Mode())
	}
	if group != "" && int(st.Sys().(*syscall.Stat_t).Gid) != gid {
		t.Fatalf("socket group = %d, want %d (%s)", st.Sys().(*syscall.Stat_t).Gid, gid, group)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mx.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@customer.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("support@example.com", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg("alice@customer.example", "support@example.com", "Via the socket", "hello")))
	if resps, err := w.CloseWithLMTPResponse(); err != nil || len(resps) != 1 {
		t.Fatalf("LMTP replies %v, %v", resps, err)
	}
	eventually(t, "a ticket from the unix socket", func() bool { return len(e.tickets()) == 1 })

	// A second daemon on the same path must not take the live socket away.
	cfg := e.cfg
	cfg.SMTP.Listen, cfg.Metrics.Listen = "127.0.0.1:0", "127.0.0.1:0"
	if _, err := listenLMTP(cfg.LMTP); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the live socket was removed: %v", err)
	}
}

func TestLMTPSocketPathSafety(t *testing.T) {
	dir := t.TempDir()
	// A stale socket (its process gone) is replaced.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	nl, err := listenLMTP(config.LMTP{Listen: "unix:" + stale, SocketMode: "0600"})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	nl.Close()
	// A regular file at the path is never deleted.
	file := filepath.Join(dir, "notasocket")
	if err := os.WriteFile(file, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenLMTP(config.LMTP{Listen: "unix:" + file, SocketMode: "0660"}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatal("a regular file was replaced by the socket")
	}
}
