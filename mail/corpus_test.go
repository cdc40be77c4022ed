package mail

import (
	"bytes"
	"io"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-message"
)

// corpusFiles walks a fixture's MIME tree with go-message, independently of the parser, and
// counts the files a sender would say they sent: every leaf that is not body text, not a
// signature and not a container, plus each uuencoded block inside body text.
func corpusFiles(t *testing.T, raw []byte) int {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil {
		return 0 // not MIME at all: no files
	}
	_ = err
	n := 0
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if p == nil || err != nil && !message.IsUnknownEncoding(err) {
					return
				}
				walk(p)
			}
		}
		ct, params, _ := mime.ParseMediaType(e.Header.Get("Content-Type"))
		disp, dparams, _ := mime.ParseMediaType(e.Header.Get("Content-Disposition"))
		named := params["name"] != "" || dparams["filename"] != "" ||
			strings.Contains(e.Header.Get("Content-Type"), "name*") || strings.Contains(e.Header.Get("Content-Disposition"), "filename*")
		switch {
		case ct == "application/pkcs7-signature" || ct == "application/x-pkcs7-signature" || ct == "application/pgp-signature":
		case strings.HasPrefix(ct, "multipart/"):
			// a multipart without a usable boundary is read as text
		case (ct == "" || ct == "text/plain" || ct == "text/html") && disp != "attachment" && !named:
			body, _ := io.ReadAll(e.Body)
			n += len(uuBegin.FindAll(body, -1))
		default:
			n++
		}
	}
	walk(e)
	return n
}

var uuBegin = regexp.MustCompile(`(?m)^begin [0-7]{3,4} \S`)

// mojibakeMarks are what wrongly decoded text looks like: replacement characters, UTF-8 read as
// Latin-1 or GBK, undecoded encoded words and ISO-2022 escapes.
var mojibakeMarks = []string{"\uFFFD", "Ã", "Â", "â€", "âˆ", "â‹", "Ð", "Ñ", "浣", "犲", "锟", "ï»¿", "ãƒ", "ã‚", "=?", "\x1b$B", "\x1b(B"}

// mojibake reports whether s shows a mark of wrong decoding, or a run of three Latin-1
// letters (Cyrillic or Japanese bytes read as Latin-1: "Çäðàâñòâóéòå").
func mojibake(s string) bool {
	for _, m := range mojibakeMarks {
		if strings.Contains(s, m) {
			return true
		}
	}
	run := 0
	for _, r := range s {
		if r >= 0xC0 && r <= 0xFF || r >= 0x80 && r <= 0xBF {
			if run++; run >= 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

type corpusFigures struct {
	messages, parsed, files, accounted, extra, mojibake int
	lost, garbled                                       []string
}

func measureCorpus(t *testing.T) corpusFigures {
	t.Helper()
	fns, _ := filepath.Glob("testdata/mime/*.eml")
	if len(fns) == 0 {
		t.Fatal("no corpus")
	}
	p := NewParser(Policy{MaxFileBytes: 1 << 20, AllowedExtensions: []string{".pdf", ".txt", ".jpg", ".jpeg", ".png", ".zip"}})
	var f corpusFigures
	for _, fn := range fns {
		raw, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(fn), ".eml")
		f.messages++
		want := corpusFiles(t, raw)
		f.files += want
		m, err := p.Parse(raw)
		if err != nil {
			f.lost = append(f.lost, name+": "+err.Error())
			continue
		}
		f.parsed++
		got := len(m.Attachments) + len(m.Refused)
		f.accounted += min(got, want)
		if got > want {
			f.extra += got - want
		}
		if got < want {
			f.lost = append(f.lost, name)
		}
		texts := []string{m.Subject, m.Text, m.FromName}
		for _, a := range m.Attachments {
			texts = append(texts, a.Filename)
		}
		for _, r := range m.Refused {
			texts = append(texts, r.Filename)
		}
		if mojibake(strings.Join(texts, "\n")) {
			f.mojibake++
			f.garbled = append(f.garbled, name)
		}
	}
	return f
}

// TestCorpusAccounting is the figure of issue 12: every file of the corpus kept or named to
// the sender, no text garbled.
func TestCorpusAccounting(t *testing.T) {
	f := measureCorpus(t)
	t.Logf("messages %d, parsed %d; files %d, accounted for %d, extra %d; mojibake %d",
		f.messages, f.parsed, f.files, f.accounted, f.extra, f.mojibake)
	if f.parsed != f.messages || f.accounted != f.files || f.extra != 0 || f.mojibake != 0 {
		t.Errorf("lost or unparsed: %v; garbled: %v", f.lost, f.garbled)
	}
}
