package mail

import (
	"os"
	"reflect"
	"testing"
)

// The fast path must give exactly what enmime gives for the mail it takes.
func TestFastPathMatchesEnmime(t *testing.T) {
	apple, _ := os.ReadFile("testdata/applemail-reply.eml")
	samples := map[string]string{
		"apple mail":      string(apple),
		"no content type": "From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: Hello\r\nMessage-ID: <1@c>\r\n\r\nPlain body.\r\nSecond line.\r\n",
		"utf-8 8bit": "From: =?utf-8?q?Ren=C3=A9e?= <renee@exemple.fr>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?Probl=C3=A8me?= de facture\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour, la facture est arrivée.\r\n",
		"folded headers": "From: bob@x.example\r\nTo: support@example.com, other@x.example\r\nCc: carol@x.example\r\nSubject: Re: [#TID30001]\r\n" +
			" folded subject\r\nIn-Reply-To: <a@b>\r\nReferences: <r1@x> <a@b>\r\nAuto-Submitted: auto-replied\r\n" +
			"Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nPlain line.\r\n continued.\r\n",
		"received and loop headers": "Received: from a by b\r\nReceived: from c by d\r\nX-Mailgate-Loop: mx\r\nFrom: x@y.example\r\nTo: support@example.com\r\nSubject: s\r\n\r\nbody\r\n",
	}
	fast, slow := NewParser(testPolicy), NewParser(testPolicy)
	slow.noFast = true
	for name, raw := range samples {
		t.Run(name, func(t *testing.T) {
			if _, _, _, ok := fastPath([]byte(raw), HeaderEnd([]byte(raw)), fast.words); !ok {
				t.Fatal("sample does not take the fast path")
			}
			a, errA := fast.Parse([]byte(raw))
			b, errB := slow.Parse([]byte(raw))
			if (errA == nil) != (errB == nil) {
				t.Fatalf("errors differ: %v / %v", errA, errB)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("fast path:\n%+v\nenmime:\n%+v", a, b)
			}
		})
	}
}

func TestFastPathDeclines(t *testing.T) {
	for name, raw := range map[string]string{
		"html":      "From: a@b\r\nContent-Type: text/html\r\n\r\n<p>x</p>",
		"latin1":    "From: a@b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9",
		"base64":    "From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=",
		"qp":        "From: a@b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3D",
		"multipart": "From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--",
		"bad utf-8": "From: a@b\r\n\r\n\xff\xfe",
	} {
		if _, _, _, ok := fastPath([]byte(raw), HeaderEnd([]byte(raw)), NewParser(testPolicy).words); ok {
			t.Errorf("%s took the fast path", name)
		}
	}
}
