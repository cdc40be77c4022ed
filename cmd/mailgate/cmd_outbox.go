package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

func outboxCommands() []command {
	return []command{
		{
			name: "outbox list", help: "queued (or, with --dead, dead) outbound mail",
			flags: func(fs *flag.FlagSet) any {
				return &outboxListOpts{json: jsonFlag(fs), dead: fs.Bool("dead", false, "list dead letters"),
					limit: fs.Int64("limit", 1000, "at most `N` mails")}
			},
			run: cmdOutboxList,
		},
		{
			name: "outbox retry", args: "ID", nargs: 1, help: "send a dead letter again",
			run: func(c *cmdEnv, _ any, pos []string) int {
				return c.withStore(func(st *store.Store) error {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := st.Requeue(ctx, pos[0], time.Now().UTC()); err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "outbound mail %s queued again\n", pos[0])
					return nil
				})
			},
		},
	}
}

type outboxListOpts struct {
	json, dead *bool
	limit      *int64
}

func cmdOutboxList(c *cmdEnv, o any, _ []string) int {
	opts := o.(*outboxListOpts)
	if *opts.limit < 1 {
		return usageErr(c.stderr, "--limit takes a positive number")
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		items, err := st.ListOutbox(ctx, *opts.dead, *opts.limit)
		if err != nil {
			return err
		}
		c.noteCut(len(items), *opts.limit)
		if *opts.json {
			if items == nil {
				items = []*store.OutboxItem{}
			}
			return writeJSON(c.stdout, items)
		}
		tw := table(c.stdout, "ID\tKIND\tTICKET\tTO\tATTEMPTS\tLAST ERROR")
		for _, it := range items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.Kind, ticket.Tag(it.TicketID), it.To, it.Attempts, it.LastError)
		}
		return tw.Flush()
	})
}
