package ticket

import "testing"

func TestMessageIDNamesItsTicket(t *testing.T) {
	mid := MessageID("0123456789abcdef01234567", 30001, "mx.example")
	if mid != "0123456789abcdef01234567.tid30001@mx.example" {
		t.Fatalf("MessageID = %q", mid)
	}
	for _, s := range []string{mid, "<" + mid + ">", " <" + mid + "> "} {
		if n, ok := TicketOfMessageID(s); !ok || n != 30001 {
			t.Errorf("TicketOfMessageID(%q) = %d, %v", s, n, ok)
		}
	}
	if got := MessageID("0123456789abcdef", 0, "mx.example"); got != "0123456789abcdef@mx.example" {
		t.Errorf("no ticket: %q", got)
	}
	for _, s := range []string{
		"0123456789abcdef01234567@mx.example",                  // ours, older form: no ticket
		"<abc.tid30001@mx.example>",                            // too short a random part
		"<0123456789ABCDEFXYZ.tid30001@x>",                     // not hex
		"<0123456789abcdef01234567.tid@x>",                     // no number
		"<0123456789abcdef01234567.tid030001@x>",               // leading zero
		"<0123456789abcdef01234567.tid3x@x>",                   // not a number
		"<0123456789abcdef01234567.tid30001>",                  // no domain
		"<0123456789abcdef01234567.tid99999999999999999999@x>", // too large
		"<CAJ+vx=5r1jQ@mail.gmail.com>",
	} {
		if n, ok := TicketOfMessageID(s); ok {
			t.Errorf("TicketOfMessageID(%q) = %d, want none", s, n)
		}
	}
}

func FuzzTicketOfMessageID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := TicketOfMessageID(s)
		if ok && n <= 0 {
			t.Fatalf("%q named ticket %d", s, n)
		}
	})
}
