package outbound

import (
	"bytes"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/ticket"
)

func sample() Input {
	return Input{
		Kind: "update", To: "alice@customer.example",
		Ticket: ticket.Ticket{ID: 30001, Queue: "support@example.com", Subject: "Imprimante en feu 🔥", Status: "open",
			RootMessageID: "<root@customer.example>"},
		Message:    ticket.Message{MessageID: "<agent-1@example.com>", Author: "bob@example.com", Role: ticket.RoleAgent, Text: "Débranchez-la."},
		AuthorName: "Bob Agent", StatusChanged: true, Now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}
}

func TestRenderHeaders(t *testing.T) {
	r := MustRenderer("mx.support.example", "Example Support")
	raw, id, subject, err := r.Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := mr.Header
	from, _ := h.AddressList("From")
	if len(from) != 1 || from[0].Name != "Bob Agent via Example Support" || from[0].Address != "support@example.com" {
		t.Errorf("From = %+v", from)
	}
	if s, _ := h.Subject(); s != "[#TID30001] Imprimante en feu 🔥" || subject != s {
		t.Errorf("Subject = %q", s)
	}
	if !strings.Contains(string(raw), "Subject: =?utf-8?") {
		t.Error("a non-ASCII subject must be RFC 2047 encoded")
	}
	if mid, _ := h.MessageID(); "<"+mid+">" != id || !strings.HasSuffix(mid, "@mx.support.example") {
		t.Errorf("Message-ID %q vs %q", mid, id)
	}
	if refs, _ := h.MsgIDList("References"); strings.Join(refs, " ") != "root@customer.example agent-1@example.com" {
		t.Errorf("References = %v", refs)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get(mail.LoopHeader) != "mx.support.example" {
		t.Errorf("Auto-Submitted %q loop %q", h.Get("Auto-Submitted"), h.Get(mail.LoopHeader))
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(p.Body)
	if !strings.Contains(body.String(), "Débranchez-la.") || !strings.Contains(body.String(), "Status is now: Open") || strings.Contains(body.String(), "bob@") {
		t.Errorf("body:\n%s", body.String())
	}
}

// Each kind says what only it says, in its body: a template mix-up (an update rendered with
// the acknowledgement's text, say) fails here, not just a missing tag.
func TestRenderEveryKind(t *testing.T) {
	r := MustRenderer("mx.test", "Support")
	want := map[string][]string{
		"ack": {"filed as ticket #TID30001", "x.exe: not accepted",
			"reply to this mail from the same address (alice@customer.example)"},
		"notice":      {"New ticket #TID30001 in support@example.com", "Débranchez-la.", "Attachments not kept:", "x.exe"},
		"update":      {"wrote on ticket #TID30001", "Status is now: Open", "Débranchez-la."},
		"error_reply": {"commands were NOT applied", `line 1 "#status done": unknown status`},
	}
	others := map[string]string{"ack": "Thank you for writing", "notice": "New ticket", "update": "wrote on ticket",
		"error_reply": "were NOT applied"}
	for k, phrases := range want {
		in := sample()
		in.Kind = k
		in.Message.Refused = []ticket.Refused{{Filename: "x.exe", Reason: "not accepted"}}
		in.CommandErrors = []ticket.CommandError{{Line: 1, Raw: "#status done", Reason: "unknown status"}}
		raw, _, _, err := r.Render(in)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		body := bodyOf(t, raw)
		for _, p := range phrases {
			if !strings.Contains(body, p) {
				t.Errorf("%s lacks %q:\n%s", k, p, body)
			}
		}
		for other, p := range others {
			if other != k && strings.Contains(body, p) {
				t.Errorf("%s carries %s's text %q", k, other, p)
			}
		}
	}
}

// bodyOf decodes the first text part of a rendered mail.
func bodyOf(t *testing.T, raw []byte) string {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(p.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestBackoff(t *testing.T) {
	w := NewWorker(WorkerConfig{BaseBackoff: time.Second, MaxBackoff: 8 * time.Second}, nil, nil, nil, nil)
	for attempts, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		got := w.Backoff(attempts)
		if got < want*8/10 || got > want*12/10 {
			t.Errorf("Backoff(%d) = %v, want %v ±20%%", attempts, got, want)
		}
	}
}
