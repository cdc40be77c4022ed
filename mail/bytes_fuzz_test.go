package mail

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeBytes: whatever the declared charset and bytes, the result is valid UTF-8, and
// valid UTF-8 declared as UTF-8 comes back unchanged.
func FuzzDecodeBytes(f *testing.F) {
	f.Add("gb2312", []byte("你好"))
	f.Add("us-ascii", []byte("∮ E⋅da"))
	f.Add("iso-2022-jp", []byte("\x1b$B$3$s$K$A$O\x1b(B"))
	f.Add("", []byte("\xcf\xf0\xe8\xe2\xe5\xf2"))
	f.Add("x-unknown", []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, cs string, b []byte) {
		out := decodeBytes(cs, b)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q %q", cs, b)
		}
		if isUTF8Name(cs) && utf8.Valid(b) && out != string(b) {
			t.Fatalf("valid UTF-8 changed: %q -> %q", b, out)
		}
		_ = decodeHeader(newWordDecoder(), string(b), cs)
	})
}

// FuzzRFC2231: extended parameters never panic and decoded names are valid UTF-8.
func FuzzRFC2231(f *testing.F) {
	f.Add(`attachment; filename*=iso-8859-1''r%E9sum%E9.pdf`)
	f.Add(`application/pdf; name*=iso-2022-jp'ja'%1B%24BJs9p%3Dq%1B%28B.pdf`)
	f.Add("attachment;\r\n filename*0*=windows-1252''Caf%E9;\r\n filename*1*=%20vue.jpg")
	f.Add(`attachment; filename*0="a;b"; filename*1="c.pdf"; filename*=x''%FF`)
	h := NewParser(testPolicy)
	f.Fuzz(func(t *testing.T, v string) {
		for k, p := range rfc2231Params(v) {
			if !utf8.ValidString(p.value) || !utf8.ValidString(k) && p.ok {
				t.Fatalf("invalid UTF-8 in %q=%q", k, p.value)
			}
		}
		_, params, _, _ := h.mediaTypeHook(v)
		for _, k := range []string{"filename", "name"} {
			if name := cleanName(params[k]); strings.ContainsAny(name, "/\\\x00\r\n") || len(name) > 200 {
				t.Fatalf("unsafe name %q", name)
			}
		}
	})
}

// FuzzUudecode: extraction never panics, never grows the text, and a file it finds is gone
// from the text.
func FuzzUudecode(f *testing.F) {
	f.Add("Hello\nbegin 644 a.txt\n#86)C\n`\nend\nBye")
	f.Add("begin 644 \nend")
	f.Add("begin 0755 x\nM" + strings.Repeat("!", 60) + "\nend\n")
	f.Add("begin 644 a\n\xff\nend")
	f.Fuzz(func(t *testing.T, s string) {
		out, files := extractUU(s)
		if len(files) > 0 && strings.Count(out, "\n") > strings.Count(s, "\n") {
			t.Fatalf("text grew: %q -> %q", s, out)
		}
		for _, fl := range files {
			if len(fl.data) > len(s) {
				t.Fatalf("decoded more than the input")
			}
		}
	})
}

// FuzzLenientHeader: the repair never panics, and leaves a header that needs nothing alone.
func FuzzLenientHeader(f *testing.F) {
	f.Add([]byte("\r\nFrom: a@b\r\n\r\nbody"))
	f.Add([]byte(" From: a@b\r\nTo: c@d\r\n\r\n"))
	f.Add([]byte("From  : a@b\r\n\r\n"))
	f.Add([]byte("From: a@b\r\nSubject: x\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := lenientHeader(raw)
		if len(out) > len(raw) {
			t.Fatalf("repair grew the message")
		}
	})
}
