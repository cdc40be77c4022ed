package threading

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

func TestQuotedIDs(t *testing.T) {
	tests := []struct {
		name      string
		inReplyTo string
		refs      []string
		want      []string
	}{
		{"nothing to look up", "", nil, nil},
		{"in-reply-to first, then references newest first", "<c@x>", []string{"<a@x>", "<b@x>", "<c@x>"}, []string{"<c@x>", "<b@x>", "<a@x>"}},
		{"at most three", "", []string{"<a@x>", "<b@x>", "<c@x>", "<d@x>"}, []string{"<d@x>", "<c@x>", "<b@x>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := QuotedIDs(&mail.Message{InReplyTo: tc.inReplyTo, References: tc.refs})
			if !slices.Equal(got, tc.want) {
				t.Errorf("QuotedIDs = %q, want %q", got, tc.want)
			}
		})
	}
}

// A customer's reply quoting our update under an attribution no rule knows is stored without
// the copy, because the action carries the text we sent.
func TestApplyRemovesOurQuotedMail(t *testing.T) {
	sent := "Support wrote on ticket #TID30001:\n\nPlease restart the printer and tell us whether it still smokes afterwards.\n\n-- \nReply to this mail and keep #TID30001 in the subject to add to the ticket."
	text := "It still smokes.\n\n2026. 11. 23. 9:00, Support <s@example.com> 작성:\n\nSupport wrote on ticket #TID30001:\n\nPlease restart the printer and tell us whether it still smokes afterwards.\n\n--\nReply to this mail and keep #TID30001 in the subject to add to the ticket."
	tk := &ticket.Ticket{ID: 30001, Status: ticket.StatusOpen, Creator: "c@customer.example", Followers: []string{"c@customer.example"}}
	m := &mail.Message{From: "c@customer.example", Text: text}
	a := Action{Kind: Append, Ticket: tk, Role: ticket.RoleCustomer}
	if got := Apply(a, m, Policy{IsSupport: func(string) bool { return false }, IsAgent: func(string) bool { return false }}, nil, Facts{}, time.Now()).Message.Text; !strings.Contains(got, "2026") {
		t.Fatalf("without the sent text the unknown attribution should stay, got %q", got)
	}
	a.Sent = &Sent{Texts: []string{sent}}
	got := Apply(a, m, Policy{IsSupport: func(string) bool { return false }, IsAgent: func(string) bool { return false }}, nil, Facts{}, time.Now()).Message.Text
	if got != "It still smokes." {
		t.Errorf("stored text = %q, want %q", got, "It still smokes.")
	}
}
