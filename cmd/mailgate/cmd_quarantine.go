package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/mailgate/mailgate/store"
)

func quarantineCommands() []command {
	return []command{
		{
			name: "quarantine list", help: "messages that could not be parsed",
			flags: func(fs *flag.FlagSet) any {
				return &quarantineListOpts{json: jsonFlag(fs), limit: fs.Int64("limit", 1000, "at most `N` messages")}
			},
			run: cmdQuarantineList,
		},
	}
}

type quarantineListOpts struct {
	json  *bool
	limit *int64
}

func cmdQuarantineList(c *cmdEnv, o any, _ []string) int {
	opts := o.(*quarantineListOpts)
	if *opts.limit < 1 {
		return usageErr(c.stderr, "--limit takes a positive number")
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		qs, err := st.ListQuarantine(ctx, *opts.limit)
		if err != nil {
			return err
		}
		c.noteCut(len(qs), *opts.limit)
		if *opts.json {
			if qs == nil {
				qs = []store.Quarantined{}
			}
			return writeJSON(c.stdout, qs)
		}
		tw := table(c.stdout, "ID\tRECEIVED\tSIZE\tENVELOPE FROM\tREASON")
		for _, q := range qs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", q.ID, q.ReceivedAt.Format(time.RFC3339), q.Size, q.EnvelopeFrom, q.Reason)
		}
		return tw.Flush()
	})
}
