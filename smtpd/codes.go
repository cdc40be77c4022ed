package smtpd

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/reason"
)

// Every refusal smtpd writes is built here from package reason's list: the code, the RFC 3463
// code and the sentence come from there, smtpd only adds a detail and keeps replies ASCII.

// refusal is the reply for why; detail, when set, is appended to the sentence. With
// utf8 false (the client did not ask for SMTPUTF8) the text is made ASCII, as RFC 6531 §3.7.4.2
// allows UTF-8 in replies only to clients that did.
func refusal(why reason.Reason, detail string, utf8 bool) *smtp.SMTPError {
	rp := why.Reply()
	if rp.Code < 400 {
		// A reason that accepts is never a refusal; answering 5.7.0 beats answering 250.
		rp = reason.Reply{Code: 550, Enhanced: [3]int{5, 7, 0}, Text: "Message refused"}
	}
	text := rp.Text
	if detail != "" {
		text += ": " + detail
	}
	return &smtp.SMTPError{Code: rp.Code, EnhancedCode: smtp.EnhancedCode(rp.Enhanced), Message: replyText(text, utf8)}
}

// maxReplyText bounds a reply line; details quote the sender's own header text.
const maxReplyText = 400

// replyText makes text one reply line: control characters (CR and LF would end the reply
// early, or start a line the client takes for a reply of its own) become spaces, and
// without utf8 every non-ASCII character becomes '?', as maddy does.
func replyText(text string, utf8 bool) string {
	var b strings.Builder
	for _, c := range text {
		switch {
		case b.Len() >= maxReplyText:
			return b.String() + "..."
		case c < ' ' || c == 0x7f:
			b.WriteByte(' ')
		case c > '~' && !utf8:
			b.WriteByte('?')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// tempFail is the reply to a failure on our side; ref is logged with the failure, so that
// an operator finds it from the sender's bounce.
func tempFail(ref string) error {
	e := refusal(reason.Store, "", false)
	e.Message += " (ref " + ref + ")"
	return e
}

// sessionSuffix ends every reply text of ours: an operator greps the log for the id a sender
// quotes from a bounce. It is added after replyText's cut, so that a long detail never hides it.
func sessionSuffix(id string) string {
	if id == "" {
		return ""
	}
	return " (session " + id + ")"
}

// withSession returns e with the session id added; e itself may be shared and is not changed.
func withSession(e *smtp.SMTPError, id string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: e.Code, EnhancedCode: e.EnhancedCode, Message: e.Message + sessionSuffix(id)}
}

// newRef returns 12 random hex characters: a session id, or the ref of one failure.
func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
