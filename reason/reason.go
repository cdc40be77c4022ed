// Package reason is the one list of why mailgate refuses, drops or closes: each reason carries
// its SMTP reply (code, RFC 3463 enhanced code, a sentence for the sender) and is itself the
// label of mailgate_rejections_total. threading decides with these values, ingest counts
// them and smtpd answers them; nothing else spells a reason or a refusal code.
package reason

// Reason says why a message, a recipient or a session was refused or dropped. Its string is
// the metric label and the value logged under "reason".
type Reason string

// Refusals answered 4xx or 5xx. The codes are in Reply.
const (
	None Reason = ""
	// NotSupportAddress: RCPT TO is none of our addresses; never an open relay.
	NotSupportAddress Reason = "not_support_address"
	// TooManyRecipients: more RCPT TO than smtp.max_recipients in one transaction.
	TooManyRecipients Reason = "too_many_recipients"
	// TooBig: the message (or its SIZE=) exceeds smtp.max_message_bytes.
	TooBig Reason = "too_big"
	// Store: Redis is unreachable or the write failed; the sending MTA retries.
	Store Reason = "store"
	// NoFrom: no parseable From: address.
	NoFrom Reason = "no_from"
	// NotInTo: no support address in To: (only in Cc/Bcc), with tickets.not_in_to: reject.
	NotInTo Reason = "not_in_to"
	// NoAccount: accounts.require_active and the sender has no active account.
	NoAccount Reason = "no_account"
	// Loop: more Received: headers than smtp.max_received.
	Loop Reason = "loop"
	// HeaderTooBig: the header is larger than the parser accepts.
	HeaderTooBig Reason = "header_too_big"
	// BadData: the message data could not be read.
	BadData Reason = "bad_data"
	// Smuggling: a "." line ended or started by a bare CR or LF (CVE-2023-51764).
	Smuggling Reason = "smuggling"
	// CommentOnly: a comment address takes agents' notes on existing tickets only.
	CommentOnly Reason = "comment_only"
	// TooManyErrors: smtp.max_errors refusals in one connection; the session is closed.
	TooManyErrors Reason = "too_many_errors"
	// TooManySessions: smtp.max_sessions are open; the connection is closed at once.
	TooManySessions Reason = "too_many_sessions"
	// TooManySessionsPerIP: smtp.max_sessions_per_ip are open from the client's address.
	TooManySessionsPerIP Reason = "too_many_sessions_per_ip"
	// ShuttingDown: mailgate is stopping; idle sessions and new connections are closed.
	ShuttingDown Reason = "shutting_down"
)

// Reasons that accept the message (250) and drop it, or keep it aside.
const (
	// OwnMarker: the message carries our own loop marker header.
	OwnMarker Reason = "own_marker"
	// Auto: automatic mail (rule 8) with no ticket to thread onto.
	Auto Reason = "auto"
	// Quarantined: the message could not be parsed; its raw bytes are kept for agents.
	Quarantined Reason = "quarantined"
	// UnknownTicket: an agent's tag names no ticket; nothing is stored and the agent gets an
	// error reply (opening a ticket in an agent's name would help nobody).
	UnknownTicket Reason = "unknown_ticket"
)

// Reply is what the SMTP client is told.
type Reply struct {
	Code     int
	Enhanced [3]int // RFC 3463 class.subject.detail
	Text     string // one sentence, ASCII
}

// Reply returns the reason's SMTP reply. Reasons that accept the message answer 250; the zero
// Reply is returned for None.
func (r Reason) Reply() Reply {
	switch r {
	case NotSupportAddress: // RFC 3463 5.1.1: bad destination mailbox address
		return Reply{550, [3]int{5, 1, 1}, "No such support address here; this server only accepts mail for its support addresses"}
	case TooManyRecipients: // 4.5.3: too many recipients; the client sends the rest later
		return Reply{452, [3]int{4, 5, 3}, "Too many recipients in one message; send the others in another transaction"}
	case TooBig: // 5.3.4: message too big for system
		return Reply{552, [3]int{5, 3, 4}, "Message too big for this server"}
	case Store: // 4.3.0: other or undefined mail system status, transient
		return Reply{451, [3]int{4, 3, 0}, "Temporary failure storing the message, please try again later"}
	case NoFrom: // 5.6.0: other or undefined media error
		return Reply{550, [3]int{5, 6, 0}, "Message refused: no parseable From: address"}
	case NotInTo: // 5.7.1: delivery not authorized
		return Reply{550, [3]int{5, 7, 1}, "support address must be in To:"}
	case NoAccount:
		return Reply{550, [3]int{5, 7, 1}, "no active support account"}
	case Loop: // 5.4.6: routing loop detected
		return Reply{554, [3]int{5, 4, 6}, "Routing loop detected: too many Received headers"}
	case HeaderTooBig:
		return Reply{552, [3]int{5, 3, 4}, "Message header too large"}
	case BadData: // 5.5.2: syntax error
		return Reply{500, [3]int{5, 5, 2}, "Could not read the message data"}
	case Smuggling:
		return Reply{550, [3]int{5, 5, 2}, "Message refused: a line holding only \".\" with a bare CR or LF (SMTP smuggling); send CRLF line ends"}
	case CommentOnly:
		return Reply{550, [3]int{5, 7, 1}, "This address takes agents' notes on existing tickets only"}
	case TooManyErrors: // 4.7.0: other security status; the client may come back
		return Reply{421, [3]int{4, 7, 0}, "Too many errors, closing connection"}
	case TooManySessions:
		return Reply{421, [3]int{4, 7, 0}, "Too many connections, try again later"}
	case TooManySessionsPerIP:
		return Reply{421, [3]int{4, 7, 0}, "Too many connections from your address, try again later"}
	case ShuttingDown: // 4.3.2: system not accepting network messages
		return Reply{421, [3]int{4, 3, 2}, "Service shutting down, try again later"}
	case OwnMarker, Auto, Quarantined, UnknownTicket:
		return Reply{250, [3]int{2, 0, 0}, "OK"}
	}
	return Reply{}
}

// Refuses reports whether the reason is answered 4xx or 5xx.
func (r Reason) Refuses() bool { return r.Reply().Code >= 400 }

// All returns every reason but None, refusals first, in a fixed order.
func All() []Reason {
	return []Reason{NotSupportAddress, TooManyRecipients, TooBig, Store, NoFrom, NotInTo, NoAccount, Loop,
		HeaderTooBig, BadData, Smuggling, CommentOnly, TooManyErrors, TooManySessions, TooManySessionsPerIP,
		ShuttingDown, OwnMarker, Auto, Quarantined, UnknownTicket}
}

// Refusals returns the reasons answered 4xx or 5xx: the label values of
// mailgate_rejections_total.
func Refusals() []Reason {
	var out []Reason
	for _, r := range All() {
		if r.Refuses() {
			out = append(out, r)
		}
	}
	return out
}
