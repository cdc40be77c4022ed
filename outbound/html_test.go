package outbound

import (
	"html"
	"strings"
	"testing"
)

// oldTextToHTML is textToHTML as it was before it wrote into one builder: the oracle.
func oldTextToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n")
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		var lines []string
		for _, l := range strings.Split(para, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, html.EscapeString(l))
			}
		}
		if len(lines) == 0 {
			continue
		}
		b.WriteString("<p>" + strings.Join(lines, "<br>\n") + "</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

var htmlSamples = []string{"", "\n", "\n\n", "\n\n\n", "a", "a\nb", "a\n\nb", "a\n\n\nb", "a\r\n\r\nb\r\n", " \t\n  x  \n\n\u00a0\n",
	"<b>&amp;</b> 'q' \"d\"", "-- \nsig", "\r\r\n\n\r\n", "é\n\n\n\nü\n \n ö"}

func TestTextToHTMLAsBefore(t *testing.T) {
	for _, s := range htmlSamples {
		if got, want := textToHTML(s), oldTextToHTML(s); got != want {
			t.Errorf("textToHTML(%q) = %q, want %q", s, got, want)
		}
	}
}

// FuzzTextToHTML: the one-builder rendering writes what the line-splitting one wrote.
func FuzzTextToHTML(f *testing.F) {
	for _, s := range htmlSamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := textToHTML(s), oldTextToHTML(s); got != want {
			t.Fatalf("textToHTML(%q) = %q, want %q", s, got, want)
		}
	})
}
