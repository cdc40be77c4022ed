package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var corpusPolicy = Policy{MaxFileBytes: 1 << 20, AllowedExtensions: []string{".pdf", ".txt", ".jpg", ".jpeg", ".png", ".zip"}}

func parseCorpus(t *testing.T, name string) *Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "mime", name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewParser(corpusPolicy).Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return m
}

func keptNames(m *Message) []string {
	var out []string
	for _, a := range m.Attachments {
		n := a.Filename
		if a.Generated {
			n += " (generated)"
		}
		out = append(out, n)
	}
	return out
}

func refusedNames(m *Message) []string {
	var out []string
	for _, r := range m.Refused {
		out = append(out, r.Filename)
	}
	return out
}

// TestMIMEFiles: every class of file of issue 12, each fixture modelled on a real client.
func TestMIMEFiles(t *testing.T) {
	tests := []struct {
		rule, fixture string
		kept, refused []string
		textHas       string
	}{
		{"RFC 2231 name in ISO-8859-1 is decoded", "rfc2231-latin1", []string{"résumé été.pdf"}, nil, ""},
		{"RFC 2231 name in ISO-2022-JP is decoded", "rfc2231-iso2022jp", []string{"報告書.pdf"}, nil, ""},
		{"RFC 2231 continuations in Windows-1252 are joined and decoded", "rfc2231-continuation", []string{"Café “Zürich” – vue.jpg", "screenshot.png"}, nil, ""},
		{"an undecodable name keeps the file under a generated name", "rfc2231-undecodable", []string{"attachment-1.pdf (generated)"}, nil, ""},
		{"encoded-word file names are decoded", "encoded-word-filename", []string{"Rechnung März.pdf"}, nil, ""},
		{"an Outlook pasted image is kept", "outlook-pasted-image", []string{"image-1.png (generated)"}, nil, "The error:"},
		{"Gmail inline images are kept", "gmail-pasted-image", []string{"image-1.jpg (generated)", "image-2.png (generated)"}, nil, "See [image: image.png]"},
		{"an inline image of a refused type is named to the sender", "lotus-inline-gif", nil, []string{"image-1.gif"}, "Logo below."},
		{"an x-uuencode part is decoded", "uuencode-part", []string{"server.txt"}, nil, "Log attached."},
		{"a uuencoded block in the text becomes a file", "uuencode-in-text", []string{"report.pdf"}, nil, "[attachment: report.pdf]"},
		{"an S/MIME signature is not a file", "smime-signed", nil, nil, "This message is signed."},
		{"a PGP signature is not a file", "pgp-signed", nil, nil, "Signed with PGP."},
		{"PNG bytes in a .jpg are kept, a zip named .pdf is refused", "magic-family", []string{"photo.jpg"}, []string{"contract.pdf"}, ""},
		{"a forwarded message is kept", "forwarded-message", []string{"forwarded-message.eml"}, nil, "Forwarding"},
		{"an unnamed file gets a generated name", "unnamed-octet", nil, []string{"attachment-1.bin"}, ""},
		{"unsafe names are made safe", "unsafe-names", []string{"passwd.txt", "evil .pdf", "attachment-1.pdf (generated)"}, nil, ""},
		{"a header-less first part is text/plain", "first-part-headerless", []string{"a.pdf"}, nil, "The first part has no header at all."},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			m := parseCorpus(t, tc.fixture)
			if got := keptNames(m); strings.Join(got, "|") != strings.Join(tc.kept, "|") {
				t.Errorf("kept %q, want %q (refused %v)", got, tc.kept, m.Refused)
			}
			if got := refusedNames(m); strings.Join(got, "|") != strings.Join(tc.refused, "|") {
				t.Errorf("refused %q, want %q", got, tc.refused)
			}
			if !strings.Contains(m.Text, tc.textHas) {
				t.Errorf("text %q lacks %q", m.Text, tc.textHas)
			}
			if strings.Contains(m.Text, "begin 644") {
				t.Errorf("uuencode left in the text: %q", m.Text)
			}
		})
	}
}

// TestCharsets: the declared charset when the bytes fit it, else UTF-8, else detection, for
// bodies and headers alike.
func TestCharsets(t *testing.T) {
	tests := []struct {
		rule, fixture, subject, text string
	}{
		{"UTF-8 declared us-ascii is UTF-8", "ascii-lies-utf8", "Math", "∮ E⋅da = Q, n → ∞, ∑ f(i) = ∏ g(i)"},
		{"UTF-8 declared gb2312 is UTF-8", "gb2312-lies-utf8", "Chinese", "你好，我的打印机坏了。"},
		{"a raw UTF-8 subject is UTF-8", "raw-utf8-subject", "Größe der Datei – Überprüfung", "Body."},
		{"a raw Latin-1 subject follows the body's charset", "raw-latin1-subject", "Réponse à votre question, merci beaucoup", "Voilà ma réponse détaillée."},
		{"undeclared Windows-1251 is detected", "cp1251-undeclared", "Printer", "Здравствуйте! Принтер не печатает документы, пожалуйста помогите с настройкой драйвера."},
		{"declared KOI8-R that fits is KOI8-R", "koi8r-declared", "Printer", "Добрый день, у нас сломался принтер."},
		{"undeclared Shift_JIS is detected", "shiftjis-undeclared", "Printer", "お世話になっております。プリンターが動きません。至急対応をお願いします。"},
		{"over-padded base64 words decode", "overpadded-word", "测试你好", "Body."},
		{"honest Latin-1 stays Latin-1", "latin1-honest", "Facture", "Bonjour, la facture de décembre est arrivée. Merci."},
		{"Windows-1252 HTML is converted", "html-cp1252", "HTML", "Prix : 20 € — merci"},
		{"ISO-2022-JP subject and body", "iso2022jp-subject-body", "見積もり", "見積もりをお願いします。"},
		{"Latin-1 declared UTF-8 is detected", "utf8-declared-latin1", "Mislabelled", "Très bien, merci pour la réponse rapide."},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			m := parseCorpus(t, tc.fixture)
			if m.Subject != tc.subject {
				t.Errorf("subject %q, want %q", m.Subject, tc.subject)
			}
			if m.Text != tc.text {
				t.Errorf("text %q, want %q", m.Text, tc.text)
			}
		})
	}
}

