package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// prevClass is the class of the status a change leaves: the model's, or, for a status the
// configuration no longer lists, the built-in model's.
func prevClass(m *ticket.Model, status string) string {
	return m.ClassOf(&ticket.Ticket{Status: status})
}

// openStatuses are the model's statuses whose class is neither resolved nor closed.
func openStatuses(m *ticket.Model) []string {
	var out []string
	for _, s := range m.Statuses() {
		if c := m.Class(s); c != sla.ClassResolved && c != sla.ClassClosed {
			out = append(out, s)
		}
	}
	return out
}

// clock brings the ticket's service-level record up to date with the change cm writes, so
// that the record and its indexes land in the same atomic step. It returns the business time
// to the first response when this change is that response, else -1.
func (in *Ingester) clock(cm *store.Commit) time.Duration {
	r := in.rules.Load()
	p, m := r.sla, r.policy.TicketModel()
	t := &cm.Ticket
	if p == nil || len(p.Targets) == 0 {
		return -1
	}
	prev := ""
	if cm.PrevStatus != "" {
		prev = prevClass(m, cm.PrevStatus)
	}
	ch := sla.Change{Now: cm.Now, Created: t.CreatedAt, Priority: t.Priority, PrevClass: prev, Class: m.ClassOf(t)}
	if m := cm.Message; m != nil && !m.Internal && !m.Auto {
		ch.CustomerReply = m.Role == ticket.RoleCustomer && !cm.New
		ch.AgentReply = m.Role == ticket.RoleAgent
	}
	answered := t.SLA != nil && !t.SLA.FirstResponseAt.IsZero()
	s := p.Next(t.SLA, ch)
	t.SLA = &s
	if !answered && !s.FirstResponseAt.IsZero() {
		return p.Elapsed(t.CreatedAt, s.FirstResponseAt, s.Pauses)
	}
	return -1
}

// SLAStore is what the service-level scheduler needs of the store.
type SLAStore interface {
	SLAPending(ctx context.Context, target string, t time.Time, n int64) ([]int64, error)
	AtRisk(ctx context.Context, now time.Time, warn time.Duration) (map[string]int64, error)
	Ticket(ctx context.Context, id int64, messages bool) (*ticket.Ticket, error)
}

// slaBatch bounds the tickets one check reads per target; the next check takes the rest.
const slaBatch = 500

// SLACheckOnce sends the warning and breach mails that are due. Several mailgate processes
// may run it at once on one Redis: each mail is queued by a commit conditional on the
// ticket's version that also records it on the ticket, so exactly one process queues it,
// and a process that dies before its commit leaves the work to the next check.
func (in *Ingester) SLACheckOnce(ctx context.Context, st SLAStore) (sent int, err error) {
	r := in.rules.Load()
	if r.sla == nil || len(r.sla.Targets) == 0 {
		return 0, nil
	}
	now := in.now()
	warn := r.cfg.SLA.WarnBefore.D()
	done := map[int64]bool{}
	for _, name := range sla.Names {
		ids, err := st.SLAPending(ctx, name, now.Add(warn), slaBatch)
		if err != nil {
			return sent, err
		}
		for _, id := range ids {
			if done[id] {
				continue
			}
			done[id] = true
			n, err := in.slaTicket(ctx, r, st, id, now)
			if err != nil {
				return sent, err
			}
			sent += n
		}
	}
	risk, err := st.AtRisk(ctx, now, warn)
	if err != nil {
		return sent, err
	}
	for name, n := range risk {
		in.m.SLAAtRisk.WithLabelValues(name).Set(float64(n))
	}
	if sent > 0 {
		in.kick()
	}
	return sent, nil
}

