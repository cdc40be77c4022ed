package outbound

import (
	"context"
	"errors"
	"fmt"
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
	// Sent, Retry and Dead change a mail only while the caller's lease holds; otherwise they
	// return an error matching store.ErrLeaseLost and change nothing.
	Sent(ctx context.Context, items ...*store.OutboxItem) error
	// Renew extends the leases still held and returns the IDs of those already lost.
	Renew(ctx context.Context, items []*store.OutboxItem, until time.Time) ([]string, error)
	Retry(ctx context.Context, it *store.OutboxItem, next time.Time, errText string) error
	Dead(ctx context.Context, it *store.OutboxItem, now time.Time, errText string) error
	OutboxStats(ctx context.Context, now time.Time) (store.OutboxStats, error)
	// Files reads stored files by SHA-256; a missing one is an error matching store.ErrFileGone.
	Files(ctx context.Context, shas []string) (map[string][]byte, error)
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
	// trip. A claim's senders wait for its last mail before the next claim (mails of one thread
	// go in order), so a small claim leaves senders idle at its tail: 4 per sender delivered
	// acknowledgements 3.8–4.0 s after their 250 at full ingest speed, 16 per sender 1.2–1.7 s.
	ClaimPerSender = 16
	// SentEvery is how many deliveries are marked sent at once while a claim is being sent:
	// what a killed process can leave to be sent again is about this plus what is in flight,
	// not the whole claim.
	SentEvery = 32
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
	switch {
	case errors.Is(err, store.ErrCorruptEntry):
		// Moved to the dead letters; the mails claimed with them go.
		w.log.Error("outbound queue entries that are not mail were dead-lettered", "err", err)
	case err != nil:
		w.m.StoreErrors.Inc()
		w.log.Warn("claim outbound mail", "err", err)
		if len(items) == 0 {
			return 0
		}
		// Claimed before the error: they are leased to us, send them.
	}
	if len(items) == 0 {
		return 0
	}
	// A send in flight finishes even when shutdown starts, within the relay timeout.
	dctx := context.WithoutCancel(ctx)
	b := newBatch(items)
	files := &batchFiles{q: w.q, m: map[string]*fileRead{}}
	stopRenew := w.renewWhileSending(dctx, b)
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	// Mails of one ticket to one recipient go one after another in queue order, so that a
	// customer does not read an update before its acknowledgement; the rest goes in parallel
	// (an agents' address gets a notice per ticket and must not be served one at a time).
	for _, list := range byThread(items) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, it := range list {
				if b.isLost(it.ID) {
					// Another process holds it now and sends it: sending here would double it.
					w.attemptLog(it, 0, "", nil, outcomeLeaseLost)
					continue
				}
				if w.deliver(dctx, it, files) {
					if ready := b.sent(it); ready != nil {
						w.markSent(dctx, ready)
					}
				} else {
					b.finished(it.ID)
				}
			}
		}()
	}
	wg.Wait()
	stopRenew()
	w.markSent(dctx, b.takeUnacked())
	return len(items)
}

// markSent records deliveries in the store.
func (w *Worker) markSent(ctx context.Context, items []*store.OutboxItem) {
	if len(items) == 0 {
		return
	}
	if err := w.q.Sent(ctx, items...); err != nil {
		var lost *store.LeaseLostError
		if errors.As(err, &lost) {
			// Delivered here after the lease ran out: the new holder may send it again.
			w.log.Warn("outbound mail delivered after its lease was lost; it may be sent twice", "outbox_ids", lost.IDs)
		} else {
			// The leases run out and the mails go again: at least once, never lost.
			w.m.StoreErrors.Inc()
			w.log.Error("mark outbound mail sent", "err", err, "count", len(items))
		}
	}
}

// batch tracks one claim: what was delivered, what is still held, which leases were lost.
type batch struct {
	mu   sync.Mutex
	all  []*store.OutboxItem
	done map[string]bool
	lost map[string]bool
	// unacked are delivered and not yet handed out to be marked sent.
	unacked []*store.OutboxItem
}

func newBatch(items []*store.OutboxItem) *batch {
	return &batch{all: items, done: map[string]bool{}, lost: map[string]bool{}}
}

// sent records a delivery; once SentEvery deliveries wait, it hands them out to be marked.
func (b *batch) sent(it *store.OutboxItem) []*store.OutboxItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done[it.ID] = true
	b.unacked = append(b.unacked, it)
	if len(b.unacked) < SentEvery {
		return nil
	}
	ready := b.unacked
	b.unacked = nil
	return ready
}

// takeUnacked hands out the deliveries not yet marked.
func (b *batch) takeUnacked() []*store.OutboxItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	ready := b.unacked
	b.unacked = nil
	return ready
}

func (b *batch) finished(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done[id] = true
}

func (b *batch) isLost(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lost[id]
}

// held lists the mails whose lease must still be kept: delivered ones too, until handed out
// to be marked sent.
func (b *batch) held() []*store.OutboxItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*store.OutboxItem
	for _, it := range b.all {
		if !b.lost[it.ID] && (!b.done[it.ID] || slices.Contains(b.unacked, it)) {
			out = append(out, it)
		}
	}
	return out
}

func (b *batch) markLost(ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		b.lost[id] = true
	}
}

