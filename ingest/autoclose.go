package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/threading"
	"github.com/mailgate/mailgate/ticket"
)

// AutoCloseStore is what the auto-close scheduler needs of the store.
type AutoCloseStore interface {
	ResolvedBefore(ctx context.Context, t time.Time, n int64) ([]int64, error)
	Ticket(ctx context.Context, id int64, messages bool) (*ticket.Ticket, error)
}

// AutoCloseOnce closes the tickets resolved longer than tickets.auto_close_after ago, with a mail
// to each creator. Several mailgate processes may run it at once on one Redis: each close is a
// commit conditional on the ticket's version, so exactly one of them closes each ticket.
func (in *Ingester) AutoCloseOnce(ctx context.Context, st AutoCloseStore) (closed int, err error) {
	r := in.rules.Load()
	after := r.cfg.Tickets.AutoCloseAfter.D()
	if after <= 0 {
		return 0, nil
	}
	now := in.now()
	ids, err := st.ResolvedBefore(ctx, now.Add(-after), 100)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		t, err := st.Ticket(ctx, id, false)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return closed, err
		}
		if r.policy.TicketModel().ClassOf(t) != ticket.ClassResolved {
			continue
		}
		c := threading.AutoClose(*t, r.policy, now)
		mails, err := r.render(c, "", nil, now)
		if err != nil {
			return closed, err
		}
		err = in.write(ctx, &store.Commit{
			Dedupe: fmt.Sprintf("autoclose:%d:%d", id, t.Version), Ticket: c.Ticket, PrevStatus: t.Status, Before: t,
			PrevClass: ticket.ClassResolved,
			Events:    c.Events, Mails: mails, Now: now,
		})
		switch {
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDuplicate):
			continue // another process closed it, or the ticket changed: its next run decides
		case err != nil:
			return closed, err
		}
		closed++
		in.log.Info("ticket auto-closed", "ticket", id)
	}
	if closed > 0 {
		in.kick()
	}
	return closed, nil
}

// RunAutoClose runs AutoCloseOnce every interval until ctx ends.
func (in *Ingester) RunAutoClose(ctx context.Context, st AutoCloseStore, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := in.AutoCloseOnce(ctx, st); err != nil && ctx.Err() == nil {
			in.m.StoreErrors.Inc()
			in.log.Warn("auto-close", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
