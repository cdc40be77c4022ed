package outbound

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/store"
)

// Queue is what the worker needs of the store.
type Queue interface {
	Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.OutboxItem, error)
	Sent(ctx context.Context, ids ...string) error
	Retry(ctx context.Context, it *store.OutboxItem, next time.Time, errText string) error
	Dead(ctx context.Context, it *store.OutboxItem, now time.Time, errText string) error
	OutboxStats(ctx context.Context, now time.Time) (store.OutboxStats, error)
}

// WorkerConfig sets the worker's pace.
type WorkerConfig struct {
	MaxAge      time.Duration // outbound.max_age: then a dead letter
	Concurrency int
	Poll        time.Duration // how often to look for due mail when idle
	Lease       time.Duration // how long a claimed mail is ours before another process may take it
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// AutoCloseEvery is how often resolved tickets are checked for auto-close.
	AutoCloseEvery time.Duration
	// Sign, when set, signs each mail just before it is handed to the transport
	// (DKIMSigner.Sign); a retry signs again, so the signature's time is the send's.
	Sign func(raw []byte) ([]byte, error)
}

// Worker delivers queued mail. Several workers (in several processes) may share one queue.
type Worker struct {
	cfg   WorkerConfig
	q     Queue
	tr    Transport
	log   *slog.Logger
	m     *metrics.Metrics
	now   func() time.Time
	kick  chan struct{}
	batch int
}

const (
	// DefaultConcurrency is how many mails a worker sends at once.
	DefaultConcurrency = 16
	// ClaimPerSender sizes a claim: Concurrency×ClaimPerSender mails are leased per round
	// trip, which is also how many a killed process can leave to be sent again.
	ClaimPerSender = 4
)

// NewWorker returns a worker; zero fields of cfg get defaults.
func NewWorker(cfg WorkerConfig, q Queue, tr Transport, log *slog.Logger, m *metrics.Metrics) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.AutoCloseEvery <= 0 {
		cfg.AutoCloseEvery = time.Minute
	}
	return &Worker{cfg: cfg, q: q, tr: tr, log: log, m: m, now: time.Now,
		kick: make(chan struct{}, 1), batch: cfg.Concurrency * ClaimPerSender}
}

// Kick wakes the worker at once, e.g. after a commit queued mail.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then finishes the sends in flight and returns.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		n := w.once(ctx)
		w.gauges(ctx)
		if n > 0 && ctx.Err() == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// once claims a batch and delivers it; it returns how many mails it handled.
func (w *Worker) once(ctx context.Context) int {
	if ctx.Err() != nil {
		return 0
	}
	items, err := w.q.Claim(ctx, w.now(), w.cfg.Lease, w.batch)
	if err != nil {
		w.m.StoreErrors.Inc()
		w.log.Warn("claim outbound mail", "err", err)
		return 0
	}
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent []string
	// A send in flight finishes even when shutdown starts, within the relay timeout.
	dctx := context.WithoutCancel(ctx)
	// Mails of one ticket to one recipient go one after another in queue order, so that a
	// customer does not read an update before its acknowledgement; the rest goes in parallel
	// (an agents' address gets a notice per ticket and must not be served one at a time).
	for _, list := range byThread(items) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, it := range list {
				if w.deliver(dctx, it) {
					mu.Lock()
					sent = append(sent, it.ID)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := w.q.Sent(dctx, sent...); err != nil {
		// The leases run out and the mails go again: at least once, never lost.
		w.m.StoreErrors.Inc()
		w.log.Error("mark outbound mail sent", "err", err, "count", len(sent))
	}
	return len(items)
}

// byThread groups claimed mails by recipient and ticket, each group in the order the mails
// were queued (creation time: a retried mail keeps its place before newer ones).
func byThread(items []*store.OutboxItem) [][]*store.OutboxItem {
	type key struct {
		to     string
		ticket int64
	}
	idx := map[key]int{}
	var groups [][]*store.OutboxItem
	for _, it := range items {
		k := key{it.To, it.TicketID}
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], it)
	}
	for _, g := range groups {
		slices.SortStableFunc(g, func(a, b *store.OutboxItem) int { return a.CreatedAt.Compare(b.CreatedAt) })
	}
	return groups
}

// deliver sends one mail and reports whether it was delivered; failures are recorded here.
func (w *Worker) deliver(ctx context.Context, it *store.OutboxItem) bool {
	log := w.log.With("outbox_id", it.ID, "kind", it.Kind, "ticket", it.TicketID, "to", it.To)
	raw, err := w.sign(it.Raw)
	if err == nil {
		err = w.tr.Send(ctx, it.EnvelopeFrom, it.To, raw)
	}
	now := w.now()
	if err == nil {
		w.m.OutboundSent.WithLabelValues(it.Kind).Inc()
		// One line per mail delivered, as Postfix's status=sent, so that "did the customer
		// get the acknowledgement" is answered from the log.
		log.Info("outbound mail delivered", "attempts", it.Attempts+1, "size", len(raw))
		return true
	}
	w.m.OutboundFailed.Inc()
	switch {
	case IsPermanent(err) || now.Sub(it.CreatedAt) >= w.cfg.MaxAge:
		log.Warn("outbound mail dead-lettered", "err", err, "attempts", it.Attempts+1)
		if derr := w.q.Dead(ctx, it, now, err.Error()); derr != nil {
			w.m.StoreErrors.Inc()
			log.Error("dead-letter outbound mail", "err", derr)
		}
	default:
		next := now.Add(w.Backoff(it.Attempts))
		log.Info("outbound mail deferred", "err", err, "attempts", it.Attempts+1, "next", next)
		if rerr := w.q.Retry(ctx, it, next, err.Error()); rerr != nil {
			w.m.StoreErrors.Inc()
			log.Error("defer outbound mail", "err", rerr)
		}
	}
	return false
}

func (w *Worker) sign(raw []byte) ([]byte, error) {
	if w.cfg.Sign == nil {
		return raw, nil
	}
	return w.cfg.Sign(raw)
}

// Backoff is exponential from BaseBackoff, capped at MaxBackoff, with ±20% jitter so that
// mails deferred together do not come back together.
func (w *Worker) Backoff(attempts int) time.Duration {
	d := w.cfg.BaseBackoff
	for i := 0; i < attempts && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

func (w *Worker) gauges(ctx context.Context) {
	st, err := w.q.OutboxStats(ctx, w.now())
	if err != nil {
		return
	}
	w.m.QueueDepth.Set(float64(st.Depth))
	w.m.DeadLetters.Set(float64(st.Dead))
	w.m.OldestAge.Set(st.OldestAge.Seconds())
}
