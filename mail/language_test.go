package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// oldDetectLanguage is DetectLanguage as it was before the one-pass matcher (one
// strings.Contains per word over the lowered, re-joined text): the oracle the matcher must
// agree with, decision for decision.
func oldDetectLanguage(m *Message) string {
	for _, tag := range strings.FieldsFunc(strings.ToLower(m.Language), func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		base, _, _ := strings.Cut(tag, "-")
		for _, l := range Languages {
			if base == l {
				return l
			}
		}
	}
	text := m.Text
	if len(text) > 1024 {
		text = text[:1024]
	}
	return oldGuessLanguage(m.Subject + "\n" + text)
}

func oldScriptLanguage(s string) string {
	han, cyr, otherCyr := false, 0, false
	for i := 0; i < len(s); i++ {
		if s[i] < utf8.RuneSelf {
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size - 1
		switch {
		case r >= 0x3040 && r <= 0x30FF || r >= 0xFF66 && r <= 0xFF9F:
			return "ja"
		case r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF:
			han = true
		case r >= 0x0410 && r <= 0x044F || r == 0x0401 || r == 0x0451:
			cyr++
		case r >= 0x0400 && r <= 0x04FF:
			otherCyr = true
		}
	}
	switch {
	case han:
		return "zh"
	case cyr >= 3 && !otherCyr:
		return "ru"
	case cyr > 0:
		return "en"
	}
	return ""
}

func oldNormalize(s string) string {
	l := " " + strings.Join(strings.Fields(strings.ToLower(s)), " ") + " "
	return strings.NewReplacer(",", " ", ".", " ", "!", " ", "?", " ", ":", " ", ";", " ").Replace(l)
}

func oldGuessLanguage(s string) string {
	if l := oldScriptLanguage(s); l != "" {
		return l
	}
	l := oldNormalize(s)
	best, bestScore, enScore := "en", 0, 0
	for _, lw := range languageWords {
		score := 0
		for _, w := range lw.words {
			if strings.Contains(l, w) {
				score++
			}
		}
		if lw.lang == "en" {
			enScore = score
			continue
		}
		if score > bestScore {
			best, bestScore = lw.lang, score
		}
	}
	if bestScore >= 2 && bestScore > enScore {
		return best
	}
	return "en"
}

// languageSamples are texts from the fixtures (every parsed .eml, every reply of the corpus)
// and texts made of the words themselves, each word alone and the words of each language
// together, in upper case, between punctuation and across lines.
func languageSamples(t testing.TB) []*Message {
	var out []*Message
	files, _ := filepath.Glob("testdata/*.eml")
	more, _ := filepath.Glob("testdata/mime/*.eml")
	p := NewParser(testPolicy)
	for _, fn := range append(files, more...) {
		raw, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := p.Parse(raw); err == nil {
			out = append(out, m, &Message{Subject: m.Subject, Text: m.htmlReply}, &Message{Text: m.Text[min(len(m.Text), 700):]})
		}
	}
	for _, c := range loadReplyCorpus(t) {
		out = append(out, &Message{Subject: c.subject, Text: c.text}, &Message{Subject: c.subject, Text: c.html},
			&Message{Text: c.want})
		for _, s := range c.sent {
			out = append(out, &Message{Text: s})
		}
	}
	for _, lw := range languageWords {
		all := strings.Join(lw.words, "")
		out = append(out, &Message{Text: all}, &Message{Text: strings.ToUpper(all)},
			&Message{Text: strings.Join(lw.words, ",")}, &Message{Subject: lw.words[0], Text: strings.Join(lw.words[1:], "\n")})
		for i, w := range lw.words {
			out = append(out, &Message{Text: w}, &Message{Text: strings.TrimSpace(w) + "." + lw.words[(i+1)%len(lw.words)]},
				&Message{Subject: w, Text: lw.words[(i+3)%len(lw.words)] + "\u00a0" + strings.ToUpper(w)})
		}
	}
	return out
}

func TestGuessLanguageAsBefore(t *testing.T) {
	samples := languageSamples(t)
	langs := map[string]int{}
	for _, m := range samples {
		want := oldDetectLanguage(m)
		langs[want]++
		if got := DetectLanguage(m); got != want {
			t.Errorf("DetectLanguage(subject %q, text %.200q) = %q, was %q", m.Subject, m.Text, got, want)
		}
	}
	if len(langs) < 8 {
		t.Errorf("the samples decide only %v", langs)
	}
}

func TestNormalizeForLanguage(t *testing.T) {
	for _, s := range []string{"", " ", "\t\n", "A", " Hello,  World! ", "x\u00a0y\u2003z", "\xff\xfeab\xc3", "İSTANBUL ΣΑΣ",
		"Ⱥ tall", "a\u0085b", "s'il vous PLAÎT;svp", "\n\n"} {
		if got, want := string(normalizeForLanguage(nil, s)), oldNormalize(s); got != want {
			t.Errorf("normalizeForLanguage(%q) = %q, want %q", s, got, want)
		}
	}
}

// FuzzDetectLanguage: the one-pass matcher decides as the word-by-word search did.
func FuzzDetectLanguage(f *testing.F) {
	for _, m := range languageSamples(f) {
		text := m.Text
		if len(text) > 1500 {
			text = text[:1500]
		}
		f.Add(m.Subject, text)
	}
	f.Fuzz(func(t *testing.T, subject, text string) {
		m := &Message{Subject: subject, Text: text}
		if got, want := DetectLanguage(m), oldDetectLanguage(m); got != want {
			t.Fatalf("DetectLanguage(%q, %q) = %q, was %q", subject, text, got, want)
		}
		s := subject + "\n" + text
		if got, want := string(normalizeForLanguage(nil, subject, "\n", text)), oldNormalize(s); got != want {
			t.Fatalf("normalizeForLanguage(%q) = %q, want %q", s, got, want)
		}
	})
}

var benchLanguageTexts = []struct{ name, subject, text string }{
	{"en-2KB", "Printer on the third floor", strings.Repeat("Hello, I have a question about the invoice for my account. "+
		"The printer on the third floor is not working since Monday and we have tried everything the manual says. "+
		"Could you please send someone to look at it? Thank you for your help.\n\n", 9)[:2048]},
	{"fr", "Imprimante", "Bonjour, l'imprimante ne marche plus. Merci de votre aide, cordialement."},
	{"ja", "質問", "お世話になっております。プリンターが動きません。"},
}

func BenchmarkDetectLanguage(b *testing.B) {
	for _, tc := range benchLanguageTexts {
		m := &Message{Subject: tc.subject, Text: tc.text}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				DetectLanguage(m)
			}
		})
	}
}
