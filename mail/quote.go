package mail

import (
	"regexp"
	"strings"
)

// Attribution lines that mail clients put above the quoted history, in English and French
// (and German, common enough to be worth it).
var attributionRE = []*regexp.Regexp{
	// Gmail, Thunderbird, Apple Mail: "On Mon, 22 Nov 2026 at 10:00, Alice <a@b> wrote:"
	regexp.MustCompile(`(?i)^on\b.{4,300}\bwrote\s*:\s*$`),
	// Gmail/Apple Mail in French: "Le lun. 22 nov. 2026 à 10:00, Alice <a@b> a écrit :"
	regexp.MustCompile(`(?i)^le\b.{4,300}\ba\s+écrit\s*:\s*$`),
	regexp.MustCompile(`(?i)^am\b.{4,300}\bschrieb\b.{0,200}:\s*$`),
	// Outlook and Lotus separators
	regexp.MustCompile(`(?i)^-{2,}\s*(original message|message d'origine|ursprüngliche nachricht)\s*-{2,}\s*$`),
	regexp.MustCompile(`^_{20,}\s*$`),
}

// Outlook's header block: "From: …" then within a few lines "Sent: …" or "Date: …".
var (
	outlookFromRE = regexp.MustCompile(`(?i)^\*?(from|de|von)\s*:\s*\*?.+`)
	outlookSentRE = regexp.MustCompile(`(?i)^\*?(sent|date|envoyé|gesendet|to|à|objet|subject)\s*:\s*\*?`)
	mobileSigRE   = regexp.MustCompile(`(?i)^(sent from my|envoyé de mon|get outlook for|télécharger outlook pour)\b.{0,60}$`)
)

// StripQuotes removes the quoted history and the signature from the text of a reply; the raw
// message keeps both. When nothing would be left, the text is returned unchanged: storing an
// empty message would lose what the sender meant.
func StripQuotes(text string) string {
	lines := strings.Split(text, "\n")
	cut := len(lines)
	for i := 0; i < len(lines) && cut == len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if isAttribution(l) {
			cut = i
			break
		}
		// Gmail folds long attributions over two lines.
		if i+1 < len(lines) && isAttribution(l+" "+strings.TrimSpace(lines[i+1])) {
			cut = i
			break
		}
		if outlookFromRE.MatchString(l) && outlookHeaderFollows(lines, i) {
			cut = i
			break
		}
	}
	lines = lines[:cut]
	// The signature starts at the last "-- " delimiter (RFC 3676 §4.3).
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimRight(lines[i], " \t"); l == "--" {
			lines = lines[:i]
			break
		}
	}
	// Trailing quoted lines, blank lines and mobile signatures.
	for len(lines) > 0 {
		l := strings.TrimSpace(lines[len(lines)-1])
		if l == "" || strings.HasPrefix(l, ">") || mobileSigRE.MatchString(l) {
			lines = lines[:len(lines)-1]
			continue
		}
		break
	}
	out := strings.TrimSpace(strings.Join(lines, "\n"))
	if out == "" {
		return strings.TrimSpace(text)
	}
	return out
}

func isAttribution(l string) bool {
	if len(l) > 600 {
		return false
	}
	for _, re := range attributionRE {
		if re.MatchString(l) {
			return true
		}
	}
	return false
}

func outlookHeaderFollows(lines []string, i int) bool {
	for j := i + 1; j < len(lines) && j <= i+4; j++ {
		if outlookSentRE.MatchString(strings.TrimSpace(lines[j])) {
			return true
		}
	}
	return false
}
