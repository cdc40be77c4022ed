package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

// The mails mailgate sends.

func TestAcknowledgementAndNotice(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Agents.Notify = []string{"team@example.com", "lead@example.com"} })
	e.deliver("Alice <alice@customer.example>", "Printer on fire", "It is on fire.", "Message-ID: <open-1@customer.example>")
	ack := e.waitMails("alice@customer.example", 1)[0]
	for _, want := range []string{
		"Subject: [#TID30001] Printer on fire",
		`From: "Example Support" <support@example.com>`,
		"Auto-Submitted: auto-replied",
		"In-Reply-To: <open-1@customer.example>",
		"References: <open-1@customer.example>",
		"X-Mailgate-Loop: mx.support.example",
	} {
		if !strings.Contains(ack.Data, want) {
			t.Errorf("ack lacks %q", want)
		}
	}
	body := decodeQP(bodyOf(ack.Data))
	for _, want := range []string{"#TID30001", "reply", "same address (alice@customer.example)", "keep #TID30001 in the subject"} {
		if !strings.Contains(body, want) {
			t.Errorf("ack body lacks %q:\n%s", want, body)
		}
	}
	if ack.From != "support@example.com" || len(ack.To) != 1 {
		t.Errorf("ack envelope %s -> %v", ack.From, ack.To)
	}
	// One copy each: no mail shows one recipient to another.
	for _, n := range []string{"team@example.com", "lead@example.com"} {
		m := e.waitMails(n, 1)[0]
		if len(m.To) != 1 || strings.Contains(m.Data, "lead@") && n == "team@example.com" {
			t.Errorf("notice to %s exposes others: %v", n, m.To)
		}
		for _, want := range []string{"Reply-To: <support@example.com>", "It is on fire.", "Auto-Submitted: auto-generated", "alice@customer.example"} {
			if !strings.Contains(decodeQP(m.Data), want) {
				t.Errorf("notice to %s lacks %q", n, want)
			}
		}
	}
	ids := map[string]bool{}
	for _, m := range e.relay.Mails() {
		id := headerOf(m.Data, "Message-Id")
		if id == "" || ids[id] {
			t.Fatalf("Message-Id missing or reused: %q", id)
		}
		ids[id] = true
	}
}

func TestUpdatesKeepOneThread(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.", "Message-ID: <root@customer.example>")
	e.deliver("bob@example.com", "Re: [#TID30001] Printer on fire", "Unplug it.", "Message-ID: <bob-1@example.com>")
	ms := e.waitMails("alice@customer.example", 2)
	for _, m := range ms {
		if refs := headerOf(m.Data, "References"); !strings.Contains(refs, "<root@customer.example>") {
			t.Fatalf("References %q lost the ticket's first message", refs)
		}
	}
	// The update answers the agent's message; the acknowledgement the customer's.
	irt := map[string]bool{headerOf(ms[0].Data, "In-Reply-To"): true, headerOf(ms[1].Data, "In-Reply-To"): true}
	if !irt["<bob-1@example.com>"] || !irt["<root@customer.example>"] {
		t.Fatalf("In-Reply-To = %v", irt)
	}
}

