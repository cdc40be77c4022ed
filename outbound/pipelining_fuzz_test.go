package outbound

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// FuzzRelayReply feeds the relay's side of the wire to readReply and what it reads to
// parseEHLO and replyError: no panic, codes in range, and a reply written back out reads the same.
func FuzzRelayReply(f *testing.F) {
	f.Add([]byte("250-mx.postfix.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"))
	f.Add([]byte("550-5.1.1 no such user\r\n550 5.1.1 try another\r\n354 go ahead\r\n"))
	f.Add([]byte("250\r\n250-\n250 x\r\r\n"))
	f.Add([]byte("250-a\r\n251 b\r\n"))
	f.Add([]byte("099 low\r\n"))
	f.Add([]byte("250-unfinished\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			code, msg, err := readReply(r)
			if err != nil {
				return
			}
			if code < 200 || code > 599 {
				t.Fatalf("code %d", code)
			}
			for kw := range parseEHLO(msg) {
				if kw == "" || kw != strings.ToUpper(kw) || strings.ContainsAny(kw, " \n") {
					t.Fatalf("EHLO keyword %q", kw)
				}
			}
			if e := replyError(code, msg); e.Code != code || len(e.Message) > len(msg) {
				t.Fatalf("replyError(%d, %q) = %+v", code, msg, e)
			}
			var out strings.Builder
			lines := strings.Split(msg, "\n")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				fmt.Fprintf(&out, "%d%s%s\r\n", code, sep, l)
			}
			code2, msg2, err := readReply(bufio.NewReader(strings.NewReader(out.String())))
			if err != nil || code2 != code || msg2 != msg {
				t.Fatalf("%q read back as %d %q %v, want %d %q", out.String(), code2, msg2, err, code, msg)
			}
		}
	})
}
