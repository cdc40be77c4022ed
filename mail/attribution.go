package mail

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// An attribution is the line a client writes above the history it quotes ("On … wrote:").
// Clients wrap long ones over two or three lines, often right after the "<" of the address,
// so candidates are tried on up to three joined lines.

// attributionVerbRE matches the end of an attribution in the languages support mail comes in.
var attributionVerbRE = regexp.MustCompile(`(?i)(` +
	`\bwrote|\ba\s+écrit|\bescribió|\bha\s+scritto|\bescreveu|\bpisze|\bnapisał\(?a?\)?|\bnapisała|` +
	`написал\(?а?\)?|написала|пишет|のメッセージ|書きました|写道|寫道|\bkirjoitti|\bnapsal\(?a?\)?|\byazdı|` +
	`\bhet volgende geschreven|\bscrisse)\s*[:：]$`)

// attributionSenderVerbRE: German, Dutch and Scandinavian clients put the sender after the
// verb ("Am … schrieb Alice <a@b>:"), Lotus Notes the date ("Alice <a@b> wrote on 23/11/2026
// 09:00:00:").
var attributionSenderVerbRE = regexp.MustCompile(`(?i)\b(skrev|schrieb|schreef|wrote on)\b`)

// hasAttributionVerb reports whether l, which ends in a colon, ends as an attribution does.
// Only its end is searched: the expressions are costly on long lines, and run on every line.
func hasAttributionVerb(l string) bool {
	tail := strings.ToLower(suffix(l, 260))
	found := false
	for _, v := range attributionVerbs {
		if strings.Contains(tail, v) {
			found = true
			break
		}
	}
	if !found {
		return false // most lines: no regular expression runs
	}
	return attributionVerbRE.MatchString(suffix(l, 80)) || attributionSenderVerbRE.MatchString(tail)
}

// attributionVerbs are the words attributionVerbRE and attributionSenderVerbRE look for,
// lower-cased: a line holding none of them is no attribution.
var attributionVerbs = []string{"wrote", "écrit", "escribió", "scritto", "escreveu", "pisze", "napisa",
	"написал", "пишет", "のメッセージ", "書きました", "写道", "寫道", "kirjoitti", "napsal", "yazdı",
	"geschreven", "scrisse", "skrev", "schrieb", "schreef"}

// suffix returns at most the last n bytes of s, starting on a character boundary.
func suffix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// attributionOpenerRE matches how attributions begin: "On", "Le", "Am", "El", "Il (giorno)", "Em",
// "Op", "Den", "W dniu", "Dnia", "在", "Dne".
var attributionOpenerRE = regexp.MustCompile(`(?i)^(on|le|am|el|il|em|op|den|w dniu|dnia|dne|在)\s`)

// gmailAddrAttributionRE is Gmail's attribution in languages without a verb (Russian,
// Japanese…): "<date>, Alice <a@b>:".
var gmailAddrAttributionRE = regexp.MustCompile(`<[^<>\s]+@[^<>\s]+>\s*[:：]$`)

// dateOrTimeRE finds a time (9:00, 09.00) or a year, which attributions carry and writers'
// sentences ending in "wrote:" rarely do.
var dateOrTimeRE = regexp.MustCompile(`\d{1,2}[:.]\d{2}|\b(19|20)\d{2}\b|\d{4}年|\d{1,2}/\d{1,2}/\d{2,4}`)

// maxAttributionLen bounds a candidate: real attributions are short, and the regular
// expressions above must not run on a whole paragraph.
const maxAttributionLen = 400

// attributionAt reports whether lines[i:] starts with an attribution and how many lines it
// spans (1 to 3).
func attributionAt(lines []string, i int) (n int, ok bool) {
	cand := ""
	for k := 0; k < 3 && i+k < len(lines); k++ {
		l := strings.TrimSpace(lines[i+k])
		if l == "" || (k > 0 && isQuoted(l)) {
			return 0, false
		}
		// A line that ends a sentence ("Hi,") is the writer's, not the start of a wrapped
		// attribution.
		if k > 0 && strings.ContainsAny(cand[len(cand)-1:], ".,!?;:") {
			return 0, false
		}
		if k == 0 {
			cand = l
		} else {
			cand += " " + l
		}
		if len(cand) > maxAttributionLen {
			return 0, false
		}
		if isAttribution(cand) {
			return k + 1, true
		}
	}
	return 0, false
}

// isAttribution reports whether one (joined) line is an attribution: it ends as attributions
// end, and it starts as they start or carries a date, a time or an address.
func isAttribution(l string) bool {
	if len(l) > maxAttributionLen {
		return false
	}
	l = strings.TrimSpace(strings.TrimLeft(l, "> "))
	if !strings.HasSuffix(l, ":") && !strings.HasSuffix(l, "：") {
		return false
	}
	dated := dateOrTimeRE.MatchString(l) || strings.Contains(l, "@")
	if gmailAddrAttributionRE.MatchString(l) && dateOrTimeRE.MatchString(l) {
		return true
	}
	if !hasAttributionVerb(l) {
		return false
	}
	return dated || attributionOpenerRE.MatchString(l)
}

// isQuoteIntro reports whether a line directly above a quoted block introduces it: it ends as
// attributions end, or in a colon after a date, a time or an address (unknown clients). A
// writer's own "as you said:" stays.
func isQuoteIntro(l string) bool {
	l = strings.TrimSpace(l)
	if len(l) > maxAttributionLen {
		return false
	}
	// Older Gmail: "2026/11/23 Alice <a@b.example>", no colon.
	if strings.HasSuffix(l, ">") && strings.Contains(l, "@") && dateOrTimeRE.MatchString(l) {
		return true
	}
	if !(strings.HasSuffix(l, ":") || strings.HasSuffix(l, "：")) {
		return false
	}
	// "Alice wrote:" right above what Alice wrote means nothing without it.
	return hasAttributionVerb(l) || dateOrTimeRE.MatchString(l) || strings.Contains(l, "@")
}
