package smtpd

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/mailgate/mailgate/ingest"
)

// FuzzSession feeds arbitrary client bytes to a live session, as mox does: whatever arrives,
// the server answers or hangs up, and never panics or hangs.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nFrom: a@b\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<support@example.com>\r\nBDAT 5 LAST\r\nhello",
		"HELO\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\nRSET\r\nNOOP\r\nVRFY x\r\nSTARTTLS\r\nAUTH PLAIN\r\n",
		"EHLO x\r\nMAIL FROM:<a@b> SIZE=99999999999\r\nRCPT TO:<support@example.com> NOTIFY=NEVER\r\nDATA\r\n\n.\n\r.\r\r\n.\r\n",
	} {
		f.Add([]byte(s))
	}
	h := &fakeHandler{result: ingest.Result{Outcome: "created"}}
	addr := start(f, h, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			_, _ = c.Write(in)
			// End of input: the server must notice and hang up, even inside DATA.
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("session hung on %q", in)
			}
		}
	})
}
