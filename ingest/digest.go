package ingest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// DigestStore is what the daily digest needs of the store.
type DigestStore interface {
	Marked(ctx context.Context, marker string) (bool, error)
	EnqueueOnce(ctx context.Context, marker string, ttl time.Duration, mails []store.Outgoing, now time.Time) (bool, error)
	ListTickets(ctx context.Context, status string, offset, limit int64) ([]*ticket.Ticket, error)
}

const (
	// digestLines bounds one digest; the rest is counted ("and N more").
	digestLines = 200
	// digestScan bounds the open tickets read per status.
	digestScan = 20000
	// digestMarkerTTL keeps a day's marker past any clock skew between processes.
	digestMarkerTTL = 72 * time.Hour
)

// DigestOnce queues the day's digest of each queue to its notify list, once sla.digest has
// passed on a business day in the desk's time zone. Each queue's digest is queued once per
// day whatever the number of processes and restarts (a marker set in the same transaction).
func (in *Ingester) DigestOnce(ctx context.Context, st DigestStore) (queued int, err error) {
	r := in.rules.Load()
	h, m, ok := r.cfg.DigestAt()
	if !ok || r.sla == nil {
		return 0, nil
	}
	cal := r.sla.Calendar
	now := in.now()
	local := now.In(cal.Location())
	at := time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, cal.Location())
	if now.Before(at) || !cal.Open(local) {
		return 0, nil
	}
	date := local.Format(time.DateOnly)
	var open []*ticket.Ticket
	loaded := false
	for _, q := range r.cfg.Support.Addresses {
		marker := "digest:" + date + ":" + q
		done, err := st.Marked(ctx, marker)
		if err != nil {
			return queued, err
		}
		if done {
			continue
		}
		if !loaded {
			if open, err = openTickets(ctx, r.policy.TicketModel(), st); err != nil {
				return queued, err
			}
			loaded = true
		}
		mails, err := r.digestMails(q, open, now, date)
		if err != nil {
			return queued, err
		}
		if len(mails) == 0 {
			continue // nobody to tell
		}
		ok, err := st.EnqueueOnce(ctx, marker, digestMarkerTTL, mails, now)
		if err != nil {
			return queued, err
		}
		if ok {
			queued += len(mails)
			in.log.Info("digest queued", "queue", q, "date", date, "recipients", len(mails))
		}
	}
	if queued > 0 {
		in.kick()
	}
	return queued, nil
}

// openTickets reads every ticket whose status is not of a resolved or closed class.
func openTickets(ctx context.Context, m *ticket.Model, st DigestStore) ([]*ticket.Ticket, error) {
	var out []*ticket.Ticket
	for _, s := range openStatuses(m) {
		ts, err := st.ListTickets(ctx, s, 0, digestScan)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// digestOrder sorts breached tickets first, then by the nearest due time, then those with no
// running clock, oldest first.
func digestOrder(ts []*ticket.Ticket) {
	type key struct {
		breached, hasDue bool
		due              time.Time
	}
	k := func(t *ticket.Ticket) key {
		if t.SLA == nil {
			return key{}
		}
		var out key
		out.breached = len(t.SLA.Breached) > 0
		for _, n := range sla.Names {
			if d, ok := t.SLA.Due(n); ok && (!out.hasDue || d.Before(out.due)) {
				out.due, out.hasDue = d, true
			}
		}
		return out
	}
	slices.SortStableFunc(ts, func(a, b *ticket.Ticket) int {
		ka, kb := k(a), k(b)
		switch {
		case ka.breached != kb.breached:
			return boolFirst(ka.breached)
		case ka.hasDue != kb.hasDue:
			return boolFirst(ka.hasDue)
		case ka.hasDue && !ka.due.Equal(kb.due):
			return ka.due.Compare(kb.due)
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
}

func boolFirst(a bool) int {
	if a {
		return -1
	}
	return 1
}

// digestMails renders queue's digest for each address of its notify list.
func (r *rules) digestMails(queue string, open []*ticket.Ticket, now time.Time, date string) ([]store.Outgoing, error) {
	var ts []*ticket.Ticket
	for _, t := range open {
		if t.Queue == queue {
			ts = append(ts, t)
		}
	}
	digestOrder(ts)
	loc := r.sla.Calendar.Location()
	v := outbound.DigestView{Queue: queue, Date: date}
	for i, t := range ts {
		if i == digestLines {
			v.More = len(ts) - i
			break
		}
		l := outbound.DigestLine{Tag: ticket.Tag(t.ID), Subject: t.Subject, Status: t.Status, Priority: t.Priority,
			Age: age(now.Sub(t.CreatedAt)), Link: r.policy.TicketModel().URL(t.ID)}
		if t.SLA != nil {
			l.Breached, l.Paused = t.SLA.Breached, t.SLA.Paused
			var first time.Time
			for _, n := range sla.Names {
				if d, ok := t.SLA.Due(n); ok && (first.IsZero() || d.Before(first)) {
					first = d
				}
			}
			if !first.IsZero() {
				l.Due = first.In(loc).Format("Mon 2 Jan 15:04 MST")
			}
		}
		v.Tickets = append(v.Tickets, l)
	}
	subject := fmt.Sprintf("Daily digest %s: %d open tickets in %s", date, len(ts), queue)
	var out []store.Outgoing
	for _, to := range r.cfg.NotifyFor(queue) {
		if r.cfg.IsSupport(to) {
			continue
		}
		raw, mid, err := r.rend.RenderAgentMail(outbound.AgentMail{Kind: outbound.KindDigest, To: to, Queue: queue,
			Subject: subject, Data: v, Now: now})
		if err != nil {
			return nil, err
		}
		out = append(out, store.Outgoing{ID: outbound.NewID(), Kind: outbound.KindDigest, To: to, EnvelopeFrom: queue,
			Subject: subject, MessageID: mid, Raw: raw})
	}
	return out, nil
}

// age says how old a ticket is in a word an agent reads at a glance: 45m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
