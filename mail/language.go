package mail

import (
	"strings"
	"unicode"
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
	return guessLanguage(m.Subject, "\n", text)
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
func scriptLanguage(parts ...string) string {
	var sc scripts
	for _, s := range parts {
		if sc.add(s) {
			return "ja"
		}
	}
	switch {
	case sc.han:
		return "zh"
	case sc.cyr >= 3 && !sc.otherCyr:
		return "ru"
	case sc.cyr > 0:
		return "en"
	}
	return ""
}

// scripts counts the letters scriptLanguage decides by.
type scripts struct {
	han, otherCyr bool
	cyr           int
}

// add counts s's letters, and reports kana (which decides at once).
func (sc *scripts) add(s string) (kana bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < utf8.RuneSelf {
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size - 1
		switch {
		case r >= 0x3040 && r <= 0x30FF || r >= 0xFF66 && r <= 0xFF9F:
			return true
		case r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF:
			sc.han = true
		case r >= 0x0410 && r <= 0x044F || r == 0x0401 || r == 0x0451:
			sc.cyr++
		case r >= 0x0400 && r <= 0x04FF:
			sc.otherCyr = true
		}
	}
	return false
}

// guessLanguage scores each language by how many of its words occur in s, lowered, with runs
// of white space as one space, ",.!?:;" as spaces, and a space at either end (so " the "
// matches a whole word and "thank" any word it starts or ends). The words are found in one
// pass by an Aho-Corasick automaton over that text, built once: one strings.Contains per word
// over the whole text cost 77% of the guess (profiled), which took 6.6% of ingest.
func guessLanguage(parts ...string) string {
	if l := scriptLanguage(parts...); l != "" {
		return l
	}
	var buf [2048]byte
	found := languageMatcher.match(normalizeForLanguage(buf[:0], parts...))
	best, bestScore, enScore := "en", 0, 0
	for _, lw := range languageMatcher.ids {
		score := 0
		for _, id := range lw.ids {
			if found[id/64]&(1<<(id%64)) != 0 {
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

// asciiSpace and languagePunct classify ASCII bytes as strings.Fields and the guess see them.
var asciiSpace, languagePunct = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true},
	[utf8.RuneSelf]bool{',': true, '.': true, '!': true, '?': true, ':': true, ';': true}

// normalizeForLanguage appends to b the text the words are looked for in: the same bytes as
// " " + strings.Join(strings.Fields(strings.ToLower(s)), " ") + " " with ",.!?:;" replaced by
// spaces, for s the parts joined, without building the intermediate strings.
func normalizeForLanguage(b []byte, parts ...string) []byte {
	b = append(b, ' ')
	inField, pending := false, false
	for _, s := range parts {
		for i := 0; i < len(s); {
			if c := s[i]; c < utf8.RuneSelf {
				i++
				if asciiSpace[c] {
					if inField {
						inField, pending = false, true
					}
					continue
				}
				if pending {
					b, pending = append(b, ' '), false
				}
				inField = true
				switch {
				case 'A' <= c && c <= 'Z':
					c += 'a' - 'A'
				case languagePunct[c]:
					c = ' '
				}
				b = append(b, c)
				continue
			}
			// strings.ToLower maps rune by rune and writes U+FFFD for each invalid byte.
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			r = unicode.ToLower(r)
			if unicode.IsSpace(r) {
				if inField {
					inField, pending = false, true
				}
				continue
			}
			if pending {
				b, pending = append(b, ' '), false
			}
			inField = true
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, ' ')
}

// wordMatcher is an Aho-Corasick automaton over bytes for the words of languageWords, with
// its transitions complete (a DFA) and bytes that occur in no word folded into one class.
type wordMatcher struct {
	class  [256]uint8
	nclass int
	next   []uint16    // next[state*nclass+class]
	out    [][2]uint64 // the words (by id) that end at each state, its fail chain included
	ids    []struct {
		lang string
		ids  []int // of languageWords' words, in order
	}
}

var languageMatcher = newWordMatcher()

func newWordMatcher() *wordMatcher {
	m := &wordMatcher{}
	var words []string
	idOf := map[string]int{}
	for _, lw := range languageWords {
		var ids []int
		for _, w := range lw.words {
			id, ok := idOf[w]
			if !ok {
				id = len(words)
				idOf[w] = id
				words = append(words, w)
			}
			ids = append(ids, id)
		}
		m.ids = append(m.ids, struct {
			lang string
			ids  []int
		}{lw.lang, ids})
	}
	if len(words) > 128 {
		panic("mail: more than 128 language words")
	}
	m.nclass = 1 // class 0: bytes in no word
	for _, w := range words {
		for i := 0; i < len(w); i++ {
			if m.class[w[i]] == 0 {
				m.class[w[i]] = uint8(m.nclass)
				m.nclass++
			}
		}
	}
	// The trie, with 0 for "no edge" (the root is never a child).
	trie := [][]uint16{make([]uint16, m.nclass)}
	m.out = [][2]uint64{{}}
	for id, w := range words {
		s := 0
		for i := 0; i < len(w); i++ {
			c := m.class[w[i]]
			if trie[s][c] == 0 {
				trie = append(trie, make([]uint16, m.nclass))
				m.out = append(m.out, [2]uint64{})
				trie[s][c] = uint16(len(trie) - 1)
			}
			s = int(trie[s][c])
		}
		m.out[s][id/64] |= 1 << (id % 64)
	}
	if len(trie) > 1<<16 {
		panic("mail: language words need too many states")
	}
	// Breadth first: a state's fail is shallower, so its row and outputs are complete.
	m.next = make([]uint16, len(trie)*m.nclass)
	fail := make([]uint16, len(trie))
	queue := []int{0}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for c := 0; c < m.nclass; c++ {
			child := int(trie[s][c])
			if child == 0 {
				if s != 0 {
					m.next[s*m.nclass+c] = m.next[int(fail[s])*m.nclass+c]
				}
				continue
			}
			m.next[s*m.nclass+c] = uint16(child)
			if s != 0 {
				fail[child] = m.next[int(fail[s])*m.nclass+c]
			}
			f := fail[child]
			m.out[child][0] |= m.out[f][0]
			m.out[child][1] |= m.out[f][1]
			queue = append(queue, child)
		}
	}
	return m
}

// match returns the set of words (by id) that occur in b.
func (m *wordMatcher) match(b []byte) [2]uint64 {
	var found [2]uint64
	s := 0
	for _, c := range b {
		s = int(m.next[s*m.nclass+int(m.class[c])])
		found[0] |= m.out[s][0]
		found[1] |= m.out[s][1]
	}
	return found
}
