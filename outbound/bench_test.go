package outbound

import "testing"

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
