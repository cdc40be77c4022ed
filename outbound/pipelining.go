package outbound

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// pipelinedConn is one connection to a relay that advertises PIPELINING (RFC 2920): MAIL,
// RCPT and DATA go out in one write and their three replies are read together, then the body
// and its reply, two round trips per mail instead of go-smtp's four; one when the relay also
// advertises CHUNKING (RFC 3030) and the mail is small (transactChunk). It is no general client:
// only what Relay's transaction needs (greeting, EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, RSET,
// QUIT). Its refusals are *smtp.SMTPError as go-smtp's are, so the worker classifies them alike.
type pipelinedConn struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	ext     map[string]string
	timeout time.Duration
	broken  bool // the connection is in no known state: not to carry another transaction
}

// errNoPipelining: the relay does not advertise PIPELINING (or knows no EHLO); the connection
// was closed and the relay is to be used through go-smtp's client.
var errNoPipelining = errors.New("relay does not advertise PIPELINING")

// maxReplyLines bounds a multiline reply; a reply line longer than the reader's buffer (4 KiB,
// twice RFC 5321's 512) is an error too.
const maxReplyLines = 128

// dialPipelined connects, greets, says EHLO, does STARTTLS or implicit TLS and AUTH as r says.
// Its errors read as the go-smtp path's; errNoPipelining when the relay does not pipeline.
func (r *Relay) dialPipelined(ctx context.Context) (*pipelinedConn, error) {
	conn, tc, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	if r.TLS == "implicit" {
		conn = tls.Client(conn, tc)
	}
	p := newPipelinedConn(conn, r.timeout())
	helo := r.HelloName
	if helo == "" {
		helo = "localhost" // what go-smtp's client says when not told
	}
	if err := validateLine(helo); err != nil {
		p.close()
		return nil, err
	}
	if r.TLS == "starttls" {
		if err := p.startTLS(helo, tc); err != nil {
			p.close()
			return nil, fmt.Errorf("relay %s starttls: %w", r.addr(), err)
		}
	} else if err := p.greet(); err != nil {
		p.close()
		return nil, classify(err)
	}
	if err := p.ehlo(helo); err != nil {
		p.close()
		var se *smtp.SMTPError
		if errors.As(err, &se) && (se.Code == 500 || se.Code == 502) {
			return nil, errNoPipelining // go-smtp's client falls back to HELO
		}
		return nil, classify(err)
	}
	if _, ok := p.ext["PIPELINING"]; !ok {
		p.quit()
		return nil, errNoPipelining
	}
	if r.Username != "" {
		if err := p.auth(sasl.NewPlainClient("", r.Username, r.Password)); err != nil {
			p.close()
			return nil, classify(fmt.Errorf("relay auth: %w", err))
		}
	}
	return p, nil
}

func newPipelinedConn(conn net.Conn, timeout time.Duration) *pipelinedConn {
	return &pipelinedConn{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriterSize(conn, 16<<10), timeout: timeout}
}

// exchange starts one exchange with the relay: a fresh deadline for its writes and reads.
func (p *pipelinedConn) exchange() {
	_ = p.conn.SetDeadline(time.Now().Add(p.timeout))
}

// cmd sends one command and reads its reply, which must have code want (see accept).
func (p *pipelinedConn) cmd(want int, line string) (int, string, error) {
	p.exchange()
	p.w.WriteString(line)
	p.w.WriteString("\r\n")
	if err := p.w.Flush(); err != nil {
		p.broken = true
		return 0, "", err
	}
	return p.reply(want)
}

// reply reads one reply: an *smtp.SMTPError when its code is not want, any other error when
// the connection failed (it is then broken).
func (p *pipelinedConn) reply(want int) (int, string, error) {
	code, msg, err := readReply(p.r)
	if err != nil {
		p.broken = true
		return 0, "", err
	}
	if code == 421 {
		p.broken = true // the relay is closing the connection (RFC 5321 §3.8)
	}
	if !accept(code, want) {
		return code, msg, replyError(code, msg)
	}
	return code, msg, nil
}

