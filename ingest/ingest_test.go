package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/reason"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/threading"
	"github.com/mailgate/mailgate/ticket"
)

// fakeStore is an ingest.Store whose answers and failures each test sets, as maddy's test
// delivery target does: every error path of ingest can be reached without breaking Redis.
type fakeStore struct {
	mu sync.Mutex
	// Tagged is what Lookup finds for a tag; its Version goes up on every lookup when
	// Changing is set (another process keeps writing the ticket).
	Tagged   *ticket.Ticket
	Changing bool
	// CommitErrs are returned by the first Commit calls, one each; then Commit succeeds.
	CommitErrs    []error
	LookupErr     error
	QuarantineErr error
	Capped        bool

	lookups, commits int
	committed        []*store.Commit
	quarantined      []store.Quarantined
	notices          [][]store.Outgoing
}

func (f *fakeStore) Ping(context.Context) error { return nil }

func (f *fakeStore) Lookup(_ context.Context, r store.LookupRequest) (store.Lookup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.LookupErr != nil {
		return store.Lookup{}, f.LookupErr
	}
	var lk store.Lookup
	if r.AllocateID {
		lk.NewID = 30001
	}
	if f.Tagged != nil && r.TagID == f.Tagged.ID {
		if f.Changing {
			f.Tagged.Version++
		}
		t := *f.Tagged
		lk.Tagged = &t
	}
	return lk, nil
}

func (f *fakeStore) NextID(context.Context) (int64, error) { return 30002, nil }

func (f *fakeStore) Commit(_ context.Context, c *store.Commit) (store.CommitResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commits++
	if len(f.CommitErrs) > 0 {
		err := f.CommitErrs[0]
		f.CommitErrs = f.CommitErrs[1:]
		return store.CommitResult{}, err
	}
	f.committed = append(f.committed, c)
	return store.CommitResult{}, nil
}

func (f *fakeStore) People(context.Context, []string) (map[string]store.Account, error) {
	return map[string]store.Account{}, nil
}

func (f *fakeStore) Notify(context.Context, string, []store.Outgoing, time.Time) error { return nil }

func (f *fakeStore) Quarantine(_ context.Context, q store.Quarantined, mails []store.Outgoing) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.QuarantineErr != nil {
		return false, f.QuarantineErr
	}
	f.quarantined = append(f.quarantined, q)
	f.notices = append(f.notices, mails)
	return f.Capped, nil
}

type harness struct {
	in    *Ingester
	st    *fakeStore
	kicks int
}

func newHarness(t *testing.T, st *fakeStore, mod func(*config.Config)) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.Redis.URL = "redis://127.0.0.1:6379/0"
	cfg.SMTP.Hostname = "mx.support.example"
	cfg.Support.Addresses = []string{"support@example.com"}
	cfg.Agents.Domains = []string{"example.com"}
	cfg.Agents.Notify = []string{"team@example.com", "lead@example.com"}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &harness{st: st}
	in, err := New(cfg, st, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), func() { h.kicks++ })
	if err != nil {
		t.Fatal(err)
	}
	h.in = in
	return h
}

func reply(subject string) []byte {
	return []byte(fmt.Sprintf("From: alice@customer.example\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <r-%s@customer.example>\r\n\r\nmore\r\n",
		subject, strings.ReplaceAll(subject, " ", "")))
}

func openTicket() *ticket.Ticket {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return &ticket.Ticket{ID: 30001, Queue: "support@example.com", Subject: "hi", Status: ticket.StatusOpen, Priority: "normal",
		Creator: "alice@customer.example", Followers: []string{"alice@customer.example"}, CreatedAt: at, UpdatedAt: at, Version: 1}
}

// The ticket changed between the read and the write: the message is decided again on the
// fresh ticket and written with the version read last.
func TestConflictDecidesAgain(t *testing.T) {
	st := &fakeStore{Tagged: openTicket(), Changing: true, CommitErrs: []error{store.ErrConflict, store.ErrConflict}}
	h := newHarness(t, st, nil)
	res, err := h.in.Deliver(context.Background(), "alice@customer.example", reply("Re: [#TID30001] hi"))
	if err != nil || res.Reject || res.Outcome != threading.OutcomeThreaded || res.TicketID != 30001 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if st.lookups != 3 || st.commits != 3 || len(st.committed) != 1 {
		t.Fatalf("lookups %d, commits %d (written %d); want 3, 3, 1", st.lookups, st.commits, len(st.committed))
	}
	if v := st.committed[0].Ticket.Version; v != st.Tagged.Version {
		t.Fatalf("written on version %d, the last read was %d", v, st.Tagged.Version)
	}
	if h.kicks != 1 {
		t.Fatalf("kicks = %d", h.kicks)
	}
}

