package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// Hostile mail gets a clear answer and nothing else (SECURITY.md).

// rawSMTP speaks SMTP byte for byte (no dot-stuffing or line-end fixing by a client library)
// and returns the reply to the end of DATA.
func rawSMTP(t testing.TB, addr, from, data string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	read := func() string {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n")
			}
		}
	}
	read() // greeting
	for _, cmd := range []string{"EHLO raw.test", "MAIL FROM:<" + from + ">", "RCPT TO:<support@example.com>", "DATA"} {
		io.WriteString(c, cmd+"\r\n")
		if rep := read(); rep[0] != '2' && rep[0] != '3' {
			t.Fatalf("%s: %s", cmd, rep)
		}
	}
	io.WriteString(c, data+"\r\n.\r\n")
	return read()
}

const trustedAR = "Authentication-Results: mx.trusted.example; dkim=%s header.d=customer.example"

func authEnv(t testing.TB) *env {
	return startEnv(t, func(c *config.Config) {
		c.Auth.RequireForReplies = "dkim"
		c.Auth.TrustedAuthservIDs = []string{"mx.trusted.example"}
	})
}

func TestSpoofedReplies(t *testing.T) {
	e := authEnv(t)
	e.deliver("alice@customer.example", "Printer on fire", "Opening.", fmt.Sprintf(trustedAR, "pass"))
	e.waitMails("alice@customer.example", 1)

	// 1. A trusted explicit fail: forged. New ticket, marked, agents told, no mail to the From.
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Forged reply.", fmt.Sprintf(trustedAR, "fail"))
	// 2. A pass claimed by an untrusted host counts for nothing.
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Untrusted claim.", "Authentication-Results: evil.example; dkim=pass header.d=customer.example")
	// 3. A trusted-looking pass written by the sender below our host's own verdict is ignored.
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Buried claim.",
		fmt.Sprintf(trustedAR, "fail"), "Received: from evil.example by mx.trusted.example", fmt.Sprintf(trustedAR, "pass"))
	// 4. The genuine reply, with our host's pass on top.
	e.deliver("alice@customer.example", "Re: [#TID30001] Printer on fire", "Genuine reply.", fmt.Sprintf(trustedAR, "pass"))
	// 5. Agents are held to the same rule.
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "Unauthenticated agent.")

	tk := e.ticket(30001)
	if len(tk.Messages) != 2 || tk.Messages[1].Text != "Genuine reply." {
		t.Fatalf("only the authenticated reply may be added: %+v", tk.Messages)
	}
	forged := e.ticket(30002)
	if !forged.Forged || forged.RelatedTo != 30001 {
		t.Fatalf("forged ticket = %+v", forged)
	}
	if !e.ticket(30004).Forged || e.ticket(30003).Forged || e.ticket(30005).Forged {
		t.Fatal("only explicit trusted fails mark a ticket forged")
	}
	notices := e.waitMails("team@example.com", 5)
	warned := 0
	for _, n := range notices {
		if strings.Contains(decodeMail(t, n.Data), "most likely forged") {
			warned++
		}
	}
	if warned != 2 {
		t.Fatalf("%d forged warnings to agents, want 2", warned)
	}
	e.drained()
	// Acks: the opening one, ticket 30003 (no verdict, not forged) and the update from... none else.
	for _, m := range smtpcapture.To(e.relay.Mails(), "alice@customer.example") {
		if s := headerOf(m.Data, "Subject"); strings.Contains(s, "30002") || strings.Contains(s, "30004") {
			t.Fatalf("backscatter to a forged From: %s", s)
		}
	}
}

func TestOrganizationPolicy(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Tickets.ReplyPolicy = "organization" })
	e.deliver("alice@customer.example", "Printer on fire", "Opening.")
	e.deliver("carol@customer.example", "Re: [#TID30001] Printer on fire", "Colleague here.")
	e.deliver("mallory@evil.example", "Re: [#TID30001] Printer on fire", "Stranger.")
	if tk := e.ticket(30001); len(tk.Messages) != 2 || tk.Messages[1].Author != "carol@customer.example" {
		t.Fatalf("messages = %+v", tk.Messages)
	}
	// An account's organisation decides over the domain.
	cli(t, "account", "add", "dave@partner.example", "--org", "customer.example", "--config", e.configFile())
	e.deliver("dave@partner.example", "Re: [#TID30001] Printer on fire", "Partner of the same org.")
	if tk := e.ticket(30001); len(tk.Messages) != 3 {
		t.Fatalf("account organisation not used: %d messages", len(tk.Messages))
	}
}