// slaTicket queues the ticket's due mails, if any, and records them on it.
func (in *Ingester) slaTicket(ctx context.Context, r *rules, st SLAStore, id int64, now time.Time) (int, error) {
	t, err := st.Ticket(ctx, id, false)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	class := r.policy.TicketModel().ClassOf(t)
	// Computed again with the configuration in force now (targets may have been reloaded).
	s := r.sla.Next(t.SLA, sla.Change{Now: now, Created: t.CreatedAt, Priority: t.Priority, PrevClass: class, Class: class})
	due := sla.Pending(&s, now, r.cfg.SLA.WarnBefore.D())
	if len(due) == 0 {
		if t.SLA != nil && sameDue(t.SLA, &s) {
			return 0, nil
		}
		// The reloaded targets moved the due times: re-index them so the scheduler does not read
		// this ticket again before its time.
		next := *t
		next.SLA = &s
		err := in.write(ctx, &store.Commit{Dedupe: fmt.Sprintf("sla:%d:v%d", id, t.Version), Ticket: next, PrevStatus: t.Status, Before: t, PrevClass: r.policy.TicketModel().ClassOf(t), Now: now})
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrDuplicate) {
			err = nil
		}
		return 0, err
	}
	sla.Record(&s, due)
	next := *t
	next.SLA = &s
	cm := &store.Commit{Ticket: next, PrevStatus: t.Status, Before: t, PrevClass: r.policy.TicketModel().ClassOf(t), Now: now}
	var keys []string
	for _, d := range due {
		keys = append(keys, d.Target+":"+d.Kind)
		cm.Events = append(cm.Events, ticket.Event{At: now, By: "mailgate", Kind: "sla_" + d.Kind, Detail: d.Target})
		mails, err := r.slaMails(&next, d, now)
		if err != nil {
			return 0, err
		}
		cm.Mails = append(cm.Mails, mails...)
	}
	// The marker names the ticket, targets and kinds: a second queuing of the same mails is
	// refused even if the ticket's record were lost.
	cm.Dedupe = fmt.Sprintf("sla:%d:%s", id, strings.Join(keys, ","))
	err = in.write(ctx, cm)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDuplicate):
		return 0, nil // another process sent them, or the ticket changed: the next check decides
	case err != nil:
		return 0, err
	}
	for _, d := range due {
		in.log.Info("service level", "ticket", id, "target", d.Target, "kind", d.Kind, "due", d.Due, "recipients", len(cm.Mails))
		if d.Kind == sla.Breach {
			in.m.SLABreaches.WithLabelValues(d.Target, t.Priority).Inc()
		}
	}
	return len(cm.Mails), nil
}

func sameDue(a, b *sla.State) bool {
	for _, name := range sla.Names {
		x, okx := a.Due(name)
		y, oky := b.Due(name)
		if okx != oky || !x.Equal(y) {
			return false
		}
	}
	return true
}

var targetNames = map[string]string{sla.FirstResponse: "first response", sla.Resolution: "resolution"}

// slaMails renders one warning or breach to the assignee, else to the queue's notify list.
func (r *rules) slaMails(t *ticket.Ticket, d sla.Mail, now time.Time) ([]store.Outgoing, error) {
	to := r.cfg.NotifyFor(t.Queue)
	if t.Assignee != "" {
		to = []string{t.Assignee}
	}
	kind, word := outbound.KindSLAWarning, "SLA warning"
	if d.Kind == sla.Breach {
		kind, word = outbound.KindSLABreach, "SLA breach"
	}
	loc := r.sla.Calendar.Location()
	v := outbound.SLAView{Tag: t.Tag, Subject: t.Subject, Queue: t.Queue, Status: t.Status, Priority: t.Priority,
		Assignee: t.Assignee, Target: d.Target, TargetName: targetNames[d.Target],
		Due: d.Due.In(loc).Format("Mon 2 Jan 2006 15:04 MST"), DueUTC: d.Due.UTC().Format(time.RFC3339),
		Link: r.policy.TicketModel().URL(t.ID)}
	if v.Tag == "" {
		v.Tag = ticket.Tag(t.ID)
	}
	subject := word + " (" + targetNames[d.Target] + "): " + ticket.OutboundSubject(t.ID, t.Subject)
	var out []store.Outgoing
	for _, a := range to {
		if r.cfg.IsSupport(a) {
			continue // mailing ourselves would loop
		}
		raw, mid, err := r.rend.RenderAgentMail(outbound.AgentMail{Kind: kind, To: a, Queue: t.Queue, Subject: subject,
			Ticket: t, Data: v, Now: now})
		if err != nil {
			return nil, err
		}
		out = append(out, store.Outgoing{ID: outbound.NewID(), Kind: kind, TicketID: t.ID, To: a, EnvelopeFrom: t.Queue,
			Subject: subject, MessageID: mid, Raw: raw})
	}
	return out, nil
}

// RunClocks runs the service-level check (and the digest and notice summaries) every
// sla.check_interval, read anew each round so that a reload applies, until ctx ends.
func (in *Ingester) RunClocks(ctx context.Context, st ClockStore) {
	for {
		if _, err := in.SLACheckOnce(ctx, st); err != nil && ctx.Err() == nil {
			in.m.StoreErrors.Inc()
			in.log.Warn("service-level check", "err", err)
		}
		if _, err := in.DigestOnce(ctx, st); err != nil && ctx.Err() == nil {
			in.m.StoreErrors.Inc()
			in.log.Warn("daily digest", "err", err)
		}
		if _, err := in.SummariesOnce(ctx, st); err != nil && ctx.Err() == nil {
			in.m.StoreErrors.Inc()
			in.log.Warn("notice summaries", "err", err)
		}
		wait := in.rules.Load().cfg.SLA.CheckInterval.D()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// ClockStore is everything the clock-driven jobs need of the store.
type ClockStore interface {
	SLAStore
	DigestStore
	BurstStore
}
