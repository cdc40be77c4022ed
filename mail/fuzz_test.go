package mail

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse: no input may panic the parser or produce an identity or subject that could
// inject into an outbound header.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	more, _ := filepath.Glob("testdata/mime/*.eml")
	files = append(files, more...)
	for _, fn := range files {
		b, _ := os.ReadFile(fn)
		f.Add(b)
	}
	f.Add([]byte("From: a@b\r\n\r\n"))
	p := NewParser(testPolicy)
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := p.Parse(raw)
		if err != nil {
			return
		}
		for _, s := range []string{m.From, m.Subject, m.FromName, m.MessageID, m.InReplyTo} {
			for _, r := range s {
				if r == '\r' || r == '\n' || r == 0 {
					t.Fatalf("control character in a header value %q", s)
				}
			}
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		_ = StripQuotes(m.Text)
	})
}

func FuzzStripQuotes(f *testing.F) {
	f.Add("Yes.\n\nOn Mon, Nov 23, 2026 at 9:00 AM Support <s@x.example> wrote:\n> old")
	f.Add("Fait.\n\nDe : Support\nEnvoyé : lundi\n\nancien")
	f.Add("Body.\n-- \nsig")
	f.Fuzz(func(t *testing.T, s string) {
		out := StripQuotes(s)
		if len(out) > len(s) {
			t.Fatalf("stripping made the text longer: %q -> %q", s, out)
		}
	})
}