func TestAttachmentsPolicy(t *testing.T) {
	e := startEnv(t, nil)
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 fake"))
	exe := base64.StdEncoding.EncodeToString([]byte("MZ fake program"))
	raw := "From: carol@corp.example\r\nTo: support@example.com\r\nSubject: Contract\r\nMessage-ID: <att@corp.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n" +
		"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=contract.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + pdf + "\r\n" +
		"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=tool.exe\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "\r\n" +
		"--XX--\r\n"
	if r := send(t, e.d.SMTPAddr, "carol@corp.example", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatalf("a refused attachment does not refuse the message: %s", r)
	}
	tk := e.ticket(30001)
	m := tk.Messages[0]
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "contract.pdf" || m.Attachments[0].ContentType != "application/pdf" || len(m.Attachments[0].SHA256) != 64 {
		t.Fatalf("attachments = %+v", m.Attachments)
	}
	ack := decodeQP(bodyOf(e.waitMails("carol@corp.example", 1)[0].Data))
	if !strings.Contains(ack, "tool.exe") || !strings.Contains(ack, "not accepted") {
		t.Fatalf("ack does not name the refused file and why:\n%s", ack)
	}
	notice := e.waitMails("team@example.com", 1)[0].Data
	if !strings.Contains(notice, `filename=contract.pdf`) && !strings.Contains(notice, `filename="contract.pdf"`) {
		t.Fatalf("notice does not carry the attachment:\n%s", notice)
	}
	if strings.Contains(notice, "tool.exe\"") {
		t.Fatal("a refused file must not be forwarded")
	}
	// On a reply too, the message is added and the sender is told which file was refused.
	reply := strings.Replace(strings.Replace(raw, "Subject: Contract", "Subject: Re: [#TID30001] Contract", 1), "<att@corp.example>", "<att2@corp.example>", 1)
	if r := send(t, e.d.SMTPAddr, "carol@corp.example", []string{"support@example.com"}, reply); r.Code != 250 {
		t.Fatalf("reply with a refused file: %s", r)
	}
	if tk := e.ticket(30001); len(tk.Messages) != 2 || len(tk.Messages[1].Refused) != 1 {
		t.Fatalf("reply not stored with its refusal: %+v", tk.Messages)
	}
	told := decodeMail(t, e.waitMailWith("carol@corp.example", "In-Reply-To: <att2@corp.example>").Data)
	if !strings.Contains(told, "tool.exe") || !strings.Contains(told, "were not kept") {
		t.Fatalf("the sender of the reply was not told:\n%s", told)
	}
}

func TestNoHeaderInjection(t *testing.T) {
	e := startEnv(t, nil)
	// An encoded subject and display name that decode to CR LF + a header.
	subj := "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("Help\r\nBcc: victim@elsewhere.example")) + "?="
	name := "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("Eve\r\nX-Injected: yes")) + "?="
	raw := "From: " + name + " <eve@customer.example>\r\nTo: support@example.com\r\nSubject: " + subj + "\r\nMessage-ID: <inj@c>\r\n\r\nbody\r\n"
	if r := send(t, e.d.SMTPAddr, "eve@customer.example", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatalf("reply = %s", r)
	}
	e.deliver("bob@example.com", "Re: [#TID30001] x", "answer")
	e.waitMails("eve@customer.example", 2)
	e.waitMails("team@example.com", 1)
	for _, m := range e.relay.Mails() {
		hdr := m.Data[:strings.Index(m.Data, "\r\n\r\n")]
		for _, l := range strings.Split(hdr, "\r\n") {
			if strings.HasPrefix(strings.ToLower(l), "bcc:") || strings.HasPrefix(strings.ToLower(l), "x-injected:") {
				t.Fatalf("header injected: %q in\n%s", l, hdr)
			}
		}
	}
	if tk := e.ticket(30001); strings.ContainsAny(tk.Subject, "\r\n") {
		t.Fatalf("stored subject %q", tk.Subject)
	}
}

func TestHourlyCapOnAutomaticMail(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Outbound.MaxAutoRepliesPerSenderPerHour = 2 })
	for i := range 4 {
		e.deliver("chatty@customer.example", fmt.Sprintf("Question %d", i), "?")
	}
	e.waitMails("team@example.com", 4) // agents are never capped
	e.drained()
	if n := len(smtpcapture.To(e.relay.Mails(), "chatty@customer.example")); n != 2 {
		t.Fatalf("chatty got %d acks, want the cap of 2", n)
	}
	if n := len(e.tickets()); n != 4 {
		t.Fatalf("the inbound is still stored past the cap: %d tickets", n)
	}
}

