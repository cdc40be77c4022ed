package mail

import (
	"regexp"
	"strings"
	"unicode"
)

// mailgate knows the exact text of every mail it sent. A reply that quotes one of them — with
// or without ">" markers, re-wrapped, re-encoded, or turned into HTML by the client — carries
// that text's words in the same order, whatever the client wrote around it. RemoveSent finds
// those words and removes the lines that hold them, so the common case (a customer answering
// our update) comes out exact even from clients whose markers no rule knows.

// minSentRun is the fewest words a run of lines must share with one of our mails to be taken
// for a quoted copy, unless the mail itself is shorter: a writer repeating a few of our words
// ("you asked me to restart the printer") keeps them.
const minSentRun = 8

// maxSentBytes bounds the work on one mail of ours; a longer one is compared on its start.
const maxSentBytes = 64 << 10

// leadInMaxLines bounds the attribution or header block directly above a quoted copy.
const leadInMaxLines = 6

// headerishRE is any "Key: value" line, in any language: the lines of a header block above a
// copy of our mail, even when no rule knows the client's words.
var headerishRE = regexp.MustCompile(`^\*?[\p{L}][\p{L} .-]{0,30}\*?\s*[:：]\s*\S`)

// RemoveSent removes from text the quoted copies of the given texts of our own mails, with
// the attribution or header block right above each copy. Text that matches none is returned
// unchanged.
func RemoveSent(text string, sent []string) string {
	if len(sent) == 0 {
		return text
	}
	lines := strings.Split(text, "\n")
	lineWords := make([][]string, len(lines))
	for i, l := range lines {
		lineWords[i] = words(l)
	}
	drop := make([]bool, len(lines))
	found := false
	for _, s := range sent {
		if len(s) > maxSentBytes {
			s = s[:maxSentBytes]
		}
		if markSent(lines, lineWords, words(s), drop) {
			found = true
		}
	}
	if !found {
		return text
	}
	return joinKept(lines, drop)
}

// words splits s into lower-cased runs of letters and digits: what survives re-wrapping,
// quoting markers, HTML conversion and link decoration.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// markSent marks in drop the runs of lines whose every word continues a three-word sequence
// of sent, and the lead-in above each run. It reports whether it marked anything.
func markSent(lines []string, lineWords [][]string, sent []string, drop []bool) bool {
	if len(sent) < 3 {
		return false
	}
	grams := make(map[[3]string]bool, len(sent))
	for i := 0; i+2 < len(sent); i++ {
		grams[[3]string{sent[i], sent[i+1], sent[i+2]}] = true
	}
	// Flatten the text's words so that sequences run across line ends.
	var flat []string
	var lineOf []int
	for i, ws := range lineWords {
		for _, w := range ws {
			flat = append(flat, w)
			lineOf = append(lineOf, i)
		}
	}
	// Covered words belong to a stretch of at least need words whose every three-word window
	// is one of sent's: a few common words ("only at home") in an answer stay the writer's.
	need := min(minSentRun, len(sent))
	covered := make([]bool, len(flat))
	for k := 0; k+2 < len(flat); {
		if !grams[[3]string{flat[k], flat[k+1], flat[k+2]}] {
			k++
			continue
		}
		e := k
		for e+3 < len(flat) && grams[[3]string{flat[e+1], flat[e+2], flat[e+3]}] {
			e++
		}
		if e+3-k >= need {
			for w := k; w < e+3; w++ {
				covered[w] = true
			}
		}
		k = e + 1
	}
	ours := make([]bool, len(lines)) // every word of the line is covered
	for i := range ours {
		ours[i] = len(lineWords[i]) > 0
	}
	for k, c := range covered {
		if !c {
			ours[lineOf[k]] = false
		}
	}
	marked := false
	for i := 0; i < len(lines); {
		if !ours[i] {
			i++
			continue
		}
		// A run: lines of ours, with wordless lines (blank, ">", "--") inside it.
		start, end, n := i, i, 0
		for j := i; j < len(lines) && (ours[j] || len(lineWords[j]) == 0); j++ {
			if ours[j] {
				end = j
				n += len(lineWords[j])
			}
		}
		i = end + 1
		if n < need {
			continue
		}
		for k := start; k <= end; k++ {
			drop[k] = true
		}
		markLeadIn(lines, start, drop)
		marked = true
	}
	return marked
}

// markLeadIn marks the paragraph directly above a copy starting at line start when it is an
// attribution or a header block: it ends in a colon or is all "Key: value" lines, names a
// date, a time or an address, and is short. A separator line right above it goes too.
func markLeadIn(lines []string, start int, drop []bool) {
	j := start - 1
	for j >= 0 && strings.TrimSpace(strings.TrimLeft(lines[j], "> ")) == "" {
		j--
	}
	end := j
	for j >= 0 && strings.TrimSpace(lines[j]) != "" && end-j < leadInMaxLines {
		j--
	}
	if end < 0 || (j >= 0 && strings.TrimSpace(lines[j]) != "") {
		return // no paragraph, or one longer than a lead-in
	}
	para := lines[j+1 : end+1]
	joined := strings.TrimSpace(strings.Join(para, " "))
	last := strings.TrimSpace(para[len(para)-1])
	intro := strings.HasSuffix(last, ":") || strings.HasSuffix(last, "：")
	header := true
	for _, l := range para {
		if !headerishRE.MatchString(strings.TrimSpace(l)) {
			header = false
		}
	}
	if !(intro || header) || !(dateOrTimeRE.MatchString(joined) || strings.Contains(joined, "@")) {
		return
	}
	for k := j + 1; k < start; k++ {
		drop[k] = true
	}
	// A separator line directly above the lead-in.
	for k := j; k >= 0; k-- {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		if ruleLineRE.MatchString(t) || originalMessageRE.MatchString(t) {
			drop[k] = true
		}
		break
	}
}

// ShownText is a text/plain body we wrote as a mail client shows it and as the parser reads a
// reply's text: what a reply to that mail may quote.
func ShownText(text string) string { return cleanText(text) }
