package outbound_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/outbound"
)

// pipeRelay is a go-smtp relay (go-smtp's server advertises PIPELINING) that refuses what it is
// told to, counts its connections, keeps what it received and, through wireListener, every read its
// connections made off the wire.
type pipeRelay struct {
	mu       sync.Mutex
	conns    int // TCP connections
	mails    []string
	users    []string
	dataErr  *smtp.SMTPError
	reads    []string // each Read on the server's side of the wire, in order
	maxBytes int64    // the server's MaxMessageBytes (advertised as SIZE)
	// noChunking hides go-smtp's CHUNKING from its EHLO reply (in clear text only), so that
	// the client takes the DATA way.
	noChunking bool
}

// The two ways a pipelined mail goes: DATA (the relay does not advertise CHUNKING) and BDAT.
var ways = []struct {
	name       string
	noChunking bool
}{{"data", true}, {"bdat", false}}

var refusals = map[string]*smtp.SMTPError{
	"banned@x":  {Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender banned"},
	"nobody@y":  {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	"later@y":   {Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"},
	"closing@y": {Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "closing"},
}

func (b *pipeRelay) NewSession(*smtp.Conn) (smtp.Session, error) { return &pipeSession{b: b}, nil }

func (b *pipeRelay) snapshot() (conns int, mails []string, wire string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns, append([]string(nil), b.mails...), strings.Join(b.reads, "")
}

type pipeSession struct{ b *pipeRelay }

func (s *pipeSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *pipeSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mg" || pass != "secret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.b.mu.Lock()
		s.b.users = append(s.b.users, user)
		s.b.mu.Unlock()
		return nil
	}), nil
}
func (s *pipeSession) Mail(from string, _ *smtp.MailOptions) error {
	if e := refusals[from]; e != nil {
		return e
	}
	return nil
}
func (s *pipeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := refusals[to]; e != nil {
		return e
	}
	return nil
}
func (s *pipeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	s.b.mails = append(s.b.mails, string(b))
	return nil
}
func (s *pipeSession) Reset()        {}
func (s *pipeSession) Logout() error { return nil }

// wireListener hands out connections whose every Read is logged into b.reads.
type wireListener struct {
	net.Listener
	b *pipeRelay
}

func (l wireListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.b.mu.Lock()
	l.b.conns++ // go-smtp's server makes a new session after STARTTLS: count connections here
	l.b.mu.Unlock()
	return wireConn{Conn: c, b: l.b}, nil
}

type wireConn struct {
	net.Conn
	b *pipeRelay
}

// Write renames CHUNKING in the EHLO reply when b.noChunking: go-smtp writes a reply a line at
// a time, and a keyword of the same length keeps the reply well formed.
func (c wireConn) Write(p []byte) (int, error) {
	if c.b.noChunking && bytes.Contains(p, []byte("CHUNKING")) {
		p = bytes.ReplaceAll(p, []byte("CHUNKING"), []byte("XNOCHUNK"))
	}
	return c.Conn.Write(p)
}

func (c wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.b.mu.Lock()
		c.b.reads = append(c.b.reads, string(p[:n]))
		c.b.mu.Unlock()
	}
	return n, err
}

// startPipeRelay runs b on loopback (tlsMode none|starttls|implicit) and returns a Relay to it.
func startPipeRelay(t *testing.T, b *pipeRelay, tlsMode string) *outbound.Relay {
	t.Helper()
	srv := smtp.NewServer(b)
	srv.Domain = "pipe.test"
	srv.AllowInsecureAuth = tlsMode == "none"
	srv.MaxMessageBytes = b.maxBytes
	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = wireListener{Listener: l, b: b}
	var clientTLS *tls.Config
	if tlsMode != "none" {
		var serverTLS *tls.Config
		serverTLS, clientTLS = selfSigned(t)
		srv.TLSConfig = serverTLS
		if tlsMode == "implicit" {
			l = tls.NewListener(l, serverTLS)
		}
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	r := &outbound.Relay{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: tlsMode,
		HelloName: "mx.test", Timeout: 10 * time.Second, TLSConfig: clientTLS}
	t.Cleanup(r.Close)
	return r
}

// selfSigned makes a certificate for 127.0.0.1 and a client config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "relay.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{ServerName: "127.0.0.1", RootCAs: pool}
}

