package outbound

import (
	"bufio"
	"fmt"
	"io"
	"net/textproto"
	"strings"
	"testing"
)

func BenchmarkRender(b *testing.B) {
	r := MustRenderer("mx.bench", "Support")
	for _, kind := range []string{"ack", "update"} {
		in := sample()
		in.Kind = kind
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				if _, _, _, err := r.Render(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderMail renders the two mails each new 2 KB message causes: the customer's
// acknowledgement and the agents' notice, which carries the text. The French text has
// accents in every line, which keeps its parts quoted-printable.
func BenchmarkRenderMail(b *testing.B) {
	r := MustRenderer("mx.bench", "Support")
	for _, text := range []struct{ name, line string }{
		{"ascii", "Our printer on the third floor stopped printing after the update, see below.\n"},
		{"fr", "L'imprimante du troisième étage n'imprime plus depuis la mise à jour, voir ci-dessous.\n"},
	} {
		for _, kind := range []string{"ack", "notice"} {
			in := sample()
			in.Kind, in.Lang, in.ToAgent = kind, "en", kind == "notice"
			in.Ticket.Subject = "Printer stopped working"
			in.Message.Role = "customer"
			in.Message.Text = strings.Repeat(text.line, 2048/len(text.line)+1) // whole lines, just over 2 KB
			if text.name == "fr" {
				in.Lang = "fr"
			}
			b.Run(text.name+"/"+kind, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.RenderMail(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDotStuff writes a 2 KB and a 100 KB mail, queued in CRLF form, as SMTP DATA
// through net/textproto's DotWriter, which transact used, and through dotStuffer.
func BenchmarkDotStuff(b *testing.B) {
	for _, size := range []int{2 << 10, 100 << 10} {
		line := "The printer on the third floor stopped printing after the update, see below.\r\n"
		if size > 2<<10 {
			line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n" // an attachment's base64
		}
		mail := []byte("From: support@example.com\r\nSubject: x\r\n\r\n" + strings.Repeat(line, size/len(line)) + ".signature\r\n")
		for _, w := range []struct {
			name string
			new  func(*bufio.Writer) io.WriteCloser
		}{
			{"textproto", func(bw *bufio.Writer) io.WriteCloser { return textproto.NewWriter(bw).DotWriter() }},
			{"dotStuffer", func(bw *bufio.Writer) io.WriteCloser { return newDotStuffer(bw) }},
		} {
			b.Run(fmt.Sprintf("%dKB/%s", size>>10, w.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(mail)))
				bw := bufio.NewWriter(io.Discard)
				for b.Loop() {
					dw := w.new(bw)
					if _, err := dw.Write(mail); err != nil {
						b.Fatal(err)
					}
					if err := dw.Close(); err != nil {
						b.Fatal(err)
					}
					if err := bw.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