// accept reports whether code matches want as net/textproto's expectCode does: 250 exactly, or
// 25 for any 25x; 0 for any code.
func accept(code, want int) bool {
	switch {
	case want == 0:
		return true
	case want < 10:
		return code/100 == want
	case want < 100:
		return code/10 == want
	}
	return code == want
}

func (p *pipelinedConn) greet() error {
	p.exchange()
	_, _, err := p.reply(220)
	return err
}

func (p *pipelinedConn) ehlo(helo string) error {
	_, msg, err := p.cmd(250, "EHLO "+helo)
	if err != nil {
		return err
	}
	p.ext = parseEHLO(msg)
	return nil
}

// startTLS greets, says EHLO and switches to TLS (go-smtp's NewClientStartTLS).
func (p *pipelinedConn) startTLS(helo string, tc *tls.Config) error {
	if err := p.greet(); err != nil {
		return err
	}
	if err := p.ehlo(helo); err != nil {
		return err
	}
	if _, ok := p.ext["STARTTLS"]; !ok {
		return errors.New("smtp: server doesn't support STARTTLS")
	}
	if _, _, err := p.cmd(220, "STARTTLS"); err != nil {
		return err
	}
	if p.r.Buffered() > 0 {
		// Anything the relay sent after 220 and before the handshake is an injection
		// (CVE-2011-0411 and kin): the handshake must be the next thing on the wire.
		return errors.New("smtp: data after STARTTLS reply")
	}
	p.conn = tls.Client(p.conn, tc)
	p.r.Reset(p.conn)
	p.w.Reset(p.conn)
	p.ext = nil
	return nil
}

// auth runs a SASL exchange (RFC 4954), as go-smtp's Client.Auth does.
func (p *pipelinedConn) auth(a sasl.Client) error {
	enc := base64.StdEncoding
	mech, resp, err := a.Start()
	if err != nil {
		return err
	}
	line := "AUTH " + mech
	if len(resp) > 0 {
		line += " " + enc.EncodeToString(resp)
	} else if resp != nil {
		line += " =" // an empty initial response
	}
	for {
		code, msg, err := p.cmd(0, line)
		if err != nil {
			return err
		}
		switch code {
		case 235:
			return nil
		case 334:
		default:
			return replyError(code, msg)
		}
		challenge, err := enc.DecodeString(msg)
		if err == nil {
			resp, err = a.Next(challenge)
		}
		if err != nil {
			_, _, _ = p.cmd(501, "*") // abort the exchange
			return err
		}
		line = enc.EncodeToString(resp)
	}
}

