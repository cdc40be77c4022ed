package outbound_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/outbound"
)

// lateReplyRelay advertises PIPELINING (or not), reads a body slowly and answers its end after a
// pause: each step well within the client's timeout, the two together not. Its slowness is
// what the test is about, so it is made of real time; nothing waits on it by sleeping.
type lateReplyRelay struct {
	l         net.Listener
	pipelined bool
	// chunking advertises CHUNKING too; RCPT is then answered after a pause (a policy lookup)
	// and a BDAT chunk after another (content checks).
	chunking bool
	mu       sync.Mutex
	queued   int
	sessions int // sessions still open
}

func (s *lateReplyRelay) serve(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		s.sessions--
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c)
	say := func(x string) { _, _ = io.WriteString(c, x+"\r\n") }
	say("220 slow.test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch strings.ToUpper(strings.Fields(line + " x")[0]) {
		case "EHLO":
			switch {
			case s.chunking:
				say("250-slow.test\r\n250-PIPELINING\r\n250 CHUNKING")
			case s.pipelined:
				say("250-slow.test\r\n250 PIPELINING")
			default:
				say("250-slow.test\r\n250 8BITMIME")
			}
		case "RCPT":
			if s.chunking {
				time.Sleep(1200 * time.Millisecond) // the recipient's checks
			}
			say("250 2.0.0 Ok")
		case "MAIL", "RSET":
			say("250 2.0.0 Ok")
		case "BDAT":
			n, _ := strconv.Atoi(strings.Fields(line + " x")[1])
			if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
				return
			}
			s.mu.Lock()
			s.queued++
			s.mu.Unlock()
			time.Sleep(1200 * time.Millisecond) // content checks before the reply
			say("250 2.0.0 Ok: queued")
		case "DATA":
			say("354 go ahead")
			buf := make([]byte, 256<<10)
			var body []byte
			time.Sleep(1500 * time.Millisecond) // busy: the client's body waits in the sockets' buffers
			for !bytesHasSuffix(body) {
				n, err := r.Read(buf)
				if err != nil {
					return
				}
				body = append(body, buf[:n]...)
			}
			s.mu.Lock()
			s.queued++ // the relay has the mail from here on
			s.mu.Unlock()
			time.Sleep(1000 * time.Millisecond) // content checks before the reply
			say("250 2.0.0 Ok: queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 no")
		}
	}
}

func startLateReplyRelay(t *testing.T, pipelined, chunking bool) *lateReplyRelay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	s := &lateReplyRelay{l: l, pipelined: pipelined, chunking: chunking}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.sessions++
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

// The end-of-data reply gets a timeout of its own on go-smtp's path (SubmissionTimeout); the
// pipelined path reads it under the deadline set before the body, so a body that took most of
// the timeout to go out makes a relay's reply in time look like a failure: the relay has
// queued the mail, mailgate retries it, and the recipient gets it twice.
func TestPipelinedEndOfDataHasItsOwnDeadline(t *testing.T) {
	body := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 1<<18) // ~20 MB: more than the sockets buffer
	raw := []byte("Subject: big\r\n\r\n" + body)
	for _, pipelined := range []bool{false, true} {
		s := startLateReplyRelay(t, pipelined, false)
		r := &outbound.Relay{Host: "127.0.0.1", Port: s.l.Addr().(*net.TCPAddr).Port, TLS: "none",
			HelloName: "mx.test", Timeout: 2 * time.Second}
		start := time.Now()
		err := r.Send(context.Background(), "a@x", "b@y", raw)
		r.Close()
		q := s.queuedOnceDone(t)
		t.Logf("pipelined=%v: err=%v, relay queued %d copies, took %v", pipelined, err, q, time.Since(start))
		if err != nil && q > 0 {
			t.Errorf("pipelined=%v: Send failed (%v) although the relay queued the mail %d time(s): it will be sent again", pipelined, err, q)
		}
	}
}

// queuedOnceDone waits for the relay's sessions to end (it has then read everything written)
// and returns how many mails it queued.
func (s *lateReplyRelay) queuedOnceDone(t *testing.T) int {
	t.Helper()
	poll.Until(t, 10*time.Second, "the relay's sessions to end", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sessions == 0
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued
}

func bytesHasSuffix(b []byte) bool { return len(b) >= 5 && string(b[len(b)-5:]) == "\r\n.\r\n" }

// On the BDAT way the three replies come after one write: a relay that takes most of the
// timeout to check the recipient, then most of it again to check the content, answers in time
// for each reply, and the mail it queued must not count as failed (it would go twice).
func TestChunkRepliesHaveTheirOwnDeadlines(t *testing.T) {
	s := startLateReplyRelay(t, true, true)
	r := &outbound.Relay{Host: "127.0.0.1", Port: s.l.Addr().(*net.TCPAddr).Port, TLS: "none",
		HelloName: "mx.test", Timeout: 2 * time.Second}
	err := r.Send(context.Background(), "a@x", "b@y", []byte("Subject: small\r\n\r\nbody\r\n"))
	r.Close()
	q := s.queuedOnceDone(t)
	if err != nil || q != 1 {
		t.Fatalf("Send = %v with the relay holding %d copies; want nil and 1", err, q)
	}
}
