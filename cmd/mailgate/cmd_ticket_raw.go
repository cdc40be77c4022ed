package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"path"
	"strings"
	"time"

	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// ticketRawCommands give back what was stored: the raw message as received, and the bytes of
// a kept attachment (the ticket keeps only its description; the bytes stay in the raw message).
func ticketRawCommands() []command {
	msgFlag := func(fs *flag.FlagSet) any {
		return fs.Int("message", 1, "the ticket's `K`th message (1 = the one that opened it)")
	}
	return []command{
		{
			name: "ticket raw", args: "N", nargs: 1, help: "print a message of ticket N as it was received",
			flags: msgFlag, run: cmdTicketRaw,
		},
		{
			name: "ticket attachment", args: "N FILE", nargs: 2,
			help:  "print the bytes of attachment FILE of ticket N (redirect to a file)",
			flags: msgFlag, run: cmdTicketAttachment,
		},
	}
}

// storedMessage loads message k (1-based) of ticket pos[0] and its raw bytes.
func storedMessage(ctx context.Context, st *store.Store, idArg string, k int) (*ticket.Message, []byte, error) {
	id, err := parseTicketID(idArg)
	if err != nil {
		return nil, nil, err
	}
	tk, err := st.Ticket(ctx, id, true)
	if err != nil {
		return nil, nil, fmt.Errorf("ticket %d: %w", id, err)
	}
	if k < 1 || k > len(tk.Messages) {
		return nil, nil, fmt.Errorf("ticket %d has %d message(s); --message %d is not one of them", id, len(tk.Messages), k)
	}
	m := &tk.Messages[k-1]
	if m.RawKey == "" {
		return m, nil, fmt.Errorf("ticket %d message %d has no stored raw message", id, k)
	}
	raw, err := st.Raw(ctx, m.RawKey)
	if err != nil {
		return m, nil, fmt.Errorf("ticket %d message %d: raw message not available (storage.keep_raw may have expired it): %w", id, k, err)
	}
	return m, raw, nil
}

func cmdTicketRaw(c *cmdEnv, o any, pos []string) int {
	k := *o.(*int)
	if _, err := parseTicketID(pos[0]); err != nil {
		return usageErr(c.stderr, err.Error())
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, raw, err := storedMessage(ctx, st, pos[0], k)
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(raw)
		return err
	})
}

func cmdTicketAttachment(c *cmdEnv, o any, pos []string) int {
	k := *o.(*int)
	if _, err := parseTicketID(pos[0]); err != nil {
		return usageErr(c.stderr, err.Error())
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, raw, err := storedMessage(ctx, st, pos[0], k)
		if m == nil {
			return err
		}
		var want *ticket.Attachment
		var names []string
		for i, a := range m.Attachments {
			names = append(names, a.Filename)
			if a.Filename == pos[1] {
				want = &m.Attachments[i]
			}
		}
		if want == nil {
			if len(names) == 0 {
				return fmt.Errorf("ticket %s message %d kept no attachment", pos[0], k)
			}
			return fmt.Errorf("no attachment %q in ticket %s message %d; there are: %s", pos[1], pos[0], k, strings.Join(names, ", "))
		}
		if err != nil {
			return err
		}
		data, err := attachmentBytes(raw, m.Attachments, want.SHA256)
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(data)
		return err
	})
}

// attachmentBytes parses raw again and returns the part whose SHA-256 is sum. The policy lets
// every file the ticket kept through, whatever the attachment settings are today.
func attachmentBytes(raw []byte, kept []ticket.Attachment, sum string) ([]byte, error) {
	var exts []string
	for _, a := range kept {
		exts = append(exts, strings.ToLower(path.Ext(a.Filename)))
	}
	m, err := mail.NewParser(mail.Policy{MaxFileBytes: math.MaxInt64, AllowedExtensions: exts}).Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse the stored message: %w", err)
	}
	for _, a := range m.Attachments {
		if a.SHA256 == sum {
			return a.Data, nil
		}
	}
	return nil, errors.New("the attachment was not found again in the stored message (its SHA-256 differs)")
}
