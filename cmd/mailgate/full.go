package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// ticketShowOpts are the flags of `ticket show`.
type ticketShowOpts struct {
	json *bool
	// full prints each message whole: the stored text of a reply is the writer's words
	// without the history they quoted, the raw message keeps everything.
	full *bool
}

func ticketShowFlags(fs *flag.FlagSet) any {
	return &ticketShowOpts{
		json: jsonFlag(fs),
		full: fs.Bool("full", false, "print each message whole, with the history its writer quoted"),
	}
}

// fullTexts replaces the text of each message by the whole text of the mail as it was
// received, read from its raw bytes. A message whose raw bytes have expired
// (storage.keep_raw) keeps its stored text, with a note saying so.
func fullTexts(ctx context.Context, st *store.Store, t *ticket.Ticket) error {
	p := mail.NewParser(mail.Policy{})
	for i := range t.Messages {
		m := &t.Messages[i]
		if m.RawKey == "" {
			continue
		}
		raw, err := st.Raw(ctx, m.RawKey)
		if errors.Is(err, store.ErrNotFound) {
			m.Text += "\n[the whole message is no longer kept (storage.keep_raw); this is its stored text]"
			continue
		}
		if err != nil {
			return err
		}
		pm, err := p.Parse(raw)
		if err != nil {
			return fmt.Errorf("message %s: %w", m.MessageID, err)
		}
		m.Text = pm.Text
	}
	return nil
}
