package outbound

import (
	"bytes"
	"io"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
)

// qpAlternatives is writeAlternatives as it was before the 7bit parts: both parts
// quoted-printable, whatever they hold.
func qpAlternatives(w *gomail.InlineWriter, text string) error {
	for _, part := range []struct {
		h    gomail.InlineHeader
		body string
	}{{textPart, text}, {htmlPart, textToHTML(text)}} {
		pw, err := w.CreatePart(part.h)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(pw, part.body); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return w.Close()
}

func alternativesMail(tb testing.TB, text string, write func(*gomail.InlineWriter, string) error) []byte {
	tb.Helper()
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Address: "support@example.com"}})
	var buf bytes.Buffer
	buf.Grow(2048 + len(text)*5/2) // as RenderMail does
	w, err := gomail.CreateInlineWriter(&buf, h)
	if err != nil {
		tb.Fatal(err)
	}
	if err := write(w, text); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// alternativeMail is alternativesMail's mail written by writeAlternativeMail.
func alternativeMail(tb testing.TB, text string) []byte {
	tb.Helper()
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Address: "support@example.com"}})
	var buf bytes.Buffer
	if err := writeAlternativeMail(&buf, &h, text); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// sameUpToBoundary holds writeAlternativeMail to go-message's CreateInlineWriter with the same
// parts: the same bytes once each mail's random boundary is replaced by one word.
func sameUpToBoundary(t *testing.T, text string) {
	t.Helper()
	norm := func(raw []byte) string {
		m, err := gomail.CreateReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		_, params, err := m.Header.ContentType()
		if err != nil || params["boundary"] == "" {
			t.Fatalf("no boundary (%v): %q", err, raw)
		}
		return strings.ReplaceAll(string(raw), params["boundary"], "BOUNDARY")
	}
	got, want := norm(alternativeMail(t, text)), norm(alternativesMail(t, text, writeAlternatives))
	if got != want {
		t.Fatalf("writeAlternativeMail wrote\n%q\nCreateInlineWriter with the same parts\n%q", got, want)
	}
}

type decodedPart struct{ contentType, encoding, body string }

// decodeParts reads back the parts of a rendered mail, their bodies decoded.
func decodeParts(tb testing.TB, raw []byte) []decodedPart {
	tb.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	var out []decodedPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		ct, _, _ := p.Header.(*gomail.InlineHeader).ContentType()
		b, err := io.ReadAll(p.Body)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, decodedPart{ct, p.Header.(*gomail.InlineHeader).Get("Content-Transfer-Encoding"), string(b)})
	}
}

// sevenBitRule is sevenBit's rule written plainly, for the fuzz target to hold it to.
func sevenBitRule(s string) (lfs int, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return 0, false
		}
	}
	crlfs := strings.Count(s, "\r\n")
	lfs = strings.Count(s, "\n") - crlfs
	if strings.Count(s, "\r") > crlfs || crlfs > 0 && lfs > 0 {
		return 0, false
	}
	for l := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if len(l) > 998 {
			return 0, false
		}
	}
	return lfs, true
}

// checkAlternatives holds what writeAlternatives wrote for text to what it wrote before the
// 7bit parts, read back: the same types and bodies; and each part is 7bit just when asked.
func checkAlternatives(t *testing.T, raw []byte, text string, want7bit [2]bool) {
	t.Helper()
	got, was := decodeParts(t, raw), decodeParts(t, alternativesMail(t, text, qpAlternatives))
	if len(got) != 2 || len(was) != 2 {
		t.Fatalf("%d parts, and %d before", len(got), len(was))
	}
	for i, p := range got {
		enc := "quoted-printable"
		if want7bit[i] {
			enc = "7bit"
		}
		if p.encoding != enc {
			t.Errorf("%s part is %s, want %s", p.contentType, p.encoding, enc)
		}
		if p.contentType != was[i].contentType || p.body != was[i].body {
			t.Errorf("part %d reads back as %s %q, and before as %s %q", i, p.contentType, p.body, was[i].contentType, was[i].body)
		}
	}
	// What goes out as it is must be in lines that SMTP carries as they are.
	for l := range strings.SplitSeq(string(raw), "\r\n") {
		if strings.ContainsAny(l, "\r\n") || len(l) > 998 {
			t.Fatalf("line of %d octets, or with a bare CR or LF: %.80q", len(l), l)
		}
	}
}