// transact sends one mail: MAIL, RCPT and DATA in one write, their three replies (all read,
// in order, whatever they say: RFC 2920 §3.1), then the body and the reply to its end, which
// it notes for the worker's log line. A refusal of MAIL, RCPT or DATA is followed by RSET, so
// that the connection can carry the next mail.
func (p *pipelinedConn) transact(ctx context.Context, from, to string, raw []byte) error {
	if err := validateLine(from); err != nil {
		return err
	}
	if err := validateLine(to); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("MAIL FROM:<" + from + ">")
	if _, ok := p.ext["8BITMIME"]; ok {
		b.WriteString(" BODY=8BITMIME") // as go-smtp's client says
	}
	if _, ok := p.ext["SIZE"]; ok {
		b.WriteString(" SIZE=" + strconv.Itoa(len(raw)))
	}
	if !isASCII(from) || !isASCII(to) {
		if _, ok := p.ext["SMTPUTF8"]; !ok {
			return errors.New("smtp: server does not support SMTPUTF8")
		}
		b.WriteString(" SMTPUTF8")
	}
	b.WriteString("\r\nRCPT TO:<" + to + ">\r\n")
	if _, ok := p.ext["CHUNKING"]; ok && len(raw) <= chunkMax && crlfOnly(raw) {
		return p.transactChunk(ctx, b.String(), raw)
	}
	b.WriteString("DATA\r\n")

	p.exchange()
	p.w.WriteString(b.String())
	if err := p.w.Flush(); err != nil {
		p.broken = true
		return err
	}
	var refusal error
	for _, want := range []int{250, 25, 354} {
		_, _, err := p.reply(want)
		if p.broken && !isSMTPError(err) {
			// The connection failed; a refusal read before it is the better account.
			return cmp(refusal, err)
		}
		if err != nil && refusal == nil {
			refusal = err
		}
		if want == 354 && err == nil && refusal != nil {
			// DATA accepted although MAIL or RCPT was refused (RFC 2920 says a server
			// must not): the relay now reads a body. Leave the connection.
			p.broken = true
			return refusal
		}
	}
	if refusal != nil {
		p.reset()
		return refusal
	}
	dw := newDotStuffer(p.w)
	p.exchange()
	if _, err := dw.Write(raw); err != nil {
		p.broken = true
		return err
	}
	if err := dw.Close(); err != nil {
		p.broken = true
		return err
	}
	if err := p.w.Flush(); err != nil {
		p.broken = true
		return err
	}
	// The relay's checks after the body get a deadline of their own, as go-smtp's
	// SubmissionTimeout gives them: timing out here after the relay queued the mail would send
	// it twice.
	p.exchange()
	_, msg, err := p.reply(250)
	if err != nil {
		return err // the transaction is over either way (RFC 5321 §4.1.1.4): no RSET needed
	}
	noteReply(ctx, "250 "+msg)
	return nil
}

// chunkMax bounds the mails that go as one BDAT chunk (RFC 3030) in the same write as their
// envelope. Such a body goes out before the relay has answered MAIL and RCPT: nothing for an
// acknowledgement or a notice, an upload for nothing for a mail with large files refused on its
// recipient or its SIZE. Those take the DATA way, where the envelope is answered first.
const chunkMax = 64 << 10

// transactChunk sends one mail as MAIL, RCPT and BDAT <size> LAST with the body in one write
// and reads the three replies: one round trip per mail instead of DATA's two, and no dot to
// stuff. A relay reads a chunk whatever it answers to its BDAT (RFC 3030 §2), so a refusal
// leaves the connection in step, and RSET clears what is left of the transaction.
func (p *pipelinedConn) transactChunk(ctx context.Context, envelope string, raw []byte) error {
	p.exchange()
	p.w.WriteString(envelope)
	p.w.WriteString("BDAT " + strconv.Itoa(len(raw)) + " LAST\r\n")
	_, _ = p.w.Write(raw) // a write error stays in p.w: Flush reports it
	if err := p.w.Flush(); err != nil {
		p.broken = true
		return err
	}
	// Each reply gets a deadline of its own: the relay's checks of the recipient and of the
	// content may each take most of the timeout, and timing out on the last reply after the
	// relay queued the mail would send it twice.
	p.exchange()
	var refusal error
	for _, want := range []int{250, 25} {
		_, _, err := p.reply(want)
		if p.broken && !isSMTPError(err) {
			return cmp(refusal, err)
		}
		if err != nil && refusal == nil {
			refusal = err
		}
		p.exchange()
	}
	_, msg, err := p.reply(250)
	switch {
	case p.broken && !isSMTPError(err):
		return cmp(refusal, err)
	case refusal != nil && err == nil:
		// The relay took the body although it refused MAIL or RCPT (RFC 3030 says it must
		// not): leave the connection.
		p.broken = true
		return refusal
	case refusal != nil:
		p.reset()
		return refusal
	case err != nil:
		p.reset()
		return err
	}
	noteReply(ctx, "250 "+msg)
	return nil
}

