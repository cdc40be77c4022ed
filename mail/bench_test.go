package mail

import (
	"os"
	"path/filepath"
	"testing"
)

// go test -run '^$' -bench . -benchmem ./mail ./threading ./outbound ./store
func BenchmarkParse(b *testing.B) {
	for _, f := range []string{"gmail-reply.eml", "japanese-iso2022jp.eml", "nested-attachments.eml", "html-only.eml"} {
		raw, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			b.Fatal(err)
		}
		p := NewParser(testPolicy)
		b.Run(f, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := p.Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePaths compares the fast path with enmime on mail as SMTP delivers it (CRLF).
func BenchmarkParsePaths(b *testing.B) {
	gmail, err := os.ReadFile("testdata/gmail-reply.eml")
	if err != nil {
		b.Fatal(err)
	}
	raw := []byte(crlf(string(gmail)))
	for _, fast := range []bool{true, false} {
		p := NewParser(testPolicy)
		p.noFast = !fast
		name := "gmail-text+html/enmime"
		if fast {
			name = "gmail-text+html/fast"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := p.Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStripQuotes(b *testing.B) {
	raw, _ := os.ReadFile("testdata/outlook-reply.eml")
	m, err := NewParser(testPolicy).Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = StripQuotes(m.Text)
	}
}
