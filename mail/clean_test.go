package mail

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// oldCleanText is cleanText as it was before hasControl let it skip the Map: the oracle.
func oldCleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r == '\r' {
			return '\n'
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

var cleanSamples = []string{"", " plain text \n", "a\r\nb\rc", "tab\there", "nul\x00bell\x07del\x7f", "c1\u0085nel\u009f\u00a0nbsp",
	"\u00c2\u0080", "é à ü ß", "\xc2", "\xc2\x80", "\xc2\xa0", "bad \xff utf8 \xc3", "日本語\r\n\r\n", "\u2028\u200b\ufeff", "\x1b[31mred"}

func TestCleanTextAsBefore(t *testing.T) {
	for _, s := range cleanSamples {
		if got, want := cleanText(s), oldCleanText(s); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", s, got, want)
		}
	}
}

// FuzzCleanText: skipping the Map when hasControl finds nothing changes no text.
func FuzzCleanText(f *testing.F) {
	for _, s := range cleanSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := cleanText(s), oldCleanText(s); got != want {
			t.Fatalf("cleanText(%q) = %q, want %q", s, got, want)
		}
	})
}

// BenchmarkCleanText: the text of a 2 KB mail, as the fast path hands it over (CRLF).
func BenchmarkCleanText(b *testing.B) {
	text := strings.ReplaceAll(benchLanguageTexts[0].text, "\n", "\r\n")
	b.ReportAllocs()
	for b.Loop() {
		cleanText(text)
	}
}