func smtpErr(t *testing.T, err error) *smtp.SMTPError {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want an *smtp.SMTPError", err, err)
	}
	return se
}

// Dot-stuffing: lines that start with '.' reach the relay as they were, byte for byte, and
// MAIL, RCPT and DATA reach it in one read (one write on our side). With CHUNKING, MAIL, RCPT,
// BDAT and the body, unstuffed, are that one read (TestRelayChunksByteExact).
func TestRelayPipelinesByteExact(t *testing.T) {
	b := &pipeRelay{noChunking: true}
	r := startPipeRelay(t, b, "none")
	raw := []byte("From: a@x\r\nTo: b@y\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend. \r\n.\r\n")
	wire := sendThreeWhole(t, r, b, raw)
	if !strings.Contains(wire, "\r\n..leading dot\r\n...two dots\r\n..\r\nend. \r\n..\r\n.\r\n") {
		t.Fatalf("body not dot-stuffed on the wire: %q", wire)
	}
	b.mu.Lock()
	grouped := 0
	for _, rd := range b.reads {
		if strings.HasPrefix(rd, "MAIL FROM:<a@x>") && strings.HasSuffix(rd, "\r\nRCPT TO:<b@y>\r\nDATA\r\n") {
			grouped++
		}
	}
	b.mu.Unlock()
	if grouped != 3 {
		t.Fatalf("MAIL, RCPT and DATA came in one read %d times of 3; wire: %q", grouped, wire)
	}
	if p, plain := outbound.IdlePipelined(r); p != 1 || plain != 0 {
		t.Fatalf("cached connections: %d pipelined, %d plain; want 1, 0", p, plain)
	}
}

// sendThreeWhole sends raw three times through r and checks that b received it three times, byte
// for byte, on one connection; it returns what b read off the wire.
func sendThreeWhole(t *testing.T, r *outbound.Relay, b *pipeRelay, raw []byte) (wire string) {
	t.Helper()
	for i := range 3 {
		if err := r.Send(context.Background(), "a@x", "b@y", raw); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	conns, mails, wire := b.snapshot()
	if conns != 1 || len(mails) != 3 {
		t.Fatalf("%d mails over %d connections, want 3 over 1", len(mails), conns)
	}
	for _, m := range mails {
		if m != string(raw) {
			t.Fatalf("relay got %q, want %q", m, raw)
		}
	}
	return wire
}

// A relay that advertises CHUNKING gets each small mail as MAIL, RCPT, BDAT <size> LAST and the
// body as it is (no dot-stuffing), in one read: one round trip per mail.
func TestRelayChunksByteExact(t *testing.T) {
	b := &pipeRelay{}
	r := startPipeRelay(t, b, "none")
	raw := []byte("From: a@x\r\nTo: b@y\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend. \r\n.\r\n")
	wire := sendThreeWhole(t, r, b, raw)
	if strings.Contains(wire, "DATA\r\n") || strings.Count(wire, "BDAT "+strconv.Itoa(len(raw))+" LAST\r\n"+string(raw)) != 3 {
		t.Fatalf("not three BDAT chunks of the body as it is: %q", wire)
	}
	b.mu.Lock()
	grouped := 0
	for _, rd := range b.reads {
		if rd == "MAIL FROM:<a@x> BODY=8BITMIME SIZE="+strconv.Itoa(len(raw))+"\r\nRCPT TO:<b@y>\r\nBDAT "+strconv.Itoa(len(raw))+" LAST\r\n"+string(raw) {
			grouped++
		}
	}
	b.mu.Unlock()
	if grouped != 3 {
		t.Fatalf("MAIL, RCPT, BDAT and the body came in one read %d times of 3; wire: %q", grouped, wire)
	}
}

// What a chunk cannot carry as DATA would, or should not go before the relay has answered the
// envelope, goes as DATA although the relay advertises CHUNKING: a body with a bare LF (DATA
// normalises it as net/textproto does) and a body over 64 KiB.
func TestRelayChunksOnlySmallCRLFMail(t *testing.T) {
	b := &pipeRelay{}
	r := startPipeRelay(t, b, "none")
	ctx := context.Background()
	bare := []byte("Subject: bare\n\nline one\nline two\r\n")
	big := []byte("Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("y", 78)+"\r\n", 1000))
	small := []byte("Subject: small\r\n\r\nsmall\r\n")
	for _, raw := range [][]byte{bare, big, small} {
		if err := r.Send(ctx, "a@x", "b@y", raw); err != nil {
			t.Fatal(err)
		}
	}
	_, mails, wire := b.snapshot()
	want := []string{"Subject: bare\r\n\r\nline one\r\nline two\r\n", string(big), string(small)}
	if !slices.Equal(mails, want) {
		t.Fatalf("relay got %q, want %q", mails, want)
	}
	if strings.Count(wire, "DATA\r\n") != 2 || strings.Count(wire, "BDAT ") != 1 || !strings.Contains(wire, "BDAT "+strconv.Itoa(len(small))+" LAST\r\n") {
		t.Fatalf("want the bare-LF and the large mail as DATA, the small one as BDAT: %q", wire)
	}
}

// A refused RCPT or MAIL: the mail's error is that reply, the relay keeps nothing of it, and
// the connection (RSET) carries the next mail. On the DATA way no body goes out; a BDAT chunk
// goes with its envelope and the relay discards it.
func TestRelayPipelinedRefusals(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) { testRelayPipelinedRefusals(t, way.noChunking) })
	}
}