// crlfOnly reports whether every line of raw ends in CRLF, the last one included, with no CR
// or LF alone: what the relay reads from a BDAT chunk is then what DATA would have given it.
// Anything else (mail is queued in CRLF form, so hardly ever) goes through DATA, which
// normalises it as net/textproto's DotWriter does.
func crlfOnly(raw []byte) bool {
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		return false
	}
	lfs := 0
	for i := 0; ; i++ {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || raw[i-1] != '\r' {
			return false
		}
		lfs++
	}
	// Each LF has its CR: one CR more would be one alone.
	return bytes.Count(raw, []byte("\r")) == lfs
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func isSMTPError(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

// reset aborts the transaction; the connection is broken when RSET does not get its 250.
func (p *pipelinedConn) reset() {
	if p.broken {
		return
	}
	if _, _, err := p.cmd(250, "RSET"); err != nil {
		p.broken = true
	}
}

// quit says QUIT, reads the reply and closes.
func (p *pipelinedConn) quit() {
	if !p.broken {
		_, _, _ = p.cmd(221, "QUIT")
	}
	p.close()
}

func (p *pipelinedConn) close() { _ = p.conn.Close() }

// readReply reads one reply, multiline or not (RFC 5321 §4.2): its code and its text, lines
// joined by "\n" as net/textproto does (so "250 2.0.0 Ok" gives 250, "2.0.0 Ok").
func readReply(r *bufio.Reader) (int, string, error) {
	code := 0
	var text strings.Builder
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return 0, "", errors.New("smtp: reply of too many lines")
		}
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return 0, "", errors.New("smtp: reply line too long")
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, "", err
		}
		line = line[:len(line)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		c, more, msg, err := parseReplyLine(line)
		if err != nil {
			return 0, "", err
		}
		if n > 0 && c != code {
			return 0, "", fmt.Errorf("smtp: reply line of code %d within a reply of code %d", c, code)
		}
		code = c
		if n > 0 {
			text.WriteByte('\n')
		}
		text.Write(msg)
		if !more {
			return code, text.String(), nil
		}
	}
}

// parseReplyLine splits "250-text", "250 text" or "250" into code, whether lines follow, text.
func parseReplyLine(line []byte) (code int, more bool, text []byte, err error) {
	if len(line) < 3 || len(line) > 3 && line[3] != ' ' && line[3] != '-' {
		return 0, false, nil, fmt.Errorf("smtp: malformed reply line %q", line)
	}
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0, false, nil, fmt.Errorf("smtp: malformed reply code %q", line[:3])
		}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if code < 200 || code > 599 {
		return 0, false, nil, fmt.Errorf("smtp: reply code %d out of range", code)
	}
	if len(line) == 3 {
		return code, false, nil, nil
	}
	return code, line[3] == '-', line[4:], nil
}

// parseEHLO reads the keywords of an EHLO reply's text (its lines after the first), upper-cased,
// to their parameters.
func parseEHLO(msg string) map[string]string {
	ext := map[string]string{}
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		kw, param, _ := strings.Cut(strings.TrimSpace(l), " ")
		if kw != "" {
			ext[strings.ToUpper(kw)] = param
		}
	}
	return ext
}

// replyError is the *smtp.SMTPError go-smtp's client makes of a reply: the enhanced status
// code (RFC 2034), when the text starts with one, parsed out of the text and its other lines.
func replyError(code int, msg string) *smtp.SMTPError {
	e := &smtp.SMTPError{Code: code, Message: msg}
	first, rest, ok := strings.Cut(msg, " ")
	if !ok {
		return e
	}
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return e
	}
	var ec smtp.EnhancedCode
	for i, s := range parts {
		n, err := strconv.Atoi(s)
		if err != nil {
			return e
		}
		ec[i] = n
	}
	e.EnhancedCode = ec
	e.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	return e
}

// validateLine refuses a CR or LF in what goes into a command line (go-smtp's check, same words).
func validateLine(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("smtp: a line must not contain CR or LF")
	}
	return nil
}
