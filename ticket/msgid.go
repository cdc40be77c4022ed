package ticket

import (
	"strconv"
	"strings"
)

// msgIDMark separates the random part of our Message-IDs from the ticket they belong to.
const msgIDMark = ".tid"

// MessageID returns the Message-ID (without angle brackets) of a mail about ticket id: a
// random part that makes it unique, and the ticket, so that a reply's In-Reply-To or
// References thread it without a lookup key per mail sent. Naming a ticket this way grants no
// more than its tag in a subject does: the same sender rules apply.
func MessageID(random string, id int64, host string) string {
	if id <= 0 {
		return random + "@" + host
	}
	return random + msgIDMark + strconv.FormatInt(id, 10) + "@" + host
}

// TicketOfMessageID returns the ticket a Message-ID made by MessageID names, with or without
// angle brackets. The random part must be at least 16 hex digits, so that other mailers'
// IDs do not match by accident.
func TicketOfMessageID(mid string) (int64, bool) {
	mid = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(mid), "<"), ">")
	local, _, ok := strings.Cut(mid, "@")
	if !ok {
		return 0, false
	}
	i := strings.LastIndex(local, msgIDMark)
	if i < 16 {
		return 0, false
	}
	for _, c := range local[:i] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, false
		}
	}
	digits := local[i+len(msgIDMark):]
	if digits == "" || len(digits) > 18 || digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