// A ticket that never stops changing ends in a store error (451: the MTA retries), bounded.
func TestConflictsAreBounded(t *testing.T) {
	errs := make([]error, maxConflicts+5)
	for i := range errs {
		errs[i] = store.ErrConflict
	}
	st := &fakeStore{Tagged: openTicket(), Changing: true, CommitErrs: errs}
	h := newHarness(t, st, nil)
	if _, err := h.in.Deliver(context.Background(), "alice@customer.example", reply("Re: [#TID30001] hi")); err == nil {
		t.Fatal("no error after endless conflicts")
	}
	if st.commits != maxConflicts || h.kicks != 0 {
		t.Fatalf("commits %d (want %d), kicks %d", st.commits, maxConflicts, h.kicks)
	}
}

// Two copies of one message race: the lookup saw no marker, the write finds the other copy's.
// That is rule 6 (250, nothing new), not an error.
func TestDuplicateRace(t *testing.T) {
	st := &fakeStore{CommitErrs: []error{store.ErrDuplicate}}
	h := newHarness(t, st, nil)
	res, err := h.in.Deliver(context.Background(), "alice@customer.example", reply("Printer on fire"))
	if err != nil || res.Reject || res.Outcome != threading.OutcomeDuplicate {
		t.Fatalf("result %+v, %v; want a duplicate", res, err)
	}
	if st.commits != 1 || len(st.committed) != 0 || h.kicks != 0 {
		t.Fatalf("commits %d, written %d, kicks %d", st.commits, len(st.committed), h.kicks)
	}
}

// A store failure is an error (451), never a refusal.
func TestLookupErrorIsStoreError(t *testing.T) {
	boom := errors.New("READONLY")
	h := newHarness(t, &fakeStore{LookupErr: boom}, nil)
	res, err := h.in.Deliver(context.Background(), "alice@customer.example", reply("Printer on fire"))
	if !errors.Is(err, boom) || res.Reject {
		t.Fatalf("result %+v, %v; want the store's error", res, err)
	}
}

func deep() []byte {
	var b strings.Builder
	b.WriteString("From: alice@customer.example\r\nTo: support@example.com\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := range 40 {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	return []byte(b.String())
}

// An unparseable message is kept raw with the retention and cap in force, every notify
// address is told, and the sender gets 250.
func TestQuarantine(t *testing.T) {
	st := &fakeStore{}
	h := newHarness(t, st, func(c *config.Config) {
		c.Storage.KeepQuarantine = config.Duration(48 * time.Hour)
		c.Outbound.MaxAutoRepliesPerSenderPerHour = 3
	})
	raw := deep()
	res, err := h.in.Deliver(context.Background(), "bounce@customer.example", raw)
	if err != nil || res.Reject || res.Reason != reason.Quarantined {
		t.Fatalf("result %+v, %v", res, err)
	}
	if len(st.quarantined) != 1 {
		t.Fatalf("%d quarantined", len(st.quarantined))
	}
	q := st.quarantined[0]
	if string(q.Raw) != string(raw) || q.EnvelopeFrom != "bounce@customer.example" || q.Keep != 48*time.Hour || q.NoticeCap != 3 || q.Reason == "" {
		t.Fatalf("quarantined %+v", q)
	}
	var to []string
	for _, m := range st.notices[0] {
		to = append(to, m.To)
		if !strings.Contains(string(m.Raw), q.ID) {
			t.Errorf("notice to %s does not name the quarantine ID", m.To)
		}
	}
	if strings.Join(to, ",") != "team@example.com,lead@example.com" || h.kicks != 1 {
		t.Fatalf("notices to %v, kicks %d", to, h.kicks)
	}
	// The same bytes again get the same ID (one record, not two).
	if _, err := h.in.Deliver(context.Background(), "bounce@customer.example", raw); err != nil || st.quarantined[1].ID != q.ID {
		t.Fatalf("second copy: %v, id %s vs %s", err, st.quarantined[1].ID, q.ID)
	}
	// Over the cap: nothing queued, so no wake-up of the sender.
	st.Capped = true
	h.kicks = 0
	if _, err := h.in.Deliver(context.Background(), "bounce@customer.example", raw); err != nil || h.kicks != 0 {
		t.Fatalf("capped: %v, kicks %d", err, h.kicks)
	}
	// The store failing is a 451, never a lost message.
	st.QuarantineErr = errors.New("OOM")
	if _, err := h.in.Deliver(context.Background(), "bounce@customer.example", raw); err == nil {
		t.Fatal("a failed quarantine write was accepted")
	}
}

// Release does not quarantine again a message that still fails to parse.
func TestReleaseOfUnparseable(t *testing.T) {
	st := &fakeStore{}
	h := newHarness(t, st, nil)
	if _, err := h.in.Release(context.Background(), "bounce@customer.example", deep()); !errors.Is(err, ErrUnparseable) {
		t.Fatalf("release = %v, want ErrUnparseable", err)
	}
	if len(st.quarantined) != 0 || h.kicks != 0 {
		t.Fatal("release quarantined the message again")
	}
}