func testRelayPipelinedRefusals(t *testing.T, noChunking bool) {
	for _, tc := range []struct {
		name, from, to string
		code           int
		permanent      bool
	}{
		{"rcpt", "a@x", "nobody@y", 550, true},
		{"rcpt-temporary", "a@x", "later@y", 450, false},
		{"mail", "banned@x", "b@y", 553, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &pipeRelay{noChunking: noChunking}
			r := startPipeRelay(t, b, "none")
			ctx := context.Background()
			if err := r.Send(ctx, "a@x", "b@y", []byte("Subject: first\r\n\r\nfirst\r\n")); err != nil {
				t.Fatal(err)
			}
			err := r.Send(ctx, tc.from, tc.to, []byte("Subject: refused\r\n\r\nREFUSED-BODY\r\n"))
			se := smtpErr(t, err)
			if se.Code != tc.code || outbound.IsPermanent(err) != tc.permanent {
				t.Fatalf("err = %v (permanent %v), want code %d permanent %v", err, outbound.IsPermanent(err), tc.code, tc.permanent)
			}
			want := refusals[tc.from]
			if want == nil {
				want = refusals[tc.to]
			}
			if se.EnhancedCode != want.EnhancedCode || se.Message != want.Message {
				t.Fatalf("err = %+v, want %+v", se, want)
			}
			if err := r.Send(ctx, "a@x", "b@y", []byte("Subject: next\r\n\r\nnext\r\n")); err != nil {
				t.Fatalf("next mail on the connection: %v", err)
			}
			conns, mails, wire := b.snapshot()
			if noChunking && strings.Contains(wire, "REFUSED-BODY") {
				t.Fatalf("the refused mail's body went out: %q", wire)
			}
			if !strings.Contains(wire, "RSET\r\n") {
				t.Fatalf("no RSET after the refusal: %q", wire)
			}
			if conns != 1 || len(mails) != 2 || !strings.Contains(mails[1], "next") {
				t.Fatalf("%d mails over %d connections, want 2 over 1: %q", len(mails), conns, mails)
			}
		})
	}
}

// A 4xx to the end of data (or to BDAT LAST) is a temporary error; a 5xx a permanent one. The
// connection goes on.
func TestRelayPipelinedDataReply(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) { testRelayPipelinedDataReply(t, way.noChunking) })
	}
}