func TestOutboundRetryAndDeadLetters(t *testing.T) {
	e := startEnv(t, nil)
	e.relay.Fail(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	e.deliver("alice@customer.example", "Printer on fire", "x")
	// Deferred mail stays queued and is retried with backoff until the relay takes it.
	eventually(t, "two deferred attempts", func() bool {
		out, _, _ := cli(t, "outbox", "list", "--json", "--config", e.configFile())
		items := decodeJSON[[]map[string]any](t, out)
		return len(items) == 2 && items[0]["attempts"].(float64) >= 2 && strings.Contains(fmt.Sprint(items[0]["last_error"]), "451")
	})
	e.relay.Fail(nil)
	e.waitMails("alice@customer.example", 1)
	e.waitMails("team@example.com", 1)
	e.drained()
	if m := e.metric("mailgate_outbound_failures_total"); strings.HasSuffix(m, " 0") {
		t.Fatalf("failures not counted: %q", m)
	}

	// A 5xx goes straight to the dead letters; `outbox retry` sends it again.
	e.relay.Fail(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	e.deliver("bob@customer.example", "Other", "y")
	var dead []map[string]any
	eventually(t, "two dead letters", func() bool {
		out, _, _ := cli(t, "outbox", "list", "--dead", "--json", "--config", e.configFile())
		dead = decodeJSON[[]map[string]any](t, out)
		return len(dead) == 2
	})
	if !strings.Contains(fmt.Sprint(dead[0]["last_error"]), "550") {
		t.Fatalf("dead letter = %+v", dead[0])
	}
	e.relay.Fail(nil)
	for _, d := range dead {
		if _, errOut, code := cli(t, "outbox", "retry", d["id"].(string), "--config", e.configFile()); code != 0 {
			t.Fatalf("retry: %s", errOut)
		}
	}
	e.waitMails("bob@customer.example", 1)
	if _, _, code := cli(t, "outbox", "retry", "no-such-id", "--config", e.configFile()); code != 1 {
		t.Fatalf("retry of an unknown id: exit %d, want 1", code)
	}
}

func decodeQP(s string) string {
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(s)))
	if err != nil {
		return s
	}
	return string(b)
}

// Real-world samples through SMTP: text is stored as UTF-8 whatever the charset.
func TestCharsetsStoredAsUTF8(t *testing.T) {
	e := startEnv(t, nil)
	for _, f := range []string{"japanese-iso2022jp.eml", "html-only.eml"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "mail", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		from := headerOf(strings.ReplaceAll(string(raw), "\n", "\r\n"), "From")
		if r := send(t, e.d.SMTPAddr, "x@client.test", []string{"support@example.com"}, strings.ReplaceAll(string(raw), "\n", "\r\n")); r.Code != 250 {
			t.Fatalf("%s (%s): %s", f, from, r)
		}
	}
	jp := e.ticket(30001)
	if jp.Subject != "プリンターの故障" || !strings.Contains(jp.Messages[0].Text, "プリンターが動きません。") {
		t.Fatalf("Japanese ticket: %q %q", jp.Subject, jp.Messages[0].Text)
	}
	html := e.ticket(30002)
	if !strings.Contains(html.Messages[0].Text, "My account 12345 is locked.") || strings.Contains(html.Messages[0].Text, "<p>") {
		t.Fatalf("HTML-only text: %q", html.Messages[0].Text)
	}
	ack := decodeMail(t, e.waitMails("yamada@kaisha.example.jp", 1)[0].Data)
	if !strings.Contains(ack, "[#TID30001] プリンターの故障") {
		t.Fatalf("ack subject not carried in UTF-8:\n%s", ack)
	}
}

// decodeMail returns the decoded subject and text of a captured mail.
func decodeMail(t testing.TB, data string) string {
	t.Helper()
	mr, err := gomail.CreateReader(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := mr.Header.Subject()
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p.Body)
	return s + "\n" + string(b)
}
