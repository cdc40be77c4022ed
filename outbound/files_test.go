package outbound

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/jhillyerd/enmime/v2"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
)

// The body put back at send time is the one go-message writes for an attachment, for every
// length around the line and the 3-byte group boundaries.
func TestBase64LinesMatchGoMessage(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 56, 57, 58, 113, 114, 115, 1000, 57 * 40, 57*40 + 1, 100_000} {
		data := make([]byte, n)
		_, _ = rand.Read(data)
		var h message.Header
		h.Set("Content-Transfer-Encoding", "base64")
		var buf bytes.Buffer
		w, err := message.CreateWriter(&buf, h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
		_ = w.Close()
		_, want, _ := bytes.Cut(buf.Bytes(), []byte("\r\n\r\n"))
		got := appendBase64Lines(nil, data)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: got %q\nwant %q", n, got, want)
		}
		if len(got) != encodedLen(n) {
			t.Fatalf("%d bytes: encodedLen %d, encoded %d", n, encodedLen(n), len(got))
		}
	}
}

func TestRenderFileRefsLeavesLargeFilesOut(t *testing.T) {
	r := MustRenderer("mx.support.example", "Example Support")
	big, big2, small := make([]byte, FileRefMin), make([]byte, 3*FileRefMin+7), []byte("%PDF-small")
	_, _ = rand.Read(big)
	_, _ = rand.Read(big2)
	files := []mail.Attachment{
		{Filename: "a.pdf", ContentType: "application/pdf", Data: big, SHA256: "sha-a"},
		{Filename: "s.pdf", ContentType: "application/pdf", Data: small, SHA256: "sha-s"},
		{Filename: "b.pdf", ContentType: "application/pdf", Data: big2}, // no hash yet: computed
	}
	in := sample()
	in.Kind, in.Files, in.FileRefs = "notice", files, true
	m, err := r.RenderMail(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 2 || m.Files[0].SHA256 != "sha-a" || m.Files[1].SHA256 != fileSHA(files[2]) {
		t.Fatalf("refs = %+v", m.Files)
	}
	if len(m.Raw) > 10_000 {
		t.Fatalf("rendered %d bytes: the large files are in it", len(m.Raw))
	}
	stored := map[string][]byte{"sha-a": big, m.Files[1].SHA256: big2}
	full, err := expandFiles(m.Raw, m.Files, stored)
	if err != nil {
		t.Fatal(err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Attachments) != 3 {
		t.Fatalf("%d attachments", len(env.Attachments))
	}
	for i, want := range [][]byte{big, small, big2} {
		if !bytes.Equal(env.Attachments[i].Content, want) {
			t.Fatalf("attachment %d (%s) differs", i, env.Attachments[i].FileName)
		}
	}
	// Without FileRefs (every other caller) the files are in the mail, as before.
	in.FileRefs = false
	inline, err := r.RenderMail(in)
	if err != nil || len(inline.Files) != 0 || len(inline.Raw) < len(big)+len(big2) {
		t.Fatalf("inline render: %d bytes, refs %+v, %v", len(inline.Raw), inline.Files, err)
	}
	// The same mail either way, but for the random Message-ID and MIME boundaries.
	if len(inline.Raw) != len(full) {
		t.Fatalf("inline %d bytes, put back %d", len(inline.Raw), len(full))
	}

	if _, err := expandFiles(m.Raw, m.Files, map[string][]byte{"sha-a": big}); !errors.Is(err, store.ErrFileGone) {
		t.Fatalf("missing file: %v", err)
	}
	bad := []store.FileRef{{At: len(m.Raw) + 1, SHA256: "sha-a"}}
	if _, err := expandFiles(m.Raw, bad, stored); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("reference past the end: %v", err)
	}
}

func TestStoredFilesOncePerFile(t *testing.T) {
	files := []mail.Attachment{{Data: []byte("a"), SHA256: "a"}, {Data: []byte("b"), SHA256: "b"}}
	mails := []store.Outgoing{
		{ID: "1", Files: []store.FileRef{{SHA256: "a"}, {SHA256: "b"}}},
		{ID: "2", Files: []store.FileRef{{SHA256: "a"}}},
		{ID: "3"},
	}
	got, err := StoredFiles(mails, files)
	if err != nil || len(got) != 2 || got[0].SHA256 != "a" || string(got[1].Data) != "b" {
		t.Fatalf("stored %+v, %v", got, err)
	}
	if _, err := StoredFiles([]store.Outgoing{{ID: "x", Files: []store.FileRef{{SHA256: "z"}}}}, files); err == nil {
		t.Fatal("a reference to a file the message lacks must fail the render")
	}
}
