package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/store"
)

// postfix is a private Postfix instance (its own config, queue and log under one directory),
// started with `postfix -c DIR start` and stopped when the test ends.
type postfix struct {
	dir, etc, smtpAddr string
}

// startPostfix runs Postfix relaying by transport (recipient or domain -> Postfix transport).
// Back-offs are cut to seconds so that a deferred mail comes back within the test.
func startPostfix(t *testing.T, transport map[string]string) *postfix {
	t.Helper()
	dir, err := os.MkdirTemp("", "mgpostfix")
	if err != nil {
		t.Fatal(err)
	}
	// Postfix's daemons run as user postfix and must reach the queue under dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &postfix{dir: dir, etc: filepath.Join(dir, "etc"), smtpAddr: "127.0.0.1:" + freePort(t)}
	for _, d := range []string{p.etc, filepath.Join(dir, "spool"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "postfix", filepath.Join(dir, "data")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	var tr strings.Builder
	for k, v := range transport {
		fmt.Fprintf(&tr, "%s %s\n", k, v)
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.postfix.test
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relay_domains = example.com
transport_maps = texthash:%[1]s/etc/transport
smtp_dns_support_level = disabled
lmtp_host_lookup = native
alias_maps =
alias_database =
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connection_cache_on_demand = no
lmtp_connection_cache_on_demand = no
`, dir)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(p.etc, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", main)
	write("transport", tr.String())
	write("master.cf", masterCF(t, p.smtpAddr))
	t.Cleanup(func() {
		_ = exec.Command("postfix", "-c", p.etc, "stop").Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	if out, err := exec.Command("postfix", "-c", p.etc, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s", err, out)
	}
	waitListening(t, p.smtpAddr)
	return p
}

// masterCF is the system's master.cf with no chroot (the private queue is not a chroot)
// and smtpd on addr.
func masterCF(t *testing.T, addr string) string {
	b, err := os.ReadFile("/etc/postfix/master.cf")
	if err != nil {
		// Debian's pristine copy, there even when the package was installed unconfigured.
		if b, err = os.ReadFile("/usr/share/postfix/master.cf.dist"); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && line[0] != '#' && line[0] != ' ' && line[0] != '\t' {
			if f[0] == "smtp" && f[1] == "inet" {
				f[0] = addr
			}
			f[4] = "n"
			line = strings.Join(f, " ")
		}
		out.WriteString(line + "\n")
	}
	return out.String()
}

func (p *postfix) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// TestPostfixInFront runs a real Postfix relaying a support domain to mailgate over SMTP, LMTP
// over TCP and LMTP over a unix socket (mode 0660, group postfix): tickets are created; with
// Redis down the mail waits in Postfix's queue and is delivered when Redis is back; a 5xx
// reaches the sender as a bounce carrying mailgate's reason. Needs root and Postfix; run by
// scripts/test with MGTEST_POSTFIX=1.
func TestPostfixInFront(t *testing.T) {
	needPostfix(t)
	rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	relay := smtpcapture.Start(t) // mailgate's own mail, and Postfix's bounces to customer.test
	sockDir, err := os.MkdirTemp("", "mgsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	if err := os.Chmod(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "lmtp.sock")

	cfg := testConfig(t, relay.Port())
	cfg.Redis.URL = rs.URL()
	cfg.Support.Addresses = []string{"support@example.com", "lmtp@example.com", "sock@example.com"}
	cfg.LMTP.Listen = "127.0.0.1:0"
	tcpDaemon := startDaemonT(t, cfg)
	sockCfg := cfg
	sockCfg.LMTP = config.LMTP{Listen: "unix:" + sock, SocketMode: "0660", SocketGroup: "postfix"}
	startDaemonT(t, sockCfg)
	rdb, err := store.Dial(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID})

	pf := startPostfix(t, map[string]string{
		"lmtp@example.com": "lmtp:inet:" + tcpDaemon.LMTPAddr,
		"sock@example.com": "lmtp:unix:" + sock,
		"example.com":      "smtp:[127.0.0.1]:" + portOf(tcpDaemon.SMTPAddr),
		"customer.test":    "smtp:[127.0.0.1]:" + fmt.Sprint(relay.Port()),
	})
	ticketWith := func(subject string) func() bool {
		return func() bool {
			ts, err := st.ListTickets(t.Context(), "", 0, 100)
			if err != nil {
				return false
			}
			for _, tk := range ts {
				if tk.Subject == subject {
					return true
				}
			}
			return false
		}
	}
	within := 60 * time.Second

	for _, rcpt := range cfg.Support.Addresses {
		subject := "Through Postfix to " + rcpt
		if r := send(t, pf.smtpAddr, "alice@customer.test", []string{rcpt}, msg("alice@customer.test", rcpt, subject, "hello")); r.Code != 250 {
			t.Fatalf("Postfix refused the mail to %s: %s", rcpt, r)
		}
		poll.Until(t, within, "a ticket from Postfix for "+rcpt, ticketWith(subject))
	}

	// A 5xx from mailgate (support address only in Cc) comes back to the sender as a bounce
	// with mailgate's reason.
	raw := msg("alice@customer.test", "bob@customer.test", "Only in Cc", "hello", "Cc: support@example.com")
	if r := send(t, pf.smtpAddr, "alice@customer.test", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatal(r)
	}
	relay.WaitFor(t, "a bounce to alice with mailgate's reason", func(ms []smtpcapture.Mail) bool {
		for _, m := range smtpcapture.To(ms, "alice@customer.test") {
			if m.From == "" && strings.Contains(m.Data, "support address must be in To:") && strings.Contains(m.Data, "5.7.1") {
				return true
			}
		}
		return false
	})

	// Redis down: mailgate answers 451, Postfix keeps the mail and delivers it once Redis is back.
	rs.Stop()
	subject := "Sent while Redis was down"
	if r := send(t, pf.smtpAddr, "alice@customer.test", []string{"support@example.com"}, msg("alice@customer.test", "support@example.com", subject, "hello")); r.Code != 250 {
		t.Fatal(r)
	}
	poll.Until(t, within, "Postfix to defer the mail with mailgate's 451", func() bool {
		return strings.Contains(pf.log(), "status=deferred") && strings.Contains(pf.log(), "451 4.3.0")
	})
	rs.Restart(t)
	poll.Until(t, within, "the deferred mail to become a ticket after Redis came back", ticketWith(subject))
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// needPostfix skips unless MGTEST_POSTFIX=1 and this runs as root, and fails when Postfix was
// asked for but is not installed.
func needPostfix(t *testing.T) {
	t.Helper()
	if os.Getenv("MGTEST_POSTFIX") != "1" {
		t.Skip("set MGTEST_POSTFIX=1 to run a real Postfix (root, postfix installed)")
	}
	if os.Geteuid() != 0 {
		t.Skip("a private Postfix instance needs root")
	}
	if _, err := exec.LookPath("postfix"); err != nil {
		t.Fatalf("MGTEST_POSTFIX=1 but postfix is not installed: %v", err)
	}
}
