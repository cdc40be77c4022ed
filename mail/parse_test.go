package mail

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var testPolicy = Policy{MaxFileBytes: 1 << 20, AllowedExtensions: []string{".pdf", ".txt", ".jpg", ".png"}}

func parseFile(t *testing.T, name string) *Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewParser(testPolicy).Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return m
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		file, from, fromName, subject, msgID string
		textHas                              []string // in the full text
		strippedIs                           string   // after quote stripping
	}{
		{file: "gmail-reply.eml", from: "alice@customer.example", fromName: "Alice Customer",
			subject: "Re: [#TID30001] Printer on fire", msgID: "<CAGmail-1234@mail.gmail.com>",
			strippedIs: "Thanks, I unplugged it. The smoke has stopped."},
		{file: "outlook-reply.eml", from: "marie.dupont@client.example", fromName: "Dupont, Marie",
			subject: "RE: [#TID30002] Invoice missing", msgID: "<DB9PR01MB1234@DB9PR01MB1234.eurprd01.prod.outlook.com>",
			textHas:    []string{"20 €"},
			strippedIs: "Hello,\n\nHere is the order number: 4711. It cost 20 €.\n\nBest regards\nMarie"},
		{file: "applemail-reply.eml", from: "bob@mac.example", fromName: "Bob Martin",
			subject: "Re: [#TID30003] Cannot log in", strippedIs: "It works again, thank you!\n\nBob"},
		{file: "thunderbird-fr-reply.eml", from: "renee@exemple.fr", fromName: "Renée Lefèvre",
			subject: "Re: [#TID30004] Problème de facturation", textHas: []string{"arrivée", "Très bien"},
			// The signature is the writer's: kept (docs/replies.md).
			strippedIs: "Bonjour,\n\nMerci, la facture est arrivée. Très bien.\n\n-- \nRenée Lefèvre\nComptabilité"},
		{file: "japanese-iso2022jp.eml", from: "yamada@kaisha.example.jp", fromName: "山田太郎",
			subject: "プリンターの故障", textHas: []string{"プリンターが動きません。", "至急対応をお願いします。"}},
		{file: "html-only.eml", from: "person@html.example", subject: "HTML only",
			textHas: []string{"My account 12345 is locked."}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m := parseFile(t, tc.file)
			if m.From != tc.from {
				t.Errorf("From = %q, want %q", m.From, tc.from)
			}
			if tc.fromName != "" && m.FromName != tc.fromName {
				t.Errorf("FromName = %q, want %q", m.FromName, tc.fromName)
			}
			if m.Subject != tc.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tc.subject)
			}
			if tc.msgID != "" && m.MessageID != tc.msgID {
				t.Errorf("MessageID = %q, want %q", m.MessageID, tc.msgID)
			}
			for _, s := range tc.textHas {
				if !strings.Contains(m.Text, s) {
					t.Errorf("text lacks %q:\n%s", s, m.Text)
				}
			}
			if strings.Contains(m.Text, "<") && tc.file == "html-only.eml" {
				t.Errorf("HTML tags left in text: %q", m.Text)
			}
			if tc.strippedIs != "" {
				if got := StripQuotes(m.Text); got != tc.strippedIs {
					t.Errorf("stripped text:\n%q\nwant\n%q", got, tc.strippedIs)
				}
			}
		})
	}
}

func TestParseAttachmentsPolicy(t *testing.T) {
	m := parseFile(t, "nested-attachments.eml")
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "contract.pdf" || m.Attachments[0].Size == 0 {
		t.Fatalf("attachments = %+v, want contract.pdf", m.Attachments)
	}
	if len(m.Attachments[0].SHA256) != 64 {
		t.Errorf("sha256 = %q", m.Attachments[0].SHA256)
	}
	if len(m.Refused) != 1 || m.Refused[0].Filename != "setup.exe" || !strings.Contains(m.Refused[0].Reason, ".exe") {
		t.Fatalf("refused = %+v, want setup.exe (path stripped) refused for its type", m.Refused)
	}
	if !strings.Contains(m.Text, "Please find the contract attached.") {
		t.Errorf("text = %q", m.Text)
	}
	if len(m.Cc) != 1 || m.Cc[0] != "dave@corp.example" {
		t.Errorf("Cc = %v", m.Cc)
	}
}

func TestParseAttachmentTooBig(t *testing.T) {
	raw, _ := os.ReadFile("testdata/nested-attachments.eml")
	m, err := NewParser(Policy{MaxFileBytes: 10, AllowedExtensions: []string{".pdf"}}).Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 0 || len(m.Refused) != 2 || !strings.Contains(m.Refused[0].Reason, "larger than 10 bytes") {
		t.Fatalf("attachments %+v refused %+v", m.Attachments, m.Refused)
	}
}

