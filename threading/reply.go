package threading

import "github.com/mailgate/mailgate/mail"

// Sent is the text of our own mails a reply answers, found by the caller from QuotedIDs. A
// pointer keeps Action comparable.
type Sent struct{ Texts []string }

func (s *Sent) texts() []string {
	if s == nil {
		return nil
	}
	return s.Texts
}

// maxQuotedIDs bounds the mails of ours looked up for one reply: the one it answers and the
// few before it in the thread, which clients quote below it.
const maxQuotedIDs = 3

// QuotedIDs returns the Message-IDs of the mails a reply most likely quotes, most specific
// first: In-Reply-To, then References from the newest. The store knows the text of those
// that are ours (the others simply match nothing).
func QuotedIDs(m *mail.Message) []string {
	var out []string
	add := func(id string) {
		if id == "" || len(out) >= maxQuotedIDs {
			return
		}
		for _, o := range out {
			if o == id {
				return
			}
		}
		out = append(out, id)
	}
	add(m.InReplyTo)
	for i := len(m.References) - 1; i >= 0; i-- {
		add(m.References[i])
	}
	return out
}
