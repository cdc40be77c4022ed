package outbound_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// slowRelay holds every send until released, then answers err.
type slowRelay struct {
	mu      sync.Mutex
	sends   int
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	err     error
}

// newSlowRelay returns a relay released at the latest when the test ends, so that a failing
// test does not leave the worker blocked.
func newSlowRelay(t *testing.T, err error) *slowRelay {
	r := &slowRelay{entered: make(chan struct{}, 16), release: make(chan struct{}), err: err}
	t.Cleanup(r.open)
	return r
}

func (r *slowRelay) open() { r.once.Do(func() { close(r.release) }) }

func (r *slowRelay) Send(context.Context, string, string, []byte) error {
	r.mu.Lock()
	r.sends++
	r.mu.Unlock()
	r.entered <- struct{}{}
	<-r.release
	return r.err
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func queueOne(t *testing.T) (*store.Store, string) {
	t.Helper()
	p := redistest.Prefix(t)
	st := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 1})
	now := time.Now()
	c := &store.Commit{Dedupe: "lease", New: true, Now: now.Add(-time.Second),
		Ticket:  ticket.Ticket{ID: 1, Status: ticket.StatusNew, CreatedAt: now, UpdatedAt: now},
		Message: &ticket.Message{Text: "x"}, Raw: []byte("x"),
		Mails: []store.Outgoing{{ID: "m1", Kind: "ack", TicketID: 1, To: "a@x.example", Raw: []byte("mail")}}}
	if _, err := st.Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return st, p
}

func runWorker(t *testing.T, w *outbound.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// A relay slower than the lease: the worker renews the lease while it sends, so no other
// process may claim the mail and send it a second time.
func TestWorkerRenewsLeaseWhileSending(t *testing.T) {
	ctx := context.Background()
	st, p := queueOne(t)
	relay := newSlowRelay(t, nil)
	lease := 300 * time.Millisecond
	w := outbound.NewWorker(outbound.WorkerConfig{Lease: lease, Poll: 10 * time.Millisecond}, st, relay,
		slog.New(slog.NewTextHandler(&syncBuf{}, nil)), metrics.New())
	stop := runWorker(t, w)
	defer func() { relay.open(); stop() }()
	<-relay.entered
	// The lease started when the entry was last (re)claimed: Redis's clock minus its idle.
	start := func() time.Time {
		pe, err := st.Client().XPendingExt(ctx, &redis.XPendingExtArgs{Stream: p + "ob:queue", Group: "mailgate",
			Start: "-", End: "+", Count: 10}).Result()
		if err != nil || len(pe) != 1 {
			t.Fatalf("pending entries: %+v, %v", pe, err)
		}
		return time.Now().Add(-pe[0].Idle)
	}
	s0 := start()
	poll.Until(t, 10*time.Second, "the lease to be renewed while the relay is slow", func() bool {
		return start().After(s0.Add(40 * time.Millisecond))
	})
	// A second process whose clock has passed the first lease's end finds nothing to claim.
	if got, err := st.Claim(ctx, s0.Add(lease+20*time.Millisecond), lease, 10); err != nil || len(got) != 0 {
		t.Fatalf("a mail still being sent was claimed by another process: %d, %v", len(got), err)
	}
	relay.open()
	poll.Until(t, 10*time.Second, "the mail to be marked sent", func() bool {
		l, _ := st.ListOutbox(ctx, false, 10)
		return len(l) == 0
	})
	stop()
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.sends != 1 {
		t.Fatalf("%d sends, want 1", relay.sends)
	}
}

// The worker's lease runs out while the relay is slow; another process sends the mail and
// removes it. The first worker's late Retry must not bring the mail back.
func TestWorkerLateRetryDoesNotRecreateMail(t *testing.T) {
	ctx := context.Background()
	st, p := queueOne(t)
	relay := newSlowRelay(t, errors.New("421 4.4.2 timeout"))
	logs := &syncBuf{}
	w := outbound.NewWorker(outbound.WorkerConfig{Lease: time.Minute, Poll: 10 * time.Millisecond}, st, relay,
		slog.New(slog.NewTextHandler(logs, nil)), metrics.New())
	stop := runWorker(t, w)
	defer func() { relay.open(); stop() }()
	<-relay.entered
	// Another process, an hour later by its clock (the lease long gone), sends and removes it.
	second, err := st.Claim(ctx, time.Now().Add(time.Hour), time.Minute, 10)
	if err != nil || len(second) != 1 {
		t.Fatalf("second claim: %d, %v", len(second), err)
	}
	if err := st.Sent(ctx, second...); err != nil {
		t.Fatal(err)
	}
	relay.open()
	poll.Until(t, 10*time.Second, "the late attempt to be logged", func() bool {
		return strings.Contains(logs.String(), "outcome=lease_lost")
	})
	stop()
	for _, dead := range []bool{false, true} {
		if l, _ := st.ListOutbox(ctx, dead, 10); len(l) != 0 {
			t.Fatalf("the sent mail came back (dead letters: %v): %+v", dead, l[0])
		}
	}
	if n, _ := st.Client().Exists(ctx, p+"ob:m1").Result(); n != 0 {
		t.Fatal("the late Retry recreated the sent mail's record")
	}
	if w, _ := st.Client().HExists(ctx, p+"ob:wait", "m:m1").Result(); w {
		t.Fatal("the late Retry made the sent mail wait for another attempt")
	}
	if again, _ := st.Claim(ctx, time.Now().Add(3*time.Hour), time.Minute, 10); len(again) != 0 {
		t.Fatalf("the sent mail is due again: %+v", again[0])
	}
	if !strings.Contains(logs.String(), `rcpt=a@x.example`) || !strings.Contains(logs.String(), "attempt=1") {
		t.Fatalf("attempt log line lacks fields:\n%s", logs)
	}
}
