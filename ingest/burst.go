package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// BurstStore is what the notice summaries need of the store.
type BurstStore interface {
	BurstsDue(ctx context.Context, now time.Time) ([]store.BurstBatch, error)
	TakeBurst(ctx context.Context, b store.BurstBatch, mails []store.Outgoing, now time.Time) (bool, error)
	Ticket(ctx context.Context, id int64, messages bool) (*ticket.Ticket, error)
}

// SummariesOnce queues one summary per address and ended window of agents.notice_burst,
// listing every ticket whose notice was gathered. It runs even when notice_burst has been
// turned off since, so that what was gathered is still sent.
func (in *Ingester) SummariesOnce(ctx context.Context, st BurstStore) (queued int, err error) {
	r := in.rules.Load()
	now := in.now()
	batches, err := st.BurstsDue(ctx, now)
	if err != nil {
		return 0, err
	}
	for _, b := range batches {
		var mails []store.Outgoing
		if len(b.TicketIDs) > 0 {
			m, err := r.summaryMail(ctx, st, b, now)
			if err != nil {
				return queued, err
			}
			mails = append(mails, m)
		}
		ok, err := st.TakeBurst(ctx, b, mails, now)
		if err != nil {
			return queued, err
		}
		if ok && len(mails) > 0 {
			queued++
			in.log.Info("new-ticket notices summarised", "to", b.To, "tickets", len(b.TicketIDs), "window_start", b.Start)
		}
	}
	if queued > 0 {
		in.kick()
	}
	return queued, nil
}

func (r *rules) summaryMail(ctx context.Context, st BurstStore, b store.BurstBatch, now time.Time) (store.Outgoing, error) {
	v := outbound.SummaryView{Count: len(b.TicketIDs), Interval: b.End.Sub(b.Start).String()}
	from := r.cfg.Support.Addresses[0]
	for i, id := range b.TicketIDs {
		t, err := st.Ticket(ctx, id, false)
		if errors.Is(err, store.ErrNotFound) {
			v.Tickets = append(v.Tickets, outbound.SummaryLine{Tag: ticket.Tag(id), Subject: "(no longer stored)"})
			continue
		}
		if err != nil {
			return store.Outgoing{}, err
		}
		if i == 0 {
			from = t.Queue
		}
		v.Tickets = append(v.Tickets, outbound.SummaryLine{Tag: ticket.Tag(id), Subject: t.Subject, Queue: t.Queue,
			Creator: t.Creator, Link: r.policy.TicketModel().URL(id)})
	}
	subject := fmt.Sprintf("%d new tickets (notices gathered, %s-%s UTC)", len(b.TicketIDs), b.Start.Format("15:04:05"), b.End.Format("15:04:05"))
	raw, mid, err := r.rend.RenderAgentMail(outbound.AgentMail{Kind: outbound.KindNoticeSummary, To: b.To, Queue: from,
		Subject: subject, Data: v, Now: now})
	if err != nil {
		return store.Outgoing{}, err
	}
	return store.Outgoing{ID: outbound.NewID(), Kind: outbound.KindNoticeSummary, To: b.To, EnvelopeFrom: from,
		Subject: subject, MessageID: mid, Raw: raw}, nil
}
