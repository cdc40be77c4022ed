package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// failing is a transport that refuses every mail with a temporary error.
type failing struct {
	mu    sync.Mutex
	tries int
}

func (f *failing) Send(context.Context, string, string, []byte) error {
	f.mu.Lock()
	f.tries++
	f.mu.Unlock()
	return errors.New("421 relay busy")
}

func TestWorkerDeadLettersAfterMaxAge(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	st := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 1})
	now := time.Now()
	c := &store.Commit{Dedupe: "w", New: true, Now: now.Add(-2 * time.Hour),
		Ticket:  ticket.Ticket{ID: 1, Status: ticket.StatusNew, CreatedAt: now, UpdatedAt: now},
		Message: &ticket.Message{Text: "x"}, Raw: []byte("x"),
		Mails: []store.Outgoing{{ID: "old", Kind: "ack", To: "a@x.example", Raw: []byte("m")}}}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	tr := &failing{}
	m := metrics.New()
	w := outbound.NewWorker(outbound.WorkerConfig{MaxAge: time.Hour, Poll: 10 * time.Millisecond}, st, tr, slog.New(slog.NewTextHandler(io.Discard, nil)), m)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	var dead []*store.OutboxItem
	poll.Until(t, 10*time.Second, "a mail older than outbound.max_age to be dead-lettered", func() bool {
		dead, _ = st.ListOutbox(ctx, true, 10)
		return len(dead) == 1
	})
	if dead[0].LastError != "421 relay busy" {
		t.Fatalf("dead letter = %+v", dead[0])
	}
	cancel()
	<-done
	if tr.tries != 1 {
		t.Fatalf("tries = %d: past max_age one failure is final", tr.tries)
	}
}

// overlapping records the order of sends and how many to one recipient ran at once. Each send
// waits (bounded) for another send to the same recipient to start, so that a worker sending
// them concurrently is caught every time.
type overlapping struct {
	mu       sync.Mutex
	order    []string
	inflight map[string]int
	most     map[string]int           // the most sends to one recipient at once
	started  map[string]chan struct{} // per recipient: two concurrent sends meet here
}

func (o *overlapping) Send(_ context.Context, _, to string, raw []byte) error {
	o.mu.Lock()
	o.inflight[to]++
	o.most[to] = max(o.most[to], o.inflight[to])
	meet, ok := o.started[to]
	if !ok {
		meet = make(chan struct{})
		o.started[to] = meet
	}
	o.mu.Unlock()
	select {
	case meet <- struct{}{}:
	case <-meet:
	case <-time.After(100 * time.Millisecond):
	}
	o.mu.Lock()
	o.inflight[to]--
	o.order = append(o.order, string(raw))
	o.mu.Unlock()
	return nil
}

func TestWorkerKeepsThreadOrder(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	st := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 1})
	t0 := time.Now().Add(-time.Minute)
	tk := ticket.Ticket{ID: 1, Status: ticket.StatusNew, CreatedAt: t0, UpdatedAt: t0}
	// The acknowledgement, then an update of the same ticket to the same customer; notices of
	// two tickets to one agents' address, which may go in parallel.
	for i, m := range []store.Outgoing{
		{ID: "ack", Kind: "ack", TicketID: 1, To: "alice@x.example", Raw: []byte("ack")},
		{ID: "upd", Kind: "update", TicketID: 1, To: "alice@x.example", Raw: []byte("update")},
		{ID: "n2", Kind: "notice", TicketID: 2, To: "team@x.example", Raw: []byte("notice 2")},
		{ID: "n3", Kind: "notice", TicketID: 3, To: "team@x.example", Raw: []byte("notice 3")},
	} {
		c := &store.Commit{Dedupe: m.ID, New: i != 1, Now: t0.Add(time.Duration(i) * time.Second), Ticket: tk,
			Message: &ticket.Message{Text: "x"}, Raw: []byte("x"), Mails: []store.Outgoing{m}}
		c.Ticket.ID = m.TicketID
		if _, err := st.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			tk.Version++
		}
	}
	tr := &overlapping{inflight: map[string]int{}, most: map[string]int{}, started: map[string]chan struct{}{}}
	w := outbound.NewWorker(outbound.WorkerConfig{Poll: 10 * time.Millisecond}, st, tr, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New())
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	poll.Until(t, 10*time.Second, "all four mails sent", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return len(tr.order) == 4
	})
	cancel()
	<-done
	var alice []string
	for _, m := range tr.order {
		if m == "ack" || m == "update" {
			alice = append(alice, m)
		}
	}
	if tr.most["alice@x.example"] != 1 || alice[0] != "ack" || alice[1] != "update" {
		t.Fatalf("mails of one thread: order %v, %d at once; want ack then update, one at a time", alice, tr.most["alice@x.example"])
	}
	if tr.most["team@x.example"] != 2 {
		t.Fatalf("notices of two tickets to one address went one at a time (%d at once)", tr.most["team@x.example"])
	}
}

// gate lets the first n sends through and holds the rest until release is closed.
type gate struct {
	mu      sync.Mutex
	n, sent int
	release chan struct{}
}

func (g *gate) Send(ctx context.Context, _, _ string, _ []byte) error {
	g.mu.Lock()
	g.sent++
	hold := g.sent > g.n
	g.mu.Unlock()
	if hold {
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// TestWorkerMarksSentWhileSending: deliveries are marked sent in groups of SentEvery while
// the rest of the claim is still going out, so a process killed mid-claim leaves only those
// few to be sent again, not the whole claim.
func TestWorkerMarksSentWhileSending(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	st := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 1})
	now := time.Now()
	const total = 100
	c := &store.Commit{Dedupe: "many", New: true, Now: now,
		Ticket:  ticket.Ticket{ID: 1, Status: ticket.StatusNew, CreatedAt: now, UpdatedAt: now},
		Message: &ticket.Message{Text: "x"}, Raw: []byte("x")}
	for i := range total {
		c.Mails = append(c.Mails, store.Outgoing{ID: fmt.Sprint("m", i), Kind: "notice", TicketID: int64(i),
			To: fmt.Sprintf("agent%d@x.example", i), Raw: []byte("m")})
	}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	tr := &gate{n: outbound.SentEvery + 8, release: make(chan struct{})}
	w := outbound.NewWorker(outbound.WorkerConfig{Poll: 10 * time.Millisecond}, st, tr, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.New())
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	var once sync.Once
	release := func() { once.Do(func() { close(tr.release) }) }
	defer func() { release(); cancel(); <-done }()
	depth := func() int64 {
		s, err := st.OutboxStats(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s.Depth
	}
	poll.Until(t, 10*time.Second, "the first deliveries marked sent while the claim is held up", func() bool {
		return depth() <= total-outbound.SentEvery
	})
	release()
	poll.Until(t, 10*time.Second, "every mail sent and marked", func() bool { return depth() == 0 })
}
