package ticket

import (
	"strings"
	"unicode/utf8"
)

// maxMentions bounds how many people one message may mention: a mail is not a mailing list.
const maxMentions = 20

// Mentions returns the `@local-part` and `@address` mentions of text, lower-cased, in order,
// each once. A mention starts a line or follows a space or an opening bracket, so an address
// written in full ("bob@example.com") is not a mention of "example.com".
func Mentions(text string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(text) && len(out) < maxMentions; i++ {
		if text[i] != '@' {
			continue
		}
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:i])
			if !strings.ContainsRune(" \t\r\n([{<\"',;:", prev) {
				continue
			}
		}
		j := i + 1
		for j < len(text) && mentionByte(text[j]) {
			j++
		}
		m := strings.ToLower(strings.TrimRight(text[i+1:j], ".-"))
		i = j - 1
		if m == "" || strings.HasPrefix(m, "@") || strings.Count(m, "@") > 1 || strings.HasSuffix(m, "@") {
			continue
		}
		if local, dom, ok := strings.Cut(m, "@"); ok && (local == "" || !strings.Contains(dom, ".")) {
			continue
		}
		if len(m) > 254 || seen[m] {
			continue
		}
		seen[m] = true
		out = append(out, m)
	}
	return out
}

func mentionByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("._%+-@", b) >= 0
}

// MentionAddress turns a mention into an address: `@address` as written, `@local-part` in
// domain (the writer's own domain, or the agents' for an agent).
func MentionAddress(mention, domain string) string {
	if strings.Contains(mention, "@") {
		return plainAddress(mention)
	}
	if domain == "" {
		return ""
	}
	return plainAddress(mention + "@" + domain)
}
