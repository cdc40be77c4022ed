package ingest

import (
	"context"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/threading"
)

// sentLookup is the part of the store that knows the texts of the mails we sent. A store
// without it (a test double) simply gives replies no exact cut.
type sentLookup interface {
	SentTexts(ctx context.Context, ticketID int64, ids []string) ([]string, error)
}

// quotedSent finds the texts of our own mails that a reply onto a ticket answers, so that the
// copies it quotes are removed exactly (threading.Action.Sent).
func (in *Ingester) quotedSent(ctx context.Context, msg *mail.Message, a threading.Action) (*threading.Sent, error) {
	if a.Kind != threading.Append || a.Ticket == nil {
		return nil, nil
	}
	sl, ok := in.st.(sentLookup)
	ids := threading.QuotedIDs(msg)
	if !ok || len(ids) == 0 {
		return nil, nil
	}
	texts, err := sl.SentTexts(ctx, a.Ticket.ID, ids)
	if err != nil || len(texts) == 0 {
		return nil, err
	}
	return &threading.Sent{Texts: texts}, nil
}

// sentTexts gives the text of each queued mail as a client will show it, to keep with the
// commit: the text the renderer wrote, read the way the parser reads text. A mail without one
// only loses its exact cut.
func sentTexts(ticketID int64, mails []store.Outgoing) []store.SentText {
	var out []store.SentText
	for _, o := range mails {
		text := mail.ShownText(o.Text)
		if o.MessageID == "" || text == "" {
			continue
		}
		out = append(out, store.SentText{MessageID: o.MessageID, TicketID: ticketID, Text: text})
	}
	return out
}
