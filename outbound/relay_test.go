package outbound_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
)

// oneShotRelay accepts one transaction per connection and answers 421 to the next, as a relay
// does that closes idle connections: what a cached connection meets when it has gone stale.
type oneShotRelay struct {
	mu        sync.Mutex
	conns     int
	delivered int
}

func (b *oneShotRelay) NewSession(*smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.conns++
	b.mu.Unlock()
	return &oneShotSession{b: b}, nil
}

type oneShotSession struct {
	b    *oneShotRelay
	done bool
}

func (s *oneShotSession) Mail(string, *smtp.MailOptions) error {
	if s.done {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "idle too long, closing"}
	}
	return nil
}
func (s *oneShotSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *oneShotSession) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	s.done = true
	s.b.mu.Lock()
	s.b.delivered++
	s.b.mu.Unlock()
	return nil
}
func (s *oneShotSession) Reset()        {}
func (s *oneShotSession) Logout() error { return nil }

func TestRelayRetriesStaleCachedConnection(t *testing.T) {
	be := &oneShotRelay{}
	srv := smtp.NewServer(be)
	srv.Domain = "relay.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	r := &outbound.Relay{Host: "127.0.0.1", Port: p, TLS: "none", HelloName: "mx.test"}
	defer r.Close()
	raw := []byte("From: a@x\r\nTo: b@y\r\nSubject: s\r\n\r\nbody\r\n")
	for i := range 3 {
		if err := r.Send(context.Background(), "a@x", "b@y", raw); err != nil {
			t.Fatalf("send %d: %v (a 421 on a cached connection is no verdict on the mail)", i+1, err)
		}
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.delivered != 3 || be.conns != 3 {
		t.Fatalf("delivered %d over %d connections, want 3 over 3", be.delivered, be.conns)
	}
}

// Each delivery attempt leaves one log line with the relay's own reply.
func TestDeliveryLogCarriesRelayReply(t *testing.T) {
	st, _ := queueOne(t)
	capture := smtpcapture.Start(t)
	r := &outbound.Relay{Host: "127.0.0.1", Port: capture.Port(), TLS: "none", HelloName: "mx.test"}
	defer r.Close()
	logs := &syncBuf{}
	w := outbound.NewWorker(outbound.WorkerConfig{Poll: 10 * time.Millisecond}, st, r,
		slog.New(slog.NewJSONHandler(logs, nil)), metrics.New())
	stop := runWorker(t, w)
	defer stop()
	capture.WaitFor(t, "the mail", func(m []smtpcapture.Mail) bool { return len(m) == 1 })
	poll.Until(t, 10*time.Second, "the attempt to be logged", func() bool {
		return strings.Contains(logs.String(), `"outcome":"sent"`)
	})
	stop()
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"outcome":"sent"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	reply, _ := line["reply"].(string)
	if !strings.HasPrefix(reply, "250 ") || line["outbox_id"] != "m1" || line["ticket"] != float64(1) ||
		line["rcpt"] != "a@x.example" || line["attempt"] != float64(1) {
		t.Fatalf("attempt line = %v", line)
	}
}