func TestRenderSevenBitParts(t *testing.T) {
	r := MustRenderer("mx.test", "Support")
	ascii := strings.Repeat("The printer on the third floor stopped printing after the update.\n", 30) +
		"-- \nAlice, trailing spaces  \n\n.\n"
	for _, c := range []struct {
		name, lang, text string
		want7bit         [2]bool // text, HTML
	}{
		{"ascii", "en", ascii, [2]bool{true, true}},
		{"french", "fr", "L'imprimante du troisième étage ne marche plus.\nMerci d'avance.", [2]bool{false, false}},
		{"japanese", "ja", "プリンターが動きません。\nよろしくお願いします。", [2]bool{false, false}},
		{"998-octet line", "en", strings.Repeat("x", 998), [2]bool{true, false}}, // <p>…</p> makes the HTML line longer
		{"1,000-octet line", "en", "short\n" + strings.Repeat("y", 1000) + "\nshort", [2]bool{false, false}},
		// The HTML is written with LF line ends whatever the text's.
		{"CRLF among LF", "en", "one\r\ntwo", [2]bool{false, true}},
		{"bare CR", "en", "one\rtwo", [2]bool{false, false}},
		{"NUL", "en", "one\x00two", [2]bool{false, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := sample()
			in.Kind, in.Lang, in.ToAgent = "notice", c.lang, true
			in.Ticket.Subject = "Printer"
			in.Message.Text = c.text
			m, err := r.RenderMail(in)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Text, c.text) {
				t.Fatalf("the notice does not carry the text:\n%s", m.Text)
			}
			checkAlternatives(t, m.Raw, m.Text, c.want7bit)
		})
	}
}

// A text already in CRLF goes 7bit as it is; mixed with a bare LF, quoted-printable.
func TestWriteAlternativesLineEnds(t *testing.T) {
	for _, c := range []struct {
		text     string
		want7bit [2]bool
	}{
		{"Hello,\r\n\r\nthe printer is fixed.\r\n", [2]bool{true, true}},
		{"Hello,\r\n\nthe printer is fixed.", [2]bool{false, true}},
		{"no line end", [2]bool{true, true}},
		{"", [2]bool{true, true}},
	} {
		checkAlternatives(t, alternativesMail(t, c.text, writeAlternatives), c.text, c.want7bit)
		checkAlternatives(t, alternativeMail(t, c.text), c.text, c.want7bit)
		sameUpToBoundary(t, c.text)
	}
}

func TestSevenBit(t *testing.T) {
	for _, c := range []struct {
		s   string
		lfs int
		ok  bool
	}{
		{"", 0, true},
		{"a\nb\n", 2, true},
		{"a\r\nb\r\n", 0, true},
		{"a\r\nb\n", 0, false},
		{"a\rb", 0, false},
		{"ab\r", 0, false},
		{"a\r\r\n", 0, false},
		{strings.Repeat("x", 998) + "\r\n" + strings.Repeat("x", 998), 0, true},
		{strings.Repeat("x", 999) + "\r\n", 0, false},
		{strings.Repeat("x", 998) + "\n" + strings.Repeat("x", 998), 1, true},
		{strings.Repeat("x", 999) + "\n", 0, false},
		{"x\n" + strings.Repeat("x", 999), 0, false},
		{"12345678\x7f", 0, true},
		{"1234567\x80", 0, false},
		{"12345678123456\x00", 0, false},
		{"tab\tand\x0c form feed\n", 1, true},
	} {
		lfs, ok := sevenBit(c.s)
		if lfs != c.lfs || ok != c.ok {
			t.Errorf("sevenBit(%.40q…) = %d, %v; want %d, %v", c.s, lfs, ok, c.lfs, c.ok)
		}
	}
}

// FuzzSevenBit holds sevenBit to its rule, and a mail with its choice of encodings, written
// either way, to what quoted-printable alone gave, read back; and writeAlternativeMail to
// go-message's own writer, byte for byte.
func FuzzSevenBit(f *testing.F) {
	for _, s := range []string{"Hello,\n\nthanks.\n-- \nAlice ", "a\r\nb", "a\rb\n", "é\n", "x\x00y", "12345678\r\n12345678\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lfs, ok := sevenBit(text)
		if wlfs, wok := sevenBitRule(text); lfs != wlfs || ok != wok {
			t.Fatalf("sevenBit = %d, %v; the rule says %d, %v", lfs, ok, wlfs, wok)
		}
		_, htmlOK := sevenBit(textToHTML(text))
		checkAlternatives(t, alternativesMail(t, text, writeAlternatives), text, [2]bool{ok, htmlOK})
		checkAlternatives(t, alternativeMail(t, text), text, [2]bool{ok, htmlOK})
		sameUpToBoundary(t, text)
	})
}