func TestParseIdentity(t *testing.T) {
	p := NewParser(testPolicy)
	tests := []struct {
		name, from string
		want       string
		wantErr    error
	}{
		{"plain", "alice@customer.example", "alice@customer.example", nil},
		{"display name and case", `"Alice" <ALICE@Customer.Example>`, "alice@customer.example", nil},
		{"display name pretending to be an address", `"bob@example.com" <mallory@evil.example>`, "mallory@evil.example", nil},
		{"encoded word in local part", "=?utf-8?q?alice=40customer.example?=@evil.example", "", ErrNoFrom},
		{"encoded word in angle addr", "Alice <=?utf-8?q?alice=40customer.example?=@evil.example>", "", ErrNoFrom},
		{"missing", "", "", ErrNoFrom},
		{"garbage", "not an address", "", ErrNoFrom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := "To: support@example.com\r\nSubject: x\r\n"
			if tc.from != "" {
				raw = "From: " + tc.from + "\r\n" + raw
			}
			m, err := p.Parse([]byte(raw + "\r\nhello\r\n"))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && m.From != tc.want {
				t.Fatalf("From = %q, want %q", m.From, tc.want)
			}
		})
	}
}

func TestParseAutoSignals(t *testing.T) {
	p := NewParser(testPolicy)
	for _, h := range []string{"Auto-Submitted: auto-replied", "Precedence: bulk", "Precedence: list", "Precedence: junk",
		"List-Id: <news.example.com>", "X-Autoreply: yes", "X-Auto-Response-Suppress: All"} {
		m, err := p.Parse([]byte("From: a@b.example\r\nTo: support@example.com\r\n" + h + "\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if !m.Auto {
			t.Errorf("%s: not seen as automatic", h)
		}
	}
	m, _ := p.Parse([]byte("From: a@b.example\r\nTo: s@x.example\r\nAuto-Submitted: no\r\n\r\nbody\r\n"))
	if m.Auto {
		t.Error("Auto-Submitted: no is a person's mail")
	}
}

func TestParseDedupeKey(t *testing.T) {
	p := NewParser(testPolicy)
	base := "From: a@b.example\r\nTo: support@example.com\r\nMessage-ID: <1@b.example>\r\n\r\nbody\r\n"
	m1, _ := p.Parse([]byte(base))
	m2, _ := p.Parse([]byte("Received: from relay by mx; Sun, 22 Nov 2026 10:00:00 +0000\r\n" + base))
	if m1.Dedupe != m2.Dedupe {
		t.Error("a re-delivery with one more Received: header must be the same message")
	}
	m3, _ := p.Parse([]byte(strings.Replace(base, "body", "other body", 1)))
	m4, _ := p.Parse([]byte(strings.Replace(base, "a@b.example", "c@d.example", 1)))
	if m3.Dedupe == m1.Dedupe || m4.Dedupe == m1.Dedupe {
		t.Error("another body or sender reusing a Message-ID is not a duplicate")
	}
}

func TestParseLimits(t *testing.T) {
	p := NewParser(testPolicy)
	big := "From: a@b.example\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\nbody"
	if _, err := p.Parse([]byte(big)); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("huge header: err = %v", err)
	}
	var b strings.Builder
	b.WriteString("From: a@b.example\r\nTo: support@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 0; i < MaxDepth+5; i++ {
		b.WriteString("--b" + strconv.Itoa(i) + "\r\nContent-Type: multipart/mixed; boundary=b" + strconv.Itoa(i+1) + "\r\n\r\n")
	}
	if _, err := p.Parse([]byte(b.String())); !errors.Is(err, ErrUnparseable) {
		t.Errorf("deep multipart: err = %v, want ErrUnparseable", err)
	}
	for _, n := range []int{MaxParts, MaxParts + 1} {
		var w strings.Builder
		w.WriteString("From: a@b.example\r\nTo: support@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=W\r\n\r\n")
		for i := range n {
			fmt.Fprintf(&w, "--W\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
		}
		w.WriteString("--W--\r\n")
		_, err := p.Parse([]byte(w.String()))
		if got := errors.Is(err, ErrUnparseable); got != (n > MaxParts) {
			t.Errorf("%d parts: err = %v", n, err)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := OneLine("a\r\nBcc: x@y\x00\tz"); got != "a Bcc: x@y z" {
		t.Errorf("OneLine = %q", got)
	}
}

func TestUndeclaredUTF8(t *testing.T) {
	m, err := NewParser(testPolicy).Parse([]byte("From: a@b.example\r\nTo: s@x\r\nSubject: 質問\r\n\r\nお世話になっております。\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "お世話になっております。" || DetectLanguage(m) != "ja" {
		t.Fatalf("text %q language %q", m.Text, DetectLanguage(m))
	}
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct {
		lang, text, want string
	}{
		{"fr-FR", "Hello", "fr"},
		{"ko, ja", "Hello", "ja"},
		{"pt-BR", "Hello", "pt"},
		{"zh-Hans-CN", "Hello", "zh"},
		{"", "Bonjour, merci pour votre réponse.", "fr"},
		{"", "お問い合わせ", "ja"},
		{"", "Hello, is this the right place?", "en"},
		{"", "你好，我的打印机坏了。", "zh"},
		{"", "Guten Tag, der Drucker druckt nicht mehr. Mit freundlichen Grüßen", "de"},
		{"", "Hola, la impresora no funciona. Gracias y saludos", "es"},
		{"", "Buongiorno, la stampante non funziona più. Grazie, cordiali saluti", "it"},
		{"", "Olá, a impressora não funciona. Obrigado, cumprimentos", "pt"},
		{"", "Goedemorgen, de printer werkt niet meer. Met vriendelijke groet", "nl"},
		{"", "Здравствуйте, принтер не печатает.", "ru"},
		{"", "Добрий день, принтер не друкує, дякую ї", "en"},
		{"", "Hello, I have a question about the invoice and my account, thank you.", "en"},
		{"", "Hello, the printer says 'bitte warten' and I have no idea what it means.", "en"},
	}
	for _, tc := range tests {
		if got := DetectLanguage(&Message{Language: tc.lang, Text: tc.text}); got != tc.want {
			t.Errorf("DetectLanguage(%q, %q) = %q, want %q", tc.lang, tc.text, got, tc.want)
		}
	}
}

func TestAttachmentContentMustMatch(t *testing.T) {
	att := func(name, ctype string, content []byte) string {
		return "--X\r\nContent-Type: " + ctype + "\r\nContent-Disposition: attachment; filename=" + name +
			"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(content) + "\r\n"
	}
	raw := "From: a@b.example\r\nTo: s@x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n" +
		"--X\r\nContent-Type: text/plain\r\n\r\nsee files\r\n" +
		att("invoice.pdf", "application/pdf", []byte("MZ\x90\x00 windows program")) +
		att("photo.jpg", "image/jpeg", []byte("%PDF-1.4 not a photo")) +
		att("notes.txt", "text/plain", []byte("a\x00b")) +
		att("real.pdf", "application/pdf", []byte("%PDF-1.7 real")) +
		att("run.txt", "text/plain", []byte("#!/bin/sh\nrm -rf /\n")) +
		"--X\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: fwd\r\n\r\nforwarded text\r\n" +
		"--X--\r\n"
	m, err := NewParser(testPolicy).Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, a := range m.Attachments {
		kept = append(kept, a.Filename)
	}
	if strings.Join(kept, ",") != "real.pdf,forwarded-message.eml" {
		t.Fatalf("kept %v, refused %+v", kept, m.Refused)
	}
	reasons := map[string]string{}
	for _, r := range m.Refused {
		reasons[r.Filename] = r.Reason
	}
	if !strings.Contains(reasons["invoice.pdf"], "program") || !strings.Contains(reasons["run.txt"], "program") ||
		!strings.Contains(reasons["photo.jpg"], "does not match") || !strings.Contains(reasons["notes.txt"], "not text") {
		t.Fatalf("reasons = %v", reasons)
	}
	total, err := NewParser(Policy{MaxFileBytes: 1 << 20, MaxTotalBytes: 20, AllowedExtensions: []string{".pdf"}}).Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(total.Attachments) != 1 {
		t.Fatalf("per-message cap: kept %+v", total.Attachments)
	}
}

func TestHeaderEnd(t *testing.T) {
	for in, want := range map[string]int{
		"A: b\r\n\r\nbody":      8,
		"A: b\n\nbody":          6,
		"A: b\n\r\n00\n\n0":     7,
		"A: b\r\nC: d\n\nbody":  12,
		"\r\nbody":              2,
		"A: b\r\nno blank line": -1,
	} {
		if got := HeaderEnd([]byte(in)); got != want {
			t.Errorf("HeaderEnd(%q) = %d, want %d", in, got, want)
		}
	}
}
