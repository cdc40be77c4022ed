package outbound

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
	"testing"
)

// viaTextproto is what net/textproto's DotWriter makes of data, which dotStuffer replaces.
func viaTextproto(tb testing.TB, chunks [][]byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	dw := textproto.NewWriter(bufio.NewWriter(&out)).DotWriter()
	for _, c := range chunks {
		if _, err := dw.Write(c); err != nil {
			tb.Fatal(err)
		}
	}
	if err := dw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func viaDotStuffer(tb testing.TB, chunks [][]byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	dw := newDotStuffer(&out)
	for _, c := range chunks {
		if n, err := dw.Write(c); n != len(c) || err != nil {
			tb.Fatalf("Write wrote %d of %d: %v", n, len(c), err)
		}
	}
	if err := dw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// split cuts data into chunks of the sizes in cuts (0 makes an empty write), in turn; the rest
// is the last chunk.
func split(data, cuts []byte) [][]byte {
	var chunks [][]byte
	for _, c := range cuts {
		n := min(int(c), len(data))
		chunks = append(chunks, data[:n])
		data = data[n:]
	}
	return append(chunks, data)
}

func TestDotStuffer(t *testing.T) {
	for _, in := range []string{
		"",
		".",
		"..",
		".\r\n",
		"a",
		"a\r\n",
		"Subject: x\r\n\r\nbody\r\n.\r\n..two\r\n.three",
		"bare\nLF\n.dot after bare LF\n",
		"\n\n.\n",
		"bare\rCR\r.no dot stuffing after a CR alone\r",
		"\r",
		"\r\r",
		"\r\r\r",
		"\r\r\n",
		"\r\r\r\n.x",
		"a\r\r\nb\r\r\r\n.c\r\n\r",
		"\n\r\n\r\r\n\r\n.",
		"no final line end.",
		"ends with a CR\r",
		"\r\n.\r\n\r\n..\r\n",
	} {
		want := viaTextproto(t, [][]byte{[]byte(in)})
		for _, cuts := range [][]byte{nil, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {0, 2, 0, 3}, {5, 1, 7}} {
			if got := viaDotStuffer(t, split([]byte(in), cuts)); !bytes.Equal(got, want) {
				t.Errorf("%q in writes of %v:\n got %q\nwant %q", in, cuts, got, want)
			}
		}
	}
}

// A mail in CRLF goes out in few writes: one, and two more for each line that starts with a
// dot.
func TestDotStufferWrites(t *testing.T) {
	mail := []byte("Subject: x\r\n\r\nfirst\r\n.dot\r\nlast\r\n")
	var w countingWriter
	d := newDotStuffer(&w)
	if _, err := d.Write(mail); err != nil {
		t.Fatal(err)
	}
	if w.writes != 3 {
		t.Errorf("%d writes, want 3", w.writes)
	}
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(b)
}

func (w *countingWriter) WriteString(s string) (int, error) {
	w.writes++
	return w.Buffer.WriteString(s)
}

// FuzzDotStuff holds dotStuffer to textproto's DotWriter, byte for byte, for any data in any
// writes.
func FuzzDotStuff(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\n\r\n.\r\n..\r\nend"), []byte{3, 0, 17})
	f.Add([]byte("\r\r\n.\n\r.\r"), []byte{1, 1, 1, 1})
	f.Add([]byte(strings.Repeat("line\r\n.", 40)), []byte{200})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		chunks := split(data, cuts)
		want := viaTextproto(t, chunks)
		if got := viaDotStuffer(t, chunks); !bytes.Equal(got, want) {
			t.Fatalf("%q in writes of %v:\n got %q\nwant %q", data, cuts, got, want)
		}
	})
}

// FuzzChunkIsWhatDataGives holds crlfOnly to what a relay reads: a body sent as a BDAT chunk
// (crlfOnly) must be, byte for byte, the message the relay gets from the same body sent as DATA
// (dot-stuffed by textproto's DotWriter, and read as a relay reads it).
func FuzzChunkIsWhatDataGives(f *testing.F) {
	f.Add([]byte("Subject: s\r\n\r\n.leading dot\r\n..\r\n.\r\n"))
	f.Add([]byte("a\r\r\nb\r\n"))
	f.Add([]byte("no line end"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !crlfOnly(data) {
			return // DATA's way, normalised
		}
		var wire bytes.Buffer
		dw := textproto.NewWriter(bufio.NewWriter(&wire)).DotWriter()
		if _, err := dw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := dw.Close(); err != nil {
			t.Fatal(err)
		}
		got := relayView(t, wire.Bytes())
		if !bytes.Equal(got, data) {
			t.Fatalf("%q as DATA reaches the relay as %q", data, got)
		}
	})
}

// relayView is the message a relay stores from DATA on the wire: the lines up to the lone dot,
// each with its CRLF, a leading dot removed (RFC 5321 §4.5.2).
func relayView(tb testing.TB, wire []byte) []byte {
	body, ok := bytes.CutSuffix(wire, []byte(".\r\n"))
	if !ok || !(len(body) == 0 || bytes.HasSuffix(body, []byte("\r\n"))) {
		tb.Fatalf("DATA does not end with CRLF.CRLF: %q", wire)
	}
	var out []byte
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\r\n")) + 2
		line := body[:i]
		if line[0] == '.' {
			line = line[1:]
		}
		out = append(out, line...)
		body = body[i:]
	}
	return out
}

func TestCRLFOnly(t *testing.T) {
	for in, want := range map[string]bool{
		"":                 false,
		"\r\n":             true,
		"a\r\nb\r\n":       true,
		"a\r\nb":           false, // no final line end
		"a\nb\r\n":         false, // a bare LF
		"\na\r\n":          false,
		"a\rb\r\n":         false, // a bare CR
		"a\r\r\n":          false,
		"a\r\n\r\n.\r\n":   true,
		"a\r\n\n":          false,
		"\r\n\r\n\r\n\r\n": true,
	} {
		if got := crlfOnly([]byte(in)); got != want {
			t.Errorf("crlfOnly(%q) = %v, want %v", in, got, want)
		}
	}
}
