package outbound

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
)

// FileRefMin is the size from which a file is stored once and referenced by the mails that
// carry it (Input.FileRefs). Smaller files stay in each mail: for them a key of their own and
// a read at send time cost more than the copies.
const FileRefMin = 32 << 10

// FileMargin is how much longer than outbound.max_age a stored file is kept: a mail is
// dead-lettered at its first attempt past max_age, which comes up to a backoff (at most an
// hour, plus jitter) and a lease later.
const FileMargin = 24 * time.Hour

// b64Line is the length of a base64 line, as go-message writes an attachment's body.
const b64Line = 76

// fileSHA is the file's SHA-256 in hex: the parser's, else computed.
func fileSHA(f mail.Attachment) string {
	if f.SHA256 != "" {
		return f.SHA256
	}
	sum := sha256.Sum256(f.Data)
	return hex.EncodeToString(sum[:])
}

// StoredFiles returns, once each, the files that mails reference, taken from files.
func StoredFiles(mails []store.Outgoing, files []mail.Attachment) ([]store.File, error) {
	var out []store.File
	seen := map[string]bool{}
	for _, m := range mails {
		for _, ref := range m.Files {
			if seen[ref.SHA256] {
				continue
			}
			seen[ref.SHA256] = true
			var data []byte
			for _, f := range files {
				if fileSHA(f) == ref.SHA256 {
					data = f.Data
					break
				}
			}
			if data == nil {
				return nil, fmt.Errorf("mail %s references file %s, which the message does not have", m.ID, ref.SHA256)
			}
			out = append(out, store.File{SHA256: ref.SHA256, Data: data})
		}
	}
	return out, nil
}

// expandFiles returns raw with each referenced file's base64 body put in its place, in the
// form the renderer would have written it.
func expandFiles(raw []byte, refs []store.FileRef, files map[string][]byte) ([]byte, error) {
	size := len(raw)
	for _, ref := range refs {
		data, ok := files[ref.SHA256]
		if !ok {
			return nil, fmt.Errorf("file %s: %w", ref.SHA256, store.ErrFileGone)
		}
		size += encodedLen(len(data))
	}
	out := make([]byte, 0, size)
	last := 0
	for _, ref := range refs {
		if ref.At < last || ref.At > len(raw) {
			return nil, fmt.Errorf("file %s placed at %d, outside the mail (%d bytes)", ref.SHA256, ref.At, len(raw))
		}
		out = append(out, raw[last:ref.At]...)
		out = appendBase64Lines(out, files[ref.SHA256])
		last = ref.At
	}
	return append(out, raw[last:]...), nil
}

// encodedLen is the length of appendBase64Lines's output for n bytes.
func encodedLen(n int) int {
	e := base64.StdEncoding.EncodedLen(n)
	if e == 0 {
		return 0
	}
	return e + 2*((e-1)/b64Line)
}

// appendBase64Lines appends data in base64, in lines of b64Line characters with CRLF between
// them and none after the last.
func appendBase64Lines(dst, data []byte) []byte {
	const chunk = b64Line / 4 * 3 // input bytes per full line
	for len(data) > 0 {
		n := min(chunk, len(data))
		dst = base64.StdEncoding.AppendEncode(dst, data[:n])
		data = data[n:]
		if len(data) > 0 {
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}
