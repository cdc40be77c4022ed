package mail

import "regexp"

// forwardSubjectRE is a subject that begins as a forward does (Fwd:, FW:, TR:, WG:, RV:, I:,
// Doorst:, VS:, PD:, ENC:, Пересл:, 转发:): everything in such a mail is content.
var forwardSubjectRE = regexp.MustCompile(`(?i)^\s*(fwd?|tr|wg|rv|i|doorst|vs|vb|pd|enc|rif|пересл|转发|轉寄)\s*[:：]`)

// ReplyText is the text stored for a reply and sent to followers: the writer's words without
// the quoted history. sent are the texts of our own mails the reply may quote; their copies
// are removed exactly, before the markers of the clients are looked for. The message's full
// text stays in m.Text (and the raw message in the store).
func ReplyText(m *Message, sent []string) string {
	if forwardSubjectRE.MatchString(m.Subject) {
		return m.Text
	}
	text := m.Text
	if m.htmlReply != "" {
		text = m.htmlReply
	}
	if out := StripQuotes(RemoveSent(text, sent)); out != "" {
		return out
	}
	return m.Text
}
