package mail

import (
	"strings"
	"unicode/utf8"
)

// Languages with built-in mail templates (outbound/templates/<lang>/).
var Languages = []string{"en", "fr", "ja", "de", "es", "it", "pt", "nl", "ru", "zh"}

// DetectLanguage picks the language of mail sent to the writer of m: the Content-Language
// header when it names one we have, else a guess from the text, else English.
func DetectLanguage(m *Message) string {
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
		text = text[:1024] // the opening lines say enough; the guess runs on every new ticket
	}
	return guessLanguage(m.Subject + "\n" + text)
}

// Words and phrases that, two or more together, mark a language. Each list avoids what the
// others share (Spanish and Portuguese "para", German and Dutch "hallo"); English is scored
// too, so that an English mail quoting one foreign word stays English.
var languageWords = []struct {
	lang  string
	words []string
}{
	{"en", []string{" the ", " and ", " is ", " please ", "thank", " my ", " with ", " have ", " not ", "hello", " you "}},
	{"fr", []string{"bonjour", "merci", "cordialement", "madame", "monsieur", "s'il vous plaît", "svp",
		" je ", " nous ", " vous ", " est ", " une ", " pas ", " avec ", " pour "}},
	{"de", []string{"guten tag", "danke", "bitte", "grüße", "grüßen", "sehr geehrte", " ich ", " nicht ", " und ",
		" der ", " die ", " das ", " ist ", " mit ", " wir ", " ein ", " eine "}},
	{"es", []string{"hola", "gracias", "saludos", "por favor", "buenos días", "buenas tardes", "estimado", " el ",
		" los ", " las ", " una ", " pero ", " tengo ", " está ", " usted ", " qué ", " ¿", "¡"}},
	{"it", []string{"buongiorno", "buonasera", "grazie", "cordiali saluti", "salve", " il ", " della ", " sono ",
		" gli ", " che ", " è ", " questo ", " vorrei ", " perché "}},
	{"pt", []string{"olá", "obrigado", "obrigada", "bom dia", "boa tarde", "cumprimentos", "atenciosamente",
		" não ", " você ", " meu ", " minha ", " é ", "ção ", "ções ", " estou "}},
	{"nl", []string{"goedemorgen", "goedemiddag", "bedankt", "dank u", "dank je", "met vriendelijke groet", " het ",
		" een ", " niet ", " ik ", " van ", " mijn ", " wij ", " graag ", " werkt "}},
}

// scriptLanguage decides by writing system: kana is only Japanese; Han without kana is
// Chinese; Cyrillic is Russian unless it has letters Russian lacks (Ukrainian і, ї, є, ґ,
// Serbian ђ, ј…), which get English rather than a language the writer may not read. It skips
// ASCII bytes without decoding them: unicode.In per rune cost 10% of ingest (profiled).
func scriptLanguage(s string) string {
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

func guessLanguage(s string) string {
	if l := scriptLanguage(s); l != "" {
		return l
	}
	l := " " + strings.Join(strings.Fields(strings.ToLower(s)), " ") + " "
	l = strings.NewReplacer(",", " ", ".", " ", "!", " ", "?", " ", ":", " ", ";", " ").Replace(l)
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