// renewWhileSending extends the batch's leases every third of a lease until stop is called,
// so that a slow relay never lets another process claim mail this one is still sending.
func (w *Worker) renewWhileSending(ctx context.Context, b *batch) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(max(w.cfg.Lease/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			held := b.held()
			if len(held) == 0 {
				continue
			}
			lost, err := w.q.Renew(ctx, held, w.now().Add(w.cfg.Lease))
			if err != nil {
				w.m.StoreErrors.Inc()
				w.log.Warn("renew outbound leases", "err", err, "count", len(held))
				continue
			}
			if len(lost) > 0 {
				b.markLost(lost)
				w.log.Warn("outbound leases lost to another process", "outbox_ids", lost)
			}
		}
	}()
	return func() { close(done); <-finished }
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

// Outcomes of one delivery attempt, as logged.
const (
	outcomeSent      = "sent"
	outcomeDeferred  = "deferred"
	outcomeDead      = "dead"
	outcomeLeaseLost = "lease_lost"
)

// deliver sends one mail and reports whether it was delivered; failures are recorded here.
func (w *Worker) deliver(ctx context.Context, it *store.OutboxItem, files *batchFiles) bool {
	attempt := it.Attempts + 1
	actx, rep := withReply(ctx)
	raw, err := w.withFiles(ctx, it, files)
	if err == nil {
		raw, err = w.sign(raw)
	}
	if err == nil {
		err = w.tr.Send(actx, it.EnvelopeFrom, it.To, raw)
	}
	now := w.now()
	if err == nil {
		w.m.OutboundSent.WithLabelValues(it.Kind).Inc()
		w.attemptLog(it, attempt, rep.text(), nil, outcomeSent)
		return true
	}
	w.m.OutboundFailed.Inc()
	outcome, serr := outcomeDeferred, error(nil)
	if IsPermanent(err) || now.Sub(it.CreatedAt) >= w.cfg.MaxAge {
		outcome = outcomeDead
		serr = w.q.Dead(ctx, it, now, err.Error())
	} else {
		next := now.Add(w.Backoff(it.Attempts))
		serr = w.q.Retry(ctx, it, next, err.Error())
	}
	switch {
	case errors.Is(serr, store.ErrLeaseLost):
		// Another process holds the mail now; what it does stands.
		outcome = outcomeLeaseLost
	case serr != nil:
		w.m.StoreErrors.Inc()
		w.log.Error("record outbound attempt", "outbox_id", it.ID, "err", serr)
	}
	w.attemptLog(it, attempt, rep.text(), err, outcome)
	return false
}

// attemptLog writes the one line each delivery attempt leaves, whatever its outcome (attempt
// 0: skipped, the lease was lost before the mail's turn came).
func (w *Worker) attemptLog(it *store.OutboxItem, attempt int, reply string, err error, outcome string) {
	attrs := []any{"outbox_id", it.ID, "ticket", it.TicketID, "kind", it.Kind, "rcpt", it.To,
		"attempt", attempt, "outcome", outcome}
	if reply != "" {
		attrs = append(attrs, "reply", reply)
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	switch outcome {
	case outcomeDead, outcomeLeaseLost:
		level = slog.LevelWarn
	case outcomeDeferred:
		attrs = append(attrs, "next", it.NextAttemptAt)
	}
	w.log.Log(context.Background(), level, "outbound delivery attempt", attrs...)
}

// withFiles returns the mail with the stored files it references put back (store.FileRef).
// A file that is gone makes the mail a dead letter: sending it without the file, or with an
// empty one, would tell the recipient something that is not so.
func (w *Worker) withFiles(ctx context.Context, it *store.OutboxItem, bf *batchFiles) ([]byte, error) {
	if len(it.Files) == 0 {
		return it.Raw, nil
	}
	files, err := bf.get(ctx, it.Files)
	if errors.Is(err, store.ErrFileGone) {
		return nil, &PermanentError{Err: fmt.Errorf("an attachment of this mail is no longer stored (files are kept for outbound.max_age plus %gh): %w", FileMargin.Hours(), err)}
	}
	if err != nil {
		w.m.StoreErrors.Inc()
		return nil, err
	}
	raw, err := expandFiles(it.Raw, it.Files, files)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	return raw, nil
}

// batchFiles reads each stored file once for all the mails of one claim that carry it (the
// notices of one message to several addresses), and holds it until the claim is done.
type batchFiles struct {
	q  Queue
	mu sync.Mutex
	m  map[string]*fileRead
}

type fileRead struct {
	once sync.Once
	data []byte
	err  error
}

func (b *batchFiles) get(ctx context.Context, refs []store.FileRef) (map[string][]byte, error) {
	out := make(map[string][]byte, len(refs))
	for _, ref := range refs {
		b.mu.Lock()
		r := b.m[ref.SHA256]
		if r == nil {
			r = &fileRead{}
			b.m[ref.SHA256] = r
		}
		b.mu.Unlock()
		r.once.Do(func() {
			var files map[string][]byte
			files, r.err = b.q.Files(ctx, []string{ref.SHA256})
			r.data = files[ref.SHA256]
		})
		if r.err != nil {
			return nil, r.err
		}
		out[ref.SHA256] = r.data
	}
	return out, nil
}

// sign adds the DKIM signature when outbound.dkim is set.
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