func testRelayPipelinedDataReply(t *testing.T, noChunking bool) {
	b := &pipeRelay{noChunking: noChunking}
	r := startPipeRelay(t, b, "none")
	ctx := context.Background()
	raw := []byte("Subject: s\r\n\r\nbody\r\n")
	for _, e := range []*smtp.SMTPError{
		{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"},
		{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "content refused"},
	} {
		b.mu.Lock()
		b.dataErr = e
		b.mu.Unlock()
		err := r.Send(ctx, "a@x", "b@y", raw)
		if se := smtpErr(t, err); se.Code != e.Code || se.EnhancedCode != e.EnhancedCode || se.Message != e.Message {
			t.Fatalf("err = %+v, want %+v", se, e)
		}
		if outbound.IsPermanent(err) != (e.Code >= 500) {
			t.Fatalf("%v: permanent = %v", err, outbound.IsPermanent(err))
		}
	}
	b.mu.Lock()
	b.dataErr = nil
	b.mu.Unlock()
	if err := r.Send(ctx, "a@x", "b@y", raw); err != nil {
		t.Fatal(err)
	}
	if conns, mails, _ := b.snapshot(); conns != 1 || len(mails) != 1 {
		t.Fatalf("%d mails over %d connections, want 1 over 1", len(mails), conns)
	}
}

// A 421 in the pipelined replies on a cached connection is no verdict on the mail: it goes out
// on a fresh connection (as TestRelayRetriesStaleCachedConnection for go-smtp's client).
func TestRelayPipelined421Retries(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) { testRelayPipelined421Retries(t, way.noChunking) })
	}
}

func testRelayPipelined421Retries(t *testing.T, noChunking bool) {
	b := &pipeRelay{noChunking: noChunking}
	r := startPipeRelay(t, b, "none")
	ctx := context.Background()
	if err := r.Send(ctx, "a@x", "b@y", []byte("Subject: 1\r\n\r\n1\r\n")); err != nil {
		t.Fatal(err)
	}
	err := r.Send(ctx, "a@x", "closing@y", []byte("Subject: 2\r\n\r\n2\r\n"))
	if se := smtpErr(t, err); se.Code != 421 || outbound.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	if conns, _, _ := b.snapshot(); conns != 2 {
		t.Fatalf("%d connections, want 2 (a retry on a fresh one)", conns)
	}
	if p, _ := outbound.IdlePipelined(r); p != 0 {
		t.Fatalf("a connection that had 421 was cached")
	}
}

// STARTTLS or implicit TLS, then AUTH PLAIN, then pipelined mail; wrong credentials are the
// relay's 535, a permanent error.
func TestRelayPipelinesAfterTLSAndAuth(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			b := &pipeRelay{}
			r := startPipeRelay(t, b, mode)
			r.Username, r.Password = "mg", "secret"
			for range 2 {
				if err := r.Send(context.Background(), "a@x", "b@y", []byte("Subject: s\r\n\r\nover tls\r\n")); err != nil {
					t.Fatal(err)
				}
			}
			conns, mails, wire := b.snapshot()
			b.mu.Lock()
			logins := len(b.users)
			b.mu.Unlock()
			if conns != 1 || len(mails) != 2 || logins != 1 {
				t.Fatalf("%d mails over %d connections, %d logins; want 2, 1, 1", len(mails), conns, logins)
			}
			if strings.Contains(wire, "over tls") || strings.Contains(wire, "MAIL FROM") {
				t.Fatalf("mail in clear on the wire: %q", wire)
			}
			if p, plain := outbound.IdlePipelined(r); p != 1 || plain != 0 {
				t.Fatalf("cached connections: %d pipelined, %d plain; want 1, 0", p, plain)
			}

			bad := startPipeRelay(t, &pipeRelay{}, mode)
			bad.Username, bad.Password = "mg", "wrong"
			err := bad.Send(context.Background(), "a@x", "b@y", []byte("Subject: s\r\n\r\nx\r\n"))
			if se := smtpErr(t, err); se.Code != 535 || !outbound.IsPermanent(err) || !strings.Contains(err.Error(), "relay auth") {
				t.Fatalf("err = %v, want a permanent relay auth 535", err)
			}
		})
	}
}

// plainRelay is a relay that does not advertise PIPELINING. It notes a client that sends a
// command before it has answered the one before (after MAIL it waits a little to see).
type plainRelay struct {
	l         net.Listener
	mu        sync.Mutex
	mails     []string
	conns     int
	pipelined int
	oneShot   bool // 421 to a second MAIL on a connection, as a relay closing idle ones
}

