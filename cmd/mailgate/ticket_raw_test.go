package main

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestTicketRawAndAttachment(t *testing.T) {
	e := startEnv(t, nil)
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff, '\r', '\n'}, 200)...)
	raw := "From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: Invoice\r\nMessage-ID: <inv@customer.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nSee the invoice.\r\n" +
		"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pdf) + "\r\n--B--\r\n"
	if r := send(t, e.d.SMTPAddr, "alice@customer.example", []string{"support@example.com"}, raw); r.Code != 250 {
		t.Fatal(r)
	}
	e.deliver("alice@customer.example", "[#TID30001] Invoice", "A second message.")
	cfg := e.configFile()

	out, stderr, code := cli(t, "ticket", "raw", "30001", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "Message-ID: <inv@customer.example>") || !strings.Contains(out, base64.StdEncoding.EncodeToString(pdf)[:60]) {
		t.Fatalf("ticket raw: exit %d %s\n%s", code, stderr, out)
	}
	out, _, code = cli(t, "ticket", "raw", "#TID30001", "--message", "2", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "A second message.") {
		t.Fatalf("ticket raw --message 2: exit %d\n%s", code, out)
	}
	out, stderr, code = cli(t, "ticket", "attachment", "30001", "invoice.pdf", "--config", cfg)
	if code != exitOK || out != string(pdf) {
		t.Fatalf("ticket attachment: exit %d %s; got %d bytes, want %d", code, stderr, len(out), len(pdf))
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ticket", "raw", "30001", "--message", "3"}, exitFailed, "has 2 message(s)"},
		{[]string{"ticket", "raw", "99999"}, exitFailed, "99999"},
		{[]string{"ticket", "attachment", "30001", "nope.pdf"}, exitFailed, "there are: invoice.pdf"},
		{[]string{"ticket", "attachment", "30001", "invoice.pdf", "--message", "2"}, exitFailed, "kept no attachment"},
		{[]string{"ticket", "raw", "abc"}, exitUsage, "not a ticket number"},
	} {
		_, stderr, code := cli(t, append(tc.args, "--config", cfg)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
