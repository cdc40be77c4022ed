package mail

import (
	"regexp"
	"strings"
)

// Quoted history comes in two shapes. Marked history has every line quoted with ">" (Gmail,
// Thunderbird, Apple Mail, mobile clients); it may come above the writer's answer
// (bottom-posting) or between answers, so only the quoted lines and the attribution that
// introduces them go. Unmarked history (Outlook, Lotus Notes, webmails) is announced by a
// separator or a header block and runs to the end of the mail.
//
// Signatures are the writer's words (a phone number an agent needs) and stay. A forwarded
// message the writer sends on purpose is content, not history, and stays whole.

// originalMessageRE is Outlook's and other clients' separator above unmarked history.
var originalMessageRE = regexp.MustCompile(`(?i)^-{2,}\s*(original message|original-nachricht|ursprüngliche nachricht|` +
	`message d'origine|mensaje original|messaggio originale|mensagem original|oorspronkelijk bericht|` +
	`originalmeddelande|ursprungligt meddelande|wiadomość oryginalna|oryginalna wiadomość|исходное сообщение|` +
	`исходное письмо|元のメッセージ|原始邮件|原始郵件)\s*-{2,}$`)

// notesWroteRE is Lotus Notes' separator: -----"Alice" <a@b> wrote: -----
var notesWroteRE = regexp.MustCompile(`(?i)^-{3,}.{0,300}(wrote|a écrit|schrieb|ha scritto|escribió|escreveu|schreef|skrev|napisał)\s*:\s*-{3,}$`)

// ruleLineRE is a line of underscores, dashes or equal signs: Outlook's separator when a
// header block follows it, the writer's own divider otherwise.
var ruleLineRE = regexp.MustCompile(`^(_{10,}|-{10,}|={10,})$`)

// The header block of unmarked history ("From: … Sent: … To: … Subject: …") in the languages
// of attributionVerbRE, optionally bold (*From:*) as HTML clients write it in their text part.
var (
	headerFromKeyRE = regexp.MustCompile(`(?i)^\*?(from|de|von|da|van|från|od|fra|от|差出人|发件人|寄件者|lähettäjä)\s*\*?\s*[:：]`)
	headerFromRE    = regexp.MustCompile(headerFromKeyRE.String() + `\s*\*?\s*\S`)
	headerSubjectRE = regexp.MustCompile(`(?i)^\*?(subject|objet|sujet|betreff|oggetto|onderwerp|asunto|assunto|ämne|temat|emne|тема|件名|主题|主旨)\s*\*?\s*[:：]`)
	headerKeyRE     = regexp.MustCompile(`(?i)^\*?(from|sent|date|to|cc|subject|de|envoyé|à|objet|pour|sujet|von|gesendet|an|` +
		`betreff|datum|da|inviato|a|oggetto|data|van|verzonden|aan|onderwerp|enviado|enviada|para|asunto|assunto|` +
		`från|skickat|till|ämne|od|wysłano|do|temat|fra|sendt|emne|от|отправлено|кому|тема|копия|дата|` +
		`差出人|送信日時|宛先|件名|日付|发件人|发送时间|收件人|主题|抄送|日期|寄件者|傳送時間|收件者|主旨)\s*\*?\s*[:：]`)
	// inlineHeaderKeyRE finds the other keys of a header block flattened into one line, as a
	// Lotus Notes header table becomes once converted to text.
	inlineHeaderKeyRE = regexp.MustCompile(`(?i)\s(sent|date|to|subject|gesendet|an|betreff|datum|envoyé|à|objet|` +
		`inviato|oggetto|verzonden|aan|onderwerp|enviado|para|asunto|assunto|skickat|till|ämne|wysłano|temat)\s*:`)
)

// forwardMarkerRE is the first line of a forwarded message, in the clients' languages.
var forwardMarkerRE = regexp.MustCompile(`(?i)^(-{2,}\s*(forwarded message|message transféré|weitergeleitete nachricht|` +
	`mensaje reenviado|messaggio inoltrato|mensagem encaminhada|doorgestuurd bericht|vidarebefordrat meddelande|` +
	`videresendt meddelelse|wiadomość przekazana dalej|przekazana wiadomość|пересылаемое сообщение|` +
	`転送メッセージ|转发的邮件|轉寄的郵件)\s*-{2,}|` +
	`(begin forwarded message|début du message réexpédié|anfang der weitergeleiteten nachricht|` +
	`inicio del mensaje reenviado|inizio messaggio inoltrato|início da mensagem reencaminhada|` +
	`começo da mensagem encaminhada|begin doorgestuurd bericht|vidarebefordrat brev|` +
	`начало переадресованного сообщения|転送されたメッセージ|以下是转发的邮件|开始转发的邮件)\s*[:：]?)$`)