func startPlainRelay(t *testing.T, oneShot bool) *plainRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &plainRelay{l: l, oneShot: oneShot}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *plainRelay) serve(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	p.conns++
	p.mu.Unlock()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	say := func(s string) { _, _ = io.WriteString(c, s+"\r\n") }
	say("220 plain.test ESMTP")
	delivered := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			say("250-plain.test\r\n250-8BITMIME\r\n250 SIZE 1000000")
		case "MAIL":
			if p.oneShot && delivered {
				say("421 4.4.2 idle too long, closing")
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := r.Peek(1); err == nil {
				p.mu.Lock()
				p.pipelined++
				p.mu.Unlock()
			}
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			say("250 2.1.0 Ok")
		case "RCPT", "RSET", "NOOP":
			say("250 2.0.0 Ok")
		case "DATA":
			say("354 End data with <CR><LF>.<CR><LF>")
			var body strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(strings.TrimPrefix(l, "."))
			}
			p.mu.Lock()
			p.mails = append(p.mails, body.String())
			p.mu.Unlock()
			delivered = true
			say("250 2.0.0 Ok: queued as 1")
		case "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("502 5.5.2 Error: command not recognized")
		}
	}
}

// A relay that does not advertise PIPELINING gets go-smtp's client, one command at a time.
func TestRelayWithoutPipeliningUsesGoSMTP(t *testing.T) {
	p := startPlainRelay(t, false)
	r := &outbound.Relay{Host: "127.0.0.1", Port: p.l.Addr().(*net.TCPAddr).Port, TLS: "none", HelloName: "mx.test"}
	defer r.Close()
	raw := []byte("Subject: s\r\n\r\n.dot\r\nbody\r\n")
	for i := range 3 {
		if err := r.Send(context.Background(), "a@x", "b@y", raw); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	if pl, plain := outbound.IdlePipelined(r); pl != 0 || plain != 1 {
		t.Fatalf("cached connections: %d pipelined, %d plain; want 0, 1", pl, plain)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pipelined != 0 {
		t.Fatalf("%d commands sent ahead of the reply to MAIL to a relay that does not pipeline", p.pipelined)
	}
	// One connection to learn the relay does not pipeline, one that carries the mail.
	if len(p.mails) != 3 || p.conns != 2 || p.mails[0] != string(raw) {
		t.Fatalf("%d mails over %d connections (want 3 over 2): %q", len(p.mails), p.conns, p.mails)
	}
}

// go-smtp's path keeps the retry of a mail on a fresh connection when a cached one is stale.
func TestRelayWithoutPipeliningRetriesStale(t *testing.T) {
	p := startPlainRelay(t, true)
	r := &outbound.Relay{Host: "127.0.0.1", Port: p.l.Addr().(*net.TCPAddr).Port, TLS: "none", HelloName: "mx.test"}
	defer r.Close()
	for i := range 3 {
		if err := r.Send(context.Background(), "a@x", "b@y", []byte("Subject: s\r\n\r\nx\r\n")); err != nil {
			t.Fatalf("send %d: %v (a 421 on a cached connection is no verdict on the mail)", i+1, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.mails) != 3 || p.conns != 4 {
		t.Fatalf("%d mails over %d connections, want 3 over 4 (one to learn it does not pipeline)", len(p.mails), p.conns)
	}
}

// MAIL carries SIZE when the relay advertises it: a mail over the relay's limit is refused
// (on the DATA way before its body goes out; a BDAT chunk the relay discards).
func TestRelayPipelinedSize(t *testing.T) {
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) { testRelayPipelinedSize(t, way.noChunking) })
	}
}

func testRelayPipelinedSize(t *testing.T, noChunking bool) {
	b := &pipeRelay{maxBytes: 100, noChunking: noChunking}
	r := startPipeRelay(t, b, "none")
	big := []byte("Subject: big\r\n\r\n" + strings.Repeat("TOO-BIG ", 20) + "\r\n")
	err := r.Send(context.Background(), "a@x", "b@y", big)
	if se := smtpErr(t, err); se.Code != 552 || !outbound.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent 552", err)
	}
	if err := r.Send(context.Background(), "a@x", "b@y", []byte("Subject: small\r\n\r\nok\r\n")); err != nil {
		t.Fatal(err)
	}
	conns, mails, wire := b.snapshot()
	if (noChunking && strings.Contains(wire, "TOO-BIG")) || !strings.Contains(wire, "SIZE=") || conns != 1 || len(mails) != 1 || strings.Contains(mails[0], "TOO-BIG") {
		t.Fatalf("%d mails over %d connections; wire %q", len(mails), conns, wire)
	}
}