// TestLenient: what MTAs deliver is read, not quarantined.
func TestLenient(t *testing.T) {
	tests := []struct {
		rule, fixture, from, text string
	}{
		{"a blank first line is skipped", "first-line-blank", "customer@client.example", "The MTA delivered this."},
		{"a first header starting with a space is read", "first-header-space", "customer@client.example", "Also delivered."},
		{"a multipart without boundary is text", "multipart-no-boundary", "customer@client.example", "The script forgot the boundary."},
		{"obsolete white space before the colon", "obsolete-from", "customer@client.example", "Old mailer."},
		{"comments in an address", "address-comments", "pete@silly.test", "RFC 5322 appendix A.5."},
	}
	for _, tc := range tests {
		t.Run(tc.rule, func(t *testing.T) {
			m := parseCorpus(t, tc.fixture)
			if m.From != tc.from || m.Text != tc.text {
				t.Errorf("from %q text %q, want %q %q", m.From, m.Text, tc.from, tc.text)
			}
		})
	}
}

func TestSubjectBounded(t *testing.T) {
	m := parseCorpus(t, "huge-subject")
	if len(m.Subject) > MaxSubjectBytes || !strings.HasSuffix(m.Subject, "…") || !utf8.ValidString(m.Subject) {
		t.Fatalf("subject of %d bytes, suffix %q", len(m.Subject), m.Subject[len(m.Subject)-8:])
	}
	if got := Bound(strings.Repeat("é", 600), 998); len(got) > 998 || !utf8.ValidString(got) {
		t.Fatalf("Bound cut a character: %d bytes", len(got))
	}
}

func TestUnparseableReasonIsPrintable(t *testing.T) {
	raw := []byte("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\x00\xff\xfe: bad\r\n\r\nhi\r\n--x--\r\n")
	_, err := NewParser(corpusPolicy).Parse(raw)
	if err == nil {
		return // read leniently: nothing to print
	}
	for _, r := range err.Error() {
		if r < ' ' || r == utf8.RuneError {
			t.Fatalf("reason carries raw bytes: %q", err.Error())
		}
	}
}

func TestPrintable(t *testing.T) {
	got := printable("bad header \x00\xff\x1b[31m line\r\n" + strings.Repeat("x", 400))
	if strings.ContainsFunc(got, func(r rune) bool { return r < ' ' || r == utf8.RuneError }) || len(got) > 320 {
		t.Fatalf("printable(...) = %q", got)
	}
}

func TestCleanName(t *testing.T) {
	long := strings.Repeat("é", 150) + ".pdf"
	tests := []struct{ in, want string }{
		{"../../etc/passwd.txt", "passwd.txt"},
		{`C:\Users\me\report.pdf`, "report.pdf"},
		{"con.txt", "_con.txt"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"...", ""},
		{"a\x00b.pdf", "a b.pdf"},
		{"what?.pdf", "what_.pdf"},
	}
	for _, tc := range tests {
		if got := cleanName(tc.in); got != tc.want {
			t.Errorf("cleanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := cleanName(long); len(got) > 200 || !strings.HasSuffix(got, ".pdf") || !utf8.ValidString(got) {
		t.Errorf("long name: %d bytes %q", len(got), got[len(got)-10:])
	}
	if got := generatedName("image/png; name=x", "", 2); got != "image-2.png" {
		t.Errorf("generatedName = %q", got)
	}
	if got := generatedName("application/x-unknown", ".pdf", 1); got != "attachment-1.pdf" {
		t.Errorf("generatedName with salvaged extension = %q", got)
	}
}

func TestBodySelection(t *testing.T) {
	tests := []struct{ rule, raw, text string }{
		{"an HTML copy next to the plain text is not repeated",
			"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nHello there.\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>Hello there.</p>\r\n--x--\r\n",
			"Hello there."},
		{"Apple Mail splits the text around a file",
			"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nBefore.\r\n--x\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: inline; filename=a.pdf\r\n\r\n%PDF-1.4\r\n--x\r\nContent-Type: text/plain\r\n\r\nAfter.\r\n--x--\r\n",
			"Before.\n\nAfter."},
		{"HTML only",
			"From: a@b.example\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Only <b>HTML</b></p>\r\n--x--\r\n",
			"Only *HTML*"},
	}
	for _, tc := range tests {
		m, err := NewParser(corpusPolicy).Parse([]byte(tc.raw))
		if err != nil || m.Text != tc.text {
			t.Errorf("%s: text %q (err %v), want %q", tc.rule, m.Text, err, tc.text)
		}
	}
}

// TestRawDisplayName: a raw 8-bit display name is decoded by the body's charset, and the
// addr-spec stays as it came.
func TestRawDisplayName(t *testing.T) {
	raw := "From: Ren\xe9e Lef\xe8vre <renee@exemple.fr>\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nBonjour\r\n"
	m, err := NewParser(corpusPolicy).Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "renee@exemple.fr" || m.FromName != "Renée Lefèvre" {
		t.Fatalf("from %q name %q", m.From, m.FromName)
	}
}
