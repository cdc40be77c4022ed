package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// desk is a store on the test Redis and a configuration with a Paris desk's service levels.
type desk struct {
	t   *testing.T
	cfg config.Config
	st  *store.Store
	now time.Time
}

func newDesk(t *testing.T, mod func(*config.Config)) *desk {
	cfg := config.Default()
	cfg.Redis.URL = redistest.URL()
	cfg.Redis.KeyPrefix = redistest.Prefix(t)
	cfg.SMTP.Hostname = "mx.support.example"
	cfg.Support.Addresses = []string{"support@example.com"}
	cfg.Agents.Domains = []string{"example.com"}
	cfg.Agents.Notify = []string{"team@example.com"}
	cfg.SLA.Timezone = "Europe/Paris"
	cfg.SLA.BusinessHours = map[string]string{"mon-fri": "08:00-18:00"}
	cfg.SLA.Targets = map[string]config.SLATarget{"normal": {FirstResponse: "1h", Resolution: "4h"}, "urgent": {FirstResponse: "15m", Resolution: "1h"}}
	cfg.SLA.WarnBefore = config.Duration(20 * time.Minute)
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Client(t, cfg.Redis.KeyPrefix)
	return &desk{t: t, cfg: cfg, st: store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: 30001}),
		now: paris(t, "2026-11-23T10:00")}
}

func paris(t *testing.T, s string) time.Time {
	loc, _ := time.LoadLocation("Europe/Paris")
	v, err := time.ParseInLocation("2006-01-02T15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// process is one mailgate process's ingester on the desk's store, on the desk's clock.
func (d *desk) process() *Ingester {
	in, err := New(d.cfg, d.st, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		d.t.Fatal(err)
	}
	in.now = func() time.Time { return d.now }
	return in
}

func (d *desk) deliver(in *Ingester, from, subject, body string) {
	d.t.Helper()
	raw := fmt.Sprintf("From: %s\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n%s\r\n",
		from, subject, outbound.NewID(), body)
	res, err := in.Deliver(context.Background(), from, []byte(raw))
	if err != nil || res.Reject {
		d.t.Fatalf("deliver: %+v %v", res, err)
	}
}

// queued returns the queued mails of kind, as "to" strings.
func (d *desk) queued(kind string) []string {
	d.t.Helper()
	items, err := d.st.ListOutbox(context.Background(), false, 10000)
	if err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if it.Kind == kind {
			out = append(out, it.To)
		}
	}
	return out
}

func (d *desk) check(in *Ingester) int {
	d.t.Helper()
	n, err := in.SLACheckOnce(context.Background(), d.st)
	if err != nil {
		d.t.Fatal(err)
	}
	return n
}

func TestSLAWarningThenBreachOnce(t *testing.T) {
	d := newDesk(t, nil)
	p := d.process()
	d.deliver(p, "alice@customer.example", "Printer on fire", "It is on fire.")
	tk, _ := d.st.Ticket(context.Background(), 30001, false)
	if due, ok := tk.SLA.Due(sla.FirstResponse); !ok || !due.Equal(paris(t, "2026-11-23T11:00")) {
		t.Fatalf("first response due %v %v", due, ok)
	}
	if due, _ := tk.SLA.Due(sla.Resolution); !due.Equal(paris(t, "2026-11-23T14:00")) {
		t.Fatalf("resolution due %v", due)
	}
	d.now = paris(t, "2026-11-23T10:39")
	if n := d.check(p); n != 0 {
		t.Fatalf("%d mails before warn_before", n)
	}
	d.now = paris(t, "2026-11-23T10:40")
	d.check(p)
	d.check(p)
	if w := d.queued(outbound.KindSLAWarning); len(w) != 1 || w[0] != "team@example.com" {
		t.Fatalf("warnings %v, want one to the notify list", w)
	}
	if n := gauge(t, p, "mailgate_sla_at_risk", sla.FirstResponse); n != 1 {
		t.Fatalf("at risk (first response) = %v, want 1", n)
	}
	if n := gauge(t, p, "mailgate_sla_at_risk", sla.Resolution); n != 0 {
		t.Fatalf("at risk (resolution) = %v, want 0", n)
	}
	// The breach of first response: one mail, however many processes check at once.
	d.now = paris(t, "2026-11-23T11:00")
	procs := []*Ingester{p, d.process(), d.process(), d.process()}
	var wg sync.WaitGroup
	for _, in := range procs {
		for range 3 {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = in.SLACheckOnce(context.Background(), d.st) }()
		}
	}
	wg.Wait()
	if b := d.queued(outbound.KindSLABreach); len(b) != 1 {
		t.Fatalf("%d breach mails, want 1", len(b))
	}
	// A restarted process sends nothing again.
	if n := d.check(d.process()); n != 0 {
		t.Fatalf("a restarted process queued %d mails", n)
	}
	tk, _ = d.st.Ticket(context.Background(), 30001, false)
	if !sla.Has(tk.SLA.Breached, sla.FirstResponse) || len(tk.SLA.Breached) != 1 {
		t.Fatalf("breached = %v", tk.SLA.Breached)
	}
	if ids, _ := d.st.Breached(context.Background(), 10); len(ids) != 1 || ids[0] != 30001 {
		t.Fatalf("breached index = %v", ids)
	}
	// The agent answers and takes it: the resolution warning goes to the assignee only.
	d.now = paris(t, "2026-11-23T11:10")
	d.deliver(p, "bob@example.com", "Re: [#TID30001] Printer on fire", "#assign me\nOn my way.")
	tk, _ = d.st.Ticket(context.Background(), 30001, false)
	if _, ok := tk.SLA.Due(sla.FirstResponse); ok || !tk.SLA.FirstResponseAt.Equal(d.now) {
		t.Fatalf("first response not met: %+v", tk.SLA)
	}
	d.now = paris(t, "2026-11-23T13:45")
	d.check(p)
	if w := d.queued(outbound.KindSLAWarning); len(w) != 2 || w[1] != "bob@example.com" {
		t.Fatalf("warnings %v, want the second to the assignee", w)
	}
	// Resolved in time: nothing more, and the ticket leaves the breached list.
	d.deliver(p, "bob@example.com", "Re: [#TID30001] Printer on fire", "#status resolved\nDone.")
	d.now = paris(t, "2026-11-23T17:00")
	if n := d.check(p); n != 0 {
		t.Fatalf("%d mails after resolution", n)
	}
	if ids, _ := d.st.Breached(context.Background(), 10); len(ids) != 0 {
		t.Fatalf("a resolved ticket is still listed as breached: %v", ids)
	}
}

