package outbound_test

import (
	"context"
	"errors"
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
