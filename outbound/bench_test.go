package outbound

import (
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