// StripQuotes returns the writer's own text of a reply: quoted history goes, every line the
// writer wrote stays. When nothing would be left, the text is returned unchanged: storing an
// empty message would lose what the sender meant.
func StripQuotes(text string) string {
	lines := strings.Split(text, "\n")
	end, fwd := len(lines), len(lines)
	prev := "" // the last non-blank line
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.TrimLeft(l, "> ") == "" {
			continue
		}
		last := prev
		prev = l
		if isQuoted(l) {
			// A quoted block that is a forwarded message (Apple Mail quotes what it forwards)
			// is content, unless an attribution says it is a quoted reply.
			if !isQuoted(last) && !isQuoteIntro(last) && forwardMarkerRE.MatchString(strings.TrimSpace(strings.TrimLeft(l, "> "))) {
				fwd = i
				break
			}
			continue
		}
		if forwardMarkerRE.MatchString(l) {
			fwd = i
			break
		}
		if unmarkedHistoryAt(lines, i) {
			end = i
			break
		}
	}
	body := lines[:min(end, fwd)]
	out := joinKept(body, markedHistory(body))
	if fwd < len(lines) {
		out += strings.Join(lines[fwd:], "\n")
	}
	out = strings.TrimRight(strings.TrimLeft(out, "\n"), " \t\n")
	if strings.TrimSpace(out) == "" {
		return strings.TrimSpace(text)
	}
	return out
}

// joinKept joins the lines not dropped. Where lines were dropped, the blank lines around
// them become one; the writer's own spacing stays, and leading blank lines go.
func joinKept(lines []string, drop []bool) string {
	var b strings.Builder
	blank, dropped := true, false
	for i, l := range lines {
		switch {
		case drop[i]:
			dropped = true
			continue
		case strings.TrimSpace(l) == "":
			if blank && (dropped || b.Len() == 0) {
				continue
			}
			blank = true
			l = ""
		default:
			blank, dropped = false, false
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func isQuoted(trimmed string) bool { return strings.HasPrefix(trimmed, ">") }

// unmarkedHistoryAt reports whether the history that runs to the end of the mail starts at
// line i: a separator, a header block, or an attribution that no quoted line follows.
func unmarkedHistoryAt(lines []string, i int) bool {
	l := strings.TrimSpace(lines[i])
	switch {
	case originalMessageRE.MatchString(l), notesWroteRE.MatchString(l):
		return true
	case ruleLineRE.MatchString(l):
		for j, seen := i+1, 0; j < len(lines) && seen < 2; j++ {
			next := strings.TrimSpace(lines[j])
			if next == "" {
				continue
			}
			if headerKeyRE.MatchString(next) {
				return true
			}
			seen++
		}
		return false
	case headerKeyRE.MatchString(l):
		return headerBlockAt(lines, i)
	}
	n, ok := attributionAt(lines, i)
	if !ok {
		return false
	}
	for j := i + n; j < len(lines); j++ {
		if next := strings.TrimSpace(lines[j]); next != "" {
			return !isQuoted(next)
		}
	}
	return true
}

// headerBlockAt reports whether line i starts the header block of a quoted mail: at least
// three header lines, among them who sent it and its subject (a writer's own "From: Paris /
// To: London" stays), or a From line carrying the others flattened (a converted table).
func headerBlockAt(lines []string, i int) bool {
	if headerFromRE.MatchString(strings.TrimSpace(lines[i])) && len(inlineHeaderKeyRE.FindAllStringIndex(lines[i], 3)) >= 2 {
		return true
	}
	keys, from, subject := 0, false, false
	// Up to eight lines: a long To or Cc line is wrapped by the client.
	for j := i; j < len(lines) && j < i+8; j++ {
		l := strings.TrimSpace(lines[j])
		if l == "" {
			break
		}
		if headerKeyRE.MatchString(l) {
			keys++
			from = from || headerFromRE.MatchString(l)
			subject = subject || headerSubjectRE.MatchString(l)
		}
	}
	return keys >= 3 && from && subject
}

// markedHistory returns which lines are quoted history: the quoted lines and the attribution
// (or date-bearing intro) directly above each quoted block.
func markedHistory(lines []string) []bool {
	drop := make([]bool, len(lines))
	prev := -1 // last non-blank line
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if isQuoted(t) {
			drop[i] = true
			if prev >= 0 && !drop[prev] {
				dropIntro(lines, prev, drop)
			}
		}
		prev = i
	}
	return drop
}

// dropIntro marks the attribution that ends at line j, wrapped over up to three lines.
func dropIntro(lines []string, j int, drop []bool) {
	for s := max(j-2, 0); s <= j; s++ {
		if n, ok := attributionAt(lines, s); ok && s+n-1 == j {
			for k := s; k <= j; k++ {
				drop[k] = true
			}
			return
		}
	}
	if isQuoteIntro(lines[j]) {
		drop[j] = true
	}
}
