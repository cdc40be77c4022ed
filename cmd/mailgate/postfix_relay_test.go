package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/outbound"
)

// TestPostfixAsRelay sends mailgate's outbound mail through a real Postfix, which advertises
// PIPELINING: mail with dot lines arrives whole, a recipient Postfix refuses is that mail's
// permanent error and the connection carries the next mail (RSET), all on one connection with
// no complaint of improper pipelining in Postfix's log.
func TestPostfixAsRelay(t *testing.T) {
	needPostfix(t)
	capture := smtpcapture.Start(t)
	pf := startPostfix(t, map[string]string{"customer.test": "smtp:[127.0.0.1]:" + fmt.Sprint(capture.Port())})
	port, _ := strconv.Atoi(portOf(pf.smtpAddr))
	r := &outbound.Relay{Host: "127.0.0.1", Port: port, TLS: "none", HelloName: "mx.test", Timeout: 30 * time.Second}
	ctx := context.Background()
	body := func(n int) []byte {
		return fmt.Appendf(nil, "From: support@example.com\r\nTo: alice@customer.test\r\nSubject: mail %d\r\n\r\n.leading dot %d\r\n..two\r\n.\r\nend\r\n", n, n)
	}
	if err := r.Send(ctx, "support@example.com", "alice@customer.test", body(1)); err != nil {
		t.Fatalf("mail 1: %v", err)
	}
	err := r.Send(ctx, "support@example.com", "a b@customer.test", body(9))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 501 || !outbound.IsPermanent(err) {
		t.Fatalf("a recipient Postfix refuses: err = %v, want its permanent 501", err)
	}
	if err := r.Send(ctx, "support@example.com", "alice@customer.test", body(2)); err != nil {
		t.Fatalf("mail 2: %v", err)
	}
	r.Close()
	ms := capture.WaitFor(t, "both mails through Postfix", func(ms []smtpcapture.Mail) bool { return len(ms) == 2 })
	for i, m := range ms {
		if !strings.HasSuffix(m.Data, string(body(i + 1)[strings.Index(string(body(i+1)), "\r\n\r\n"):])) {
			t.Fatalf("mail %d through Postfix: %q", i+1, m.Data)
		}
	}
	poll.Until(t, 10*time.Second, "Postfix to log the session's end", func() bool {
		return strings.Contains(pf.log(), "disconnect from")
	})
	log := pf.log()
	var ours []string
	for _, m := range regexp.MustCompile(`disconnect from \S+ (.*)`).FindAllStringSubmatch(log, -1) {
		if m[1] != "commands=0/0" { // startPostfix's probe of the port
			ours = append(ours, m[1])
		}
	}
	if len(ours) != 1 || !strings.HasPrefix(ours[0], "ehlo=1 mail=3 rcpt=2/3 bdat=2/3 rset=1 quit=1 ") ||
		strings.Contains(log, "improper command pipelining") {
		t.Fatalf("Postfix's sessions: %q, want one of ehlo=1 mail=3 rcpt=2/3 bdat=2/3 rset=1 quit=1; log:\n%s", ours, log)
	}
}
