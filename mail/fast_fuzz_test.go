package mail

import (
	"reflect"
	"testing"
)

// FuzzFastVsEnmime: wherever the fast path takes a message, it must give what enmime gives.
// A divergence found here is fixed by making the fast path decline that shape, never by
// guessing enmime's repair rules.
func FuzzFastVsEnmime(f *testing.F) {
	f.Add([]byte("From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <1@c>\r\n\r\nPlain body.\r\n"))
	f.Add([]byte("From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy=\r\nz\r\n"))
	f.Add([]byte(mixedSample("LOADGEN", "", pdfB64)))
	f.Add([]byte(mixedSample("000000000000a1b2c3", "preamble\r\n", gmailPart)))
	f.Add([]byte(mixedSample("b1", "", pdfB64+"--b1\r\n"+exePart)))
	f.Add([]byte("From: a@b.example\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 soft=\r\n break =3D.\r\n"))
	f.Add([]byte("From: a@b.example\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQm9uam91cg==\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Bonjour</p>\r\n--a--\r\n"))
	f.Add([]byte("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hi=20</p>\r\n--a--\r\n--m\r\n" + pdfB64 + "--m--\r\n"))
	fast, slow := NewParser(testPolicy), NewParser(testPolicy)
	slow.noFast = true
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !fast.takesFast(raw) {
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