func TestTwoMailgatesDoNotLoop(t *testing.T) {
	// A's relay is B and B's relay is A: each one's acknowledgement lands at the other.
	a := startEnv(t, func(c *config.Config) { c.SMTP.Hostname = "mx.a.example" })
	bcfg := testConfig(t, 1)
	bcfg.SMTP.Hostname = "mx.b.example"
	bcfg.Support.Addresses = []string{"support@b.example"}
	bcfg.Support.Aliases = nil
	bcfg.Agents.Domains = []string{"b.example"}
	bcfg.Agents.Notify = nil
	_, aPort, _ := net.SplitHostPort(a.d.SMTPAddr)
	fmt.Sscan(aPort, &bcfg.Outbound.SMTP.Port)
	b := startDaemonT(t, bcfg)
	raw := msg("support@b.example", "support@example.com", "Hello from B's address", "x")
	if r := send(t, a.d.SMTPAddr, "support@b.example", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatal(r)
	}
	// A acknowledges to support@b.example (captured at A's relay); hand it to B as a relay would.
	ack := a.waitMails("support@b.example", 1)[0]
	if r := send(t, b.SMTPAddr, ack.From, []string{"support@b.example"}, ack.Data); r.Code != 250 {
		t.Fatalf("B refused A's ack: %s", r)
	}
	// B must neither open a ticket nor answer: its answer would come back to A.
	bst := storeFor(t, bcfg)
	if ts := listAll(t, bst); len(ts) != 0 {
		t.Fatalf("B opened %d tickets from an auto-reply", len(ts))
	}
	a.drained()
	if n := len(a.relay.Mails()); n != 2 { // A's ack and A's notice, nothing more
		t.Fatalf("A sent %d mails", n)
	}
}

func TestBounceStorm(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "x")
	e.waitMails("alice@customer.example", 1)
	e.waitMails("team@example.com", 1)
	for i := range 30 {
		bounce := msg("mailer-daemon@customer.example", "support@example.com",
			"Undelivered Mail Returned to Sender [#TID30001]", fmt.Sprintf("bounce %d", i), "Auto-Submitted: auto-replied")
		if r := send(t, e.d.SMTPAddr, "", []string{"support@example.com"}, bounce); r.Code != 250 {
			t.Fatal(r)
		}
	}
	e.drained()
	if n := len(e.relay.Mails()); n != 2 || len(e.tickets()) != 1 {
		t.Fatalf("bounces caused %d mails and %d tickets", n-2, len(e.tickets())-1)
	}
}

func TestSmuggling(t *testing.T) {
	e := startEnv(t, nil)
	head := "From: alice@customer.example\r\nTo: support@example.com\r\nSubject: hi\r\n\r\nfirst\r\n"
	second := "MAIL FROM:<victim@bank.example>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nFrom: victim@bank.example\r\n\r\nsmuggled"
	// (CRLF "." LF never reaches us as such: go-smtp's reader takes CRLF "." as a stuffed dot
	// and drops it, so the text stays inside one message.)
	for name, sep := range map[string]string{"LF.LF": "\n.\n", "CR.CR": "\r.\r", "LF.CRLF": "\n.\r\n"} {
		t.Run(name, func(t *testing.T) {
			rep := rawSMTP(t, e.d.SMTPAddr, "alice@customer.example", head+sep+second)
			if !strings.HasPrefix(rep, "550 5.5.2") {
				t.Fatalf("reply %q, want 550 5.5.2", rep)
			}
		})
	}
	if n := len(e.tickets()); n != 0 {
		t.Fatalf("%d tickets from smuggling attempts", n)
	}
}