func TestSLAPauseAndPriorityChange(t *testing.T) {
	d := newDesk(t, nil)
	p := d.process()
	d.deliver(p, "alice@customer.example", "Question", "How do I?")
	// Waiting on the customer from 10:10 (the agent's reply also meets first response).
	d.now = paris(t, "2026-11-23T10:10")
	d.deliver(p, "bob@example.com", "Re: [#TID30001] Question", "#status waiting_on_customer\nWhich version?")
	d.now = paris(t, "2026-11-23T17:00")
	if n := d.check(p); n != 0 {
		t.Fatalf("%d mails while paused", n)
	}
	tk, _ := d.st.Ticket(context.Background(), 30001, false)
	if !tk.SLA.Paused || tk.SLA.ResolutionDue != nil {
		t.Fatalf("not paused: %+v", tk.SLA)
	}
	if ids, _ := d.st.DueBefore(context.Background(), paris(t, "2026-12-31T00:00"), 10); len(ids) != 0 {
		t.Fatalf("a paused ticket is due: %v", ids)
	}
	// The customer answers on Tuesday at 09:00: 3h50 left, due 12:50.
	d.now = paris(t, "2026-11-24T09:00")
	d.deliver(p, "alice@customer.example", "Re: [#TID30001] Question", "Version 2.")
	tk, _ = d.st.Ticket(context.Background(), 30001, false)
	if due, _ := tk.SLA.Due(sla.Resolution); tk.SLA.Paused || !due.Equal(paris(t, "2026-11-24T12:50")) {
		t.Fatalf("after the customer's reply: %+v", tk.SLA)
	}
	if ids, _ := d.st.DueBefore(context.Background(), paris(t, "2026-11-24T13:00"), 10); len(ids) != 1 {
		t.Fatalf("due before 13:00: %v", ids)
	}
	// Urgent now: 1 business hour from creation, 10 minutes used before the pause: 09:50.
	d.now = paris(t, "2026-11-24T09:05")
	d.deliver(p, "bob@example.com", "Re: [#TID30001] Question", "#priority urgent\nEscalating.")
	tk, _ = d.st.Ticket(context.Background(), 30001, false)
	if due, _ := tk.SLA.Due(sla.Resolution); !due.Equal(paris(t, "2026-11-24T09:50")) {
		t.Fatalf("after the priority change: %+v", tk.SLA)
	}
	d.now = paris(t, "2026-11-24T09:50")
	d.check(p)
	if b := d.queued(outbound.KindSLABreach); len(b) != 1 {
		t.Fatalf("breach mails after the priority change: %v", b)
	}
	tk, _ = d.st.Ticket(context.Background(), 30001, false)
	if !sla.Has(tk.SLA.Breached, sla.Resolution) {
		t.Fatalf("breached = %v", tk.SLA.Breached)
	}
	if !strings.Contains(fmt.Sprint(tk.SLA.Pauses), "2026-11-23 09:10:00 +0000 UTC") {
		t.Fatalf("pauses = %v", tk.SLA.Pauses)
	}
}

