package mail

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replyCase is one reply of the corpus in testdata/replies: the body a client produced
// (plain text or HTML-only), the text of our own mail it answers when there is one, and the
// text an agent should read.
type replyCase struct {
	file, name string
	subject    string
	text, html string
	sent       []string
	want       string
}

// loadReplyCorpus reads every case of testdata/replies/*.txt. A case starts with a line
// "@@@ name"; its parts with "@@ text", "@@ html", "@@ sent", "@@ subject" or "@@ want".
func loadReplyCorpus(t testing.TB) []replyCase {
	t.Helper()
	files, err := filepath.Glob("testdata/replies/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no reply corpus: %v", err)
	}
	var out []replyCase
	for _, fn := range files {
		f, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		var cur *replyCase
		part := ""
		var buf []string
		flush := func() {
			if cur == nil || part == "" {
				return
			}
			s := strings.TrimRight(strings.Join(buf, "\n"), "\n")
			switch part {
			case "text":
				cur.text = s
			case "html":
				cur.html = s
			case "sent":
				cur.sent = append(cur.sent, s)
			case "subject":
				cur.subject = s
			case "want":
				cur.want = s
			default:
				t.Fatalf("%s: case %q: unknown part %q", fn, cur.name, part)
			}
			buf = nil
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "@@@ "):
				flush()
				if cur != nil {
					out = append(out, *cur)
				}
				cur = &replyCase{file: filepath.Base(fn), name: strings.TrimPrefix(l, "@@@ ")}
				part = ""
			case strings.HasPrefix(l, "@@ "):
				flush()
				part = strings.TrimPrefix(l, "@@ ")
			default:
				buf = append(buf, l)
			}
		}
		flush()
		if cur != nil {
			out = append(out, *cur)
		}
		f.Close()
	}
	return out
}

// raw builds the message a client would send for c: UTF-8, 8bit, CRLF lines.
func (c replyCase) raw() []byte {
	subject := c.subject
	if subject == "" {
		subject = "Re: [#TID30001] Printer on fire"
	}
	ct, body := "text/plain", c.text
	if c.html != "" {
		ct, body = "text/html", c.html
	}
	h := fmt.Sprintf("From: Customer <customer@customer.example>\r\nTo: support@example.com\r\n"+
		"Subject: %s\r\nMessage-ID: <%s@customer.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
		subject, strings.NewReplacer(" ", "-", ",", "").Replace(c.name), ct)
	return []byte(h + strings.ReplaceAll(body, "\n", "\r\n") + "\r\n")
}

// TestReplyCorpus measures reply extraction on the corpus: every case must come out exactly
// as written. Run with -v to see the "N/M exact" figure.
func TestReplyCorpus(t *testing.T) {
	cases := loadReplyCorpus(t)
	if len(cases) < 100 {
		t.Errorf("the corpus has %d cases; it should keep at least 100", len(cases))
	}
	p := NewParser(testPolicy)
	exact := 0
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".txt")+"/"+c.name, func(t *testing.T) {
			m, err := p.Parse(c.raw())
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := ReplyText(m, c.sent)
			if got != c.want {
				t.Errorf("reply text:\n%s\n--- want:\n%s", got, c.want)
				return
			}
			exact++
		})
	}
	t.Logf("reply corpus: %d/%d exact", exact, len(cases))
}

// BenchmarkReplyText runs the extraction over the whole corpus once per iteration.
func BenchmarkReplyText(b *testing.B) {
	cases := loadReplyCorpus(b)
	p := NewParser(testPolicy)
	msgs := make([]*Message, len(cases))
	for i, c := range cases {
		m, err := p.Parse(c.raw())
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	b.ResetTimer()
	for range b.N {
		for i, m := range msgs {
			_ = ReplyText(m, cases[i].sent)
		}
	}
}
