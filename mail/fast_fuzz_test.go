package mail

import (
	"reflect"
	"testing"
)

// FuzzFastVsEnmime: wherever the fast path takes a message, it must give what enmime gives.
// (A multipart/mixed fast path was tried and dropped: this target kept finding boundary and
// line-end cases where the standard library and enmime disagree.)
func FuzzFastVsEnmime(f *testing.F) {
	f.Add([]byte("From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <1@c>\r\n\r\nPlain body.\r\n"))
	f.Add([]byte("From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy=\r\nz\r\n"))
	fast, slow := NewParser(testPolicy), NewParser(testPolicy)
	slow.noFast = true
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, _, _, ok := fastPath(raw, HeaderEnd(raw), fast.words); !ok {
			return
		}
		a, errA := fast.Parse(raw)
		b, errB := slow.Parse(raw)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("errors differ: %v / %v", errA, errB)
		}
		if errA != nil {
			return
		}
		if a.From != b.From || !reflect.DeepEqual(a.To, b.To) || a.Subject != b.Subject || a.Text != b.Text || a.MessageID != b.MessageID ||
			!reflect.DeepEqual(a.Attachments, b.Attachments) || !reflect.DeepEqual(a.Refused, b.Refused) {
			t.Fatalf("differ:\n%+v\n%+v", a, b)
		}
	})
}
