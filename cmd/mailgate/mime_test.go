package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func corpusMail(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "mail", "testdata", "mime", name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPastedImagesOverSMTP: screenshots pasted into a Gmail mail are kept as files under
// generated names, and the acknowledgement tells the customer those names.
func TestPastedImagesOverSMTP(t *testing.T) {
	e := startEnv(t, nil)
	if r := send(t, e.d.SMTPAddr, "customer@client.example", []string{"support@example.com"}, corpusMail(t, "gmail-pasted-image")); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	ack := decodeMail(t, e.waitMails("customer@client.example", 1)[0].Data)
	if !strings.Contains(ack, "image-1.jpg") || !strings.Contains(ack, "image-2.png") || strings.Contains(ack, "not kept") {
		t.Fatalf("ack does not name the kept images:\n%s", ack)
	}
	tk := e.ticket(30001)
	got := tk.Messages[0].Attachments
	if len(got) != 2 || !got[0].GeneratedName || got[1].Filename != "image-2.png" {
		t.Fatalf("attachments = %+v", got)
	}
}

// TestLenientMailOverSMTP: what MTAs deliver becomes a ticket, not a quarantined message.
func TestLenientMailOverSMTP(t *testing.T) {
	e := startEnv(t, nil)
	for _, name := range []string{"first-line-blank", "first-header-space", "multipart-no-boundary", "obsolete-from", "raw-latin1-subject"} {
		if r := send(t, e.d.SMTPAddr, "customer@client.example", []string{"support@example.com"}, corpusMail(t, name)); r.Code != 250 {
			t.Fatalf("send %s: %s", name, r)
		}
	}
	e.drained()
	ts := e.tickets()
	if len(ts) != 5 {
		t.Fatalf("%d tickets, want 5", len(ts))
	}
	found := false
	for _, tk := range ts {
		found = found || tk.Subject == "Réponse à votre question, merci beaucoup"
	}
	if !found {
		t.Fatal("the raw Latin-1 subject was not decoded")
	}
}
