package mail

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The fast path must give exactly what enmime gives for the mail it takes.
func TestFastPathMatchesEnmime(t *testing.T) {
	apple, _ := os.ReadFile("testdata/applemail-reply.eml")
	gmail, _ := os.ReadFile("testdata/gmail-reply.eml")
	samples := map[string]string{
		"apple mail":                string(apple),
		"gmail text + html":         crlf(string(gmail)),
		"utf-8 quoted-printable":    "From: a@b.example\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 au lait, a soft=\r\n break, =3D sign.\r\n",
		"utf-8 base64":              "From: a@b.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQm9uam91ciwgbGEgZmFjdHVyZSBlc3QgYXJyaXbDqWUu\r\n",
		"mixed, text + html + file": mixedSample("m1", "", pdfB64), /* replaced below */
		"no content type":           "From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: Hello\r\nMessage-ID: <1@c>\r\n\r\nPlain body.\r\nSecond line.\r\n",
		"utf-8 8bit": "From: =?utf-8?q?Ren=C3=A9e?= <renee@exemple.fr>\r\nTo: support@example.com\r\nSubject: =?utf-8?q?Probl=C3=A8me?= de facture\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nBonjour, la facture est arrivée.\r\n",
		"folded headers": "From: bob@x.example\r\nTo: support@example.com, other@x.example\r\nCc: carol@x.example\r\nSubject: Re: [#TID30001]\r\n" +
			" folded subject\r\nIn-Reply-To: <a@b>\r\nReferences: <r1@x> <a@b>\r\nAuto-Submitted: auto-replied\r\n" +
			"Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nPlain line.\r\n continued.\r\n",
		"mixed with a pdf":          mixedSample("LOADGEN", "", pdfB64),
		"mixed, gmail style":        mixedSample("000000000000a1b2c3", "This is a multi-part message in MIME format.\r\n", gmailPart),
		"mixed, two files":          mixedSample("b1", "", pdfB64+"--b1\r\n"+exePart),
		"received and loop headers": "Received: from a by b\r\nReceived: from c by d\r\nX-Mailgate-Loop: mx\r\nFrom: x@y.example\r\nTo: support@example.com\r\nSubject: s\r\n\r\nbody\r\n",
	}
	samples["mixed, text + html + file"] = strings.Replace(mixedSample("m1", "", pdfB64),
		"Content-Type: text/plain; charset=\"UTF-8\"\r\n\r\nHere is the invoice, café.\r\n\r\n",
		"Content-Type: multipart/alternative; boundary=\"a1\"\r\n\r\n--a1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
			"Here is the invoice, caf=C3=A9.\r\n--a1\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Here is the invoice, caf=C3=A9.</p>\r\n--a1--\r\n", 1)
	fast, slow := NewParser(testPolicy), NewParser(testPolicy)
	slow.noFast = true
	for name, raw := range samples {
		t.Run(name, func(t *testing.T) {
			if !fast.takesFast([]byte(raw)) {
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
			if strings.HasPrefix(name, "mixed") && (len(a.Attachments) == 0 || !strings.Contains(a.Text, "café")) {
				t.Fatalf("the sample's text or files were lost: %+v", a)
			}
		})
	}
}

// takesFast reports whether Parse takes raw without enmime (tests compare the two paths).
func (p *Parser) takesFast(raw []byte) bool {
	taken, _ := p.parseFast(&Message{}, raw, HeaderEnd(raw))
	return taken
}

func TestFastPathDeclines(t *testing.T) {
	for name, raw := range map[string]string{
		"html":                      "From: a@b\r\nContent-Type: text/html\r\n\r\n<p>x</p>",
		"latin1":                    "From: a@b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9",
		"base64":                    "From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=",
		"qp":                        "From: a@b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3D",
		"multipart":                 "From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--",
		"boundary in content":       mixedSample("x", "", pdfB64+"--x\r\nContent-Type: text/plain\r\n\r\n--xy\r\n"),
		"bare LF":                   strings.ReplaceAll(mixedSample("x", "", pdfB64), "\r\n", "\n"),
		"padded delimiter":          strings.Replace(mixedSample("x", "", pdfB64), "--x\r\n", "--x \r\n", 1),
		"header-less part":          mixedSample("x", "", "\r\nJVBERi0x\r\n"),
		"encoded file name":         mixedSample("x", "", strings.Replace(pdfB64, "report.pdf", "=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=", 1)),
		"qp file":                   mixedSample("x", "", strings.Replace(pdfB64, "base64", "quoted-printable", 1)),
		"epilogue":                  mixedSample("x", "", pdfB64) + "trailing text\r\n",
		"alternative nested":        "From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y--\r\n--x\r\n" + pdfB64 + "--x--\r\n",
		"qp with a lone =":          "From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=",
		"qp with a bare LF":         "From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx\ny",
		"qp latin-1 bytes":          "From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9",
		"alternative, no text":      "From: a@b\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--a--\r\n",
		"base64 text, LF in a line": "From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nQU\nJ\r\nREVG\r\n",
		"rfc 2231 file name":        mixedSample("x", "", strings.Replace(pdfB64, "filename=report.pdf", "filename*=us-ascii''report.pdf", 1)),
		"base64 junk":               mixedSample("x", "", strings.Replace(pdfB64, "JVBER", "JV*BER", 1)),
		"bad utf-8":                 "From: a@b\r\n\r\n\xff\xfe",
	} {
		if NewParser(testPolicy).takesFast([]byte(raw)) {
			t.Errorf("%s took the fast path", name)
		}
	}
}

const (
	pdfB64 = "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\r\nAAAA\r\n"
	gmailPart = "Content-Type: application/pdf; name=\"invoice 2026.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice 2026.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-ID: <f_abc>\r\nX-Attachment-Id: f_abc\r\n\r\nJVBERi0xLjcK\r\n"
	exePart = "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=setup.exe\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQA==\r\n"
)

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// mixedSample is a multipart/mixed message with a UTF-8 text part and the given file parts.
func mixedSample(boundary, preamble, files string) string {
	return "From: Alice <alice@customer.example>\r\nTo: support@example.com\r\nSubject: Invoice\r\nMessage-ID: <m@c>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n" + preamble +
		"--" + boundary + "\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\nHere is the invoice, café.\r\n\r\n" +
		"--" + boundary + "\r\n" + files + "--" + boundary + "--\r\n"
}