// gauge reads a gauge's value for one label value from the process's registry.
func gauge(t *testing.T, in *Ingester, name, label string) float64 {
	mfs, err := in.m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return 0
}

// The clocks take the ticket model's classes as plain strings: the two lists must agree.
func TestSLAClassesAreTheModels(t *testing.T) {
	for sc, tc := range map[string]string{sla.ClassNew: ticket.ClassNew, sla.ClassOpen: ticket.ClassOpen,
		sla.ClassWaitingCustomer: ticket.ClassWaitingCustomer, sla.ClassWaitingOther: ticket.ClassWaitingOther,
		sla.ClassResolved: ticket.ClassResolved, sla.ClassClosed: ticket.ClassClosed} {
		if sc != tc {
			t.Errorf("sla class %q, ticket model class %q", sc, tc)
		}
	}
}

// raws returns the raw bytes of the queued mails of kind.
func (d *desk) raws(kind string) []string {
	d.t.Helper()
	items, err := d.st.Claim(context.Background(), d.now.Add(1000*time.Hour), time.Millisecond, 10000)
	if err != nil {
		d.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if it.Kind == kind {
			out = append(out, string(it.Raw))
		}
	}
	return out
}

func TestDigestOncePerDayAndQueue(t *testing.T) {
	d := newDesk(t, func(c *config.Config) {
		c.SLA.Digest = "08:30"
		c.Support.Addresses = append(c.Support.Addresses, "billing@example.com")
		c.Agents.NotifyByQueue = map[string][]string{"billing@example.com": {"billing-team@example.com"}}
	})
	p := d.process()
	d.deliver(p, "alice@customer.example", "Slow printer", "A")
	d.now = paris(t, "2026-11-23T10:05")
	d.deliver(p, "bob@customer.example", "Server down", "B")
	d.deliver(p, "carol@example.com", "Re: [#TID30002] Server down", "#priority urgent\n#note\nurgent")
	d.now = paris(t, "2026-11-23T10:10")
	d.deliver(p, "dan@customer.example", "Question", "C")
	d.deliver(p, "carol@example.com", "Re: [#TID30003] Question", "#status waiting_on_customer\nWhich version?")
	d.now = paris(t, "2026-11-23T10:15")
	d.deliver(p, "erin@customer.example", "Thanks", "D")
	d.deliver(p, "carol@example.com", "Re: [#TID30004] Thanks", "#status resolved\nYou are welcome.")
	d.now = paris(t, "2026-11-23T10:30")
	d.check(p) // #TID30002's first response (15m) is breached

	d.now = paris(t, "2026-11-24T08:29")
	if n, err := p.DigestOnce(context.Background(), d.st); n != 0 || err != nil {
		t.Fatalf("digest before its time: %d %v", n, err)
	}
	d.now = paris(t, "2026-11-24T08:30")
	var wg sync.WaitGroup
	for _, in := range []*Ingester{p, d.process(), d.process()} {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = in.DigestOnce(context.Background(), d.st) }()
	}
	wg.Wait()
	d.now = paris(t, "2026-11-24T17:00")
	if n, _ := d.process().DigestOnce(context.Background(), d.st); n != 0 {
		t.Fatalf("a restarted process queued the day's digest again (%d)", n)
	}
	got := d.queued(outbound.KindDigest)
	if len(got) != 2 || !slicesHas(got, "team@example.com") || !slicesHas(got, "billing-team@example.com") {
		t.Fatalf("digests to %v, want one per queue's notify list", got)
	}
	var body string
	for _, r := range d.raws(outbound.KindDigest) {
		if strings.Contains(r, "To: <team@example.com>") {
			body = r
		}
	}
	i2, i1, i3 := strings.Index(body, "#TID30002"), strings.Index(body, "#TID30001"), strings.Index(body, "#TID30003")
	if i2 < 0 || i1 < 0 || i3 < 0 || !(i2 < i1 && i1 < i3) || strings.Contains(body, "#TID30004") {
		t.Fatalf("digest order: breached 30002 first, then 30001 by due time, then paused 30003; resolved 30004 absent:\n%s", body)
	}
	if !strings.Contains(body, "BREACHED: first_response") || !strings.Contains(body, "paused") {
		t.Fatalf("digest lines:\n%s", body)
	}
	// Saturday is closed: no digest.
	d.now = paris(t, "2026-11-28T09:00")
	if n, _ := p.DigestOnce(context.Background(), d.st); n != 0 {
		t.Fatalf("a digest on a closed day")
	}
}

func slicesHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