func TestMalformedInput(t *testing.T) {
	e := startEnv(t, nil)
	hdr := func(subject string) string {
		return "From: alice@customer.example\r\nTo: support@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@t>\r\n"
	}
	var deep strings.Builder
	deep.WriteString(hdr("deep") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&deep, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	deep.WriteString("--b100\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n--b100--\r\n")
	var wide strings.Builder
	wide.WriteString(hdr("wide") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=W\r\n\r\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&wide, "--W\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
	}
	wide.WriteString("--W--\r\n")
	var bigHeader strings.Builder
	bigHeader.WriteString(hdr("bighdr"))
	for i := 0; i < 1024; i++ {
		bigHeader.WriteString("X-Filler: " + strings.Repeat("a", 1010) + "\r\n")
	}
	bigHeader.WriteString("\r\nbody\r\n")
	tests := []struct {
		name, data, want string
	}{
		{"broken base64", hdr("b64") + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain\r\n\r\ntext\r\n--X\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not*base64@@@\r\n--X--\r\n", "250"},
		{"100-deep multipart is quarantined", deep.String(), "250"},
		{"10,000 parts is quarantined", wide.String(), "250"},
		{"1 MB header", bigHeader.String(), "552 5.3.4"},
		{"NUL bytes", hdr("nul") + "\r\nbefore\x00after\r\n", "250"},
		{"invalid UTF-8 in headers", "From: \xff\xfe <alice@customer.example>\r\nTo: support@example.com\r\nSubject: caf\xe9 \xff\r\nMessage-ID: <utf@t>\r\n\r\nbody\r\n", "250"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rep := rawSMTP(t, e.d.SMTPAddr, "alice@customer.example", strings.TrimSuffix(tc.data, "\r\n")); !strings.HasPrefix(rep, tc.want) {
				t.Fatalf("reply %q, want %s", rep, tc.want)
			}
		})
	}
	for _, tk := range e.tickets() {
		for _, r := range tk.Subject {
			if r == 0 || r == '\r' || r == '\n' {
				t.Fatalf("control character in stored subject %q", tk.Subject)
			}
		}
	}
	if n := len(e.tickets()); n != 3 {
		t.Fatalf("%d tickets, want 3 (not the oversized header, not the two quarantined ones)", n)
	}
	out, _, _ := cli(t, "quarantine", "list", "--json", "--config", e.configFile())
	qs := decodeJSON[[]map[string]any](t, out)
	reasons := ""
	for _, q := range qs {
		reasons += q["reason"].(string) + "; "
	}
	if len(qs) != 2 || !strings.Contains(reasons, "nesting") || !strings.Contains(reasons, "MIME parts") {
		t.Fatalf("quarantine: %s", out)
	}
	// The daemon is still answering.
	e.deliver("alice@customer.example", "still alive", "x")
}

func TestConnectionCaps(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.SMTP.MaxSessionsPerIP = 2; c.SMTP.MaxErrors = 3 })
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", e.d.SMTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		bufio.NewReader(c).ReadString('\n')
		held = append(held, c)
	}
	c, _ := net.Dial("tcp", e.d.SMTPAddr)
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.Contains(line, "421 4.7.0") || !strings.Contains(line, "your address") {
		t.Fatalf("third session from one address: %q", line)
	}
	for _, h := range held {
		h.Close()
	}
	// A session that keeps getting refusals is closed.
	var conn net.Conn
	eventually(t, "a free session slot", func() bool {
		var err error
		conn, err = net.Dial("tcp", e.d.SMTPAddr)
		if err != nil {
			return false
		}
		l, _ := bufio.NewReader(conn).ReadString('\n')
		if strings.HasPrefix(l, "220") {
			return true
		}
		conn.Close()
		return false
	})
	defer conn.Close()
	io.WriteString(conn, "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@relay.example>\r\nRCPT TO:<y@relay.example>\r\nRCPT TO:<z@relay.example>\r\nRCPT TO:<w@relay.example>\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, _ := io.ReadAll(conn)
	if !strings.Contains(string(all), "421 4.7.0") || strings.Count(string(all), "550 5.1.1") != 3 {
		t.Fatalf("error cap:\n%s", all)
	}
}

func storeFor(t testing.TB, cfg config.Config) *store.Store {
	return store.New(redistest.Client(t, cfg.Redis.KeyPrefix), store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID})
}

func listAll(t testing.TB, st *store.Store) []*ticket.Ticket {
	ts, err := st.ListTickets(context.Background(), "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
