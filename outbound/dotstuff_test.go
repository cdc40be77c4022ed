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
