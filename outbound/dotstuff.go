package outbound

import (
	"bytes"
	"io"
)

// dotStuffer writes a mail's body as SMTP DATA (RFC 5321 §4.5.2), byte for byte as
// net/textproto's DotWriter does, which wrote a byte at a time and cost a twentieth of the
// daemon's CPU (profiled). Mail is queued in CRLF form, so a body goes out in a few large
// writes, broken only where a line starts with a dot; the odd inputs DotWriter normalises (a
// bare LF, a bare CR, no final line end) are handled as it does.
type dotStuffer struct {
	w     io.Writer
	state int
}

// The states are DotWriter's: what the last byte written leaves.
const (
	dotBegin     = iota // nothing written yet
	dotLineStart        // an LF: a dot here is doubled, an LF gets its CR
	dotCR               // a CR that an LF would end the line with
	dotData             // anything else, including a CR that follows a dotCR one
)

var dotCRLF = []byte(".\r\n")

func newDotStuffer(w io.Writer) *dotStuffer { return &dotStuffer{w: w} }

func (d *dotStuffer) Write(b []byte) (int, error) {
	run := 0 // b[run:] is not written yet
	for pos := 0; pos < len(b); {
		if (d.state == dotBegin || d.state == dotLineStart) && b[pos] == '.' {
			if err := d.write(b[run:pos], "."); err != nil {
				return run, err
			}
			run = pos // the dot itself goes with the run
		}
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			d.state = stateAfter(b[pos:], d.state)
			break
		}
		if stateAfter(b[pos:pos+i], d.state) != dotCR {
			nl := pos + i
			if err := d.write(b[run:nl], "\r"); err != nil {
				return run, err
			}
			run = nl
		}
		d.state = dotLineStart
		pos += i + 1
	}
	if run < len(b) {
		if _, err := d.w.Write(b[run:]); err != nil {
			return run, err
		}
	}
	return len(b), nil
}

// write writes run then s.
func (d *dotStuffer) write(run []byte, s string) error {
	if _, err := d.w.Write(run); err != nil {
		return err
	}
	_, err := io.WriteString(d.w, s)
	return err
}

// stateAfter is the state that writing seg, which holds no LF, leaves from state s. Of a run
// of CRs, every other one is a dotCR: DotWriter takes a CR after a dotCR one as data.
func stateAfter(seg []byte, s int) int {
	crs := len(seg) - len(bytes.TrimRight(seg, "\r"))
	switch {
	case crs == 0 && len(seg) == 0:
		return s
	case crs == 0:
		return dotData
	case crs < len(seg) || s != dotCR:
		if crs%2 == 1 {
			return dotCR
		}
		return dotData
	case crs%2 == 0: // all CRs, after a dotCR
		return dotCR
	}
	return dotData
}

// Close ends the data with the line "." (after a CRLF if the last line lacks one).
func (d *dotStuffer) Close() error {
	var err error
	switch d.state {
	case dotLineStart:
		_, err = d.w.Write(dotCRLF)
	case dotCR:
		_, err = io.WriteString(d.w, "\n.\r\n")
	default:
		_, err = io.WriteString(d.w, "\r\n.\r\n")
	}
	return err
}
