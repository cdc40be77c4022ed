package mail

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// keptLines reports whether every non-blank line of out is a line of in (ignoring the blank
// lines that removal collapses, and the spaces around the whole text): extraction removes lines, it never invents or alters them.
func keptLines(in, out string) bool {
	have := map[string]bool{}
	for _, l := range strings.Split(in, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, l := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(l); t != "" && !have[t] {
			return false
		}
	}
	return true
}

func FuzzRemoveSent(f *testing.F) {
	for _, c := range loadReplyCorpus(f) {
		if len(c.sent) > 0 && c.text != "" {
			f.Add(c.text, c.sent[0])
		}
	}
	f.Fuzz(func(t *testing.T, text, sent string) {
		out := RemoveSent(text, []string{sent})
		if !keptLines(text, out) {
			t.Fatalf("RemoveSent changed a line:\n%q\n->\n%q", text, out)
		}
		if strings.TrimSpace(sent) == "" && out != text {
			t.Fatalf("nothing sent, yet the text changed: %q -> %q", text, out)
		}
	})
}

func FuzzStripQuotesKeepsLines(f *testing.F) {
	for _, c := range loadReplyCorpus(f) {
		if c.text != "" {
			f.Add(c.text)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := StripQuotes(s)
		if strings.TrimSpace(s) != "" && strings.TrimSpace(out) == "" {
			t.Fatalf("everything removed from %q", s)
		}
		if !keptLines(s, out) {
			t.Fatalf("StripQuotes changed a line:\n%q\n->\n%q", s, out)
		}
	})
}

func FuzzHTMLWithoutQuotes(f *testing.F) {
	for _, c := range loadReplyCorpus(f) {
		if c.html != "" {
			f.Add(c.html)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		out := htmlWithoutQuotes(src)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", src)
		}
		if strings.ContainsRune(out, '\r') {
			t.Fatalf("CR left in %q", out)
		}
	})
}
