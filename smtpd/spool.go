package smtpd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// spoolAt is how much of a message is read into memory; the rest goes to a temporary file, so
// that 32 sessions each sending 10 MB do not hold 320 MB while they wait to be parsed.
const spoolAt = 1 << 20

// maxHint bounds the buffer reserved on a client's word (SIZE=) alone.
const maxHint = 256 << 10

// errSpool marks a failure of our spool file (answered 451), not of the client's data.
var errSpool = errors.New("spool")

// message is a message as read from DATA: in memory, or spilled to a file when large.
type message struct {
	mem  []byte
	file *os.File
}

// readMessage reads r to its end; sizeHint is the size the client announced, if any. Errors from r (the size limit's 552 among them) are
// returned as they are.
func readMessage(r io.Reader, sizeHint int64) (*message, error) {
	var buf bytes.Buffer
	// The client's SIZE= (RFC 1870; Postfix always sends it) sizes the buffer once, instead
	// of growing and copying it as the message arrives.
	// Capped: a client may announce a size it never sends.
	if sizeHint > 0 {
		buf.Grow(int(min(sizeHint, maxHint)) + bytes.MinRead)
	}
	n, err := io.CopyN(&buf, r, spoolAt)
	if err == io.EOF {
		return &message{mem: buf.Bytes()}, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "mailgate-spool-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	m := &message{file: f}
	if _, err := f.Write(buf.Bytes()[:n]); err != nil {
		m.close()
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		m.close()
		return nil, err
	}
	return m, nil
}

// large reports whether the message was spilled to disk.
func (m *message) large() bool { return m.file != nil }

// bytes returns the whole message in one slice (read back from the spool file if needed).
func (m *message) bytes() ([]byte, error) {
	if m.file == nil {
		return m.mem, nil
	}
	st, err := m.file.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	b := make([]byte, st.Size())
	if _, err := m.file.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: %v", errSpool, err)
	}
	return b, nil
}

func (m *message) close() {
	if m.file != nil {
		name := m.file.Name()
		m.file.Close()
		os.Remove(name)
	}
}
