package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
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
		{
			name: "quarantine show", args: "ID", nargs: 1, help: "one quarantined message (--raw: its bytes as received)",
			flags: func(fs *flag.FlagSet) any {
				return &quarantineShowOpts{json: jsonFlag(fs), raw: fs.Bool("raw", false, "print the message as received, nothing else")}
			},
			run: cmdQuarantineShow,
		},
		{
			name: "quarantine release", args: "ID", nargs: 1, help: "run a quarantined message through ingest again",
			run: cmdQuarantineRelease,
		},
		{
			name: "quarantine delete", args: "ID", nargs: 1, help: "delete a quarantined message",
			run: func(c *cmdEnv, _ any, pos []string) int {
				return c.withStore(func(st *store.Store) error {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := st.DeleteQuarantined(ctx, pos[0]); err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "quarantined message %s deleted\n", pos[0])
					return nil
				})
			},
		},
	}
}

type quarantineShowOpts struct {
	json, raw *bool
}

func cmdQuarantineShow(c *cmdEnv, o any, pos []string) int {
	opts := o.(*quarantineShowOpts)
	if *opts.json && *opts.raw {
		return usageErr(c.stderr, "--json and --raw exclude each other")
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q, err := st.QuarantinedMessage(ctx, pos[0])
		if err != nil {
			return err
		}
		switch {
		case *opts.raw:
			_, err := c.stdout.Write(q.Raw)
			return err
		case *opts.json:
			return writeJSON(c.stdout, q)
		}
		expires := "never (storage.keep_quarantine: 0)"
		if !q.ExpiresAt.IsZero() {
			expires = q.ExpiresAt.Format(time.RFC3339)
		}
		tw := table(c.stdout, "ID\t"+q.ID)
		fmt.Fprintf(tw, "RECEIVED\t%s\nENVELOPE FROM\t%s\nSIZE\t%d\nREASON\t%s\nEXPIRES\t%s\n",
			q.ReceivedAt.Format(time.RFC3339), q.EnvelopeFrom, q.Size, q.Reason, expires)
		return tw.Flush()
	})
}

// cmdQuarantineRelease delivers a quarantined message again with the configuration in force,
// as if it had just arrived from its envelope sender, and deletes it from the quarantine once
// it is handled (stored, threaded, or found a duplicate). A message that still cannot be parsed,
// or that would now be refused, stays in the quarantine.
func cmdQuarantineRelease(c *cmdEnv, _ any, pos []string) int {
	cfg, st, closeFn, err := c.ingestStore()
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	defer closeFn()
	err = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		q, err := st.QuarantinedMessage(ctx, pos[0])
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		ing, err := ingest.New(cfg, st, metrics.New(), log, nil)
		if err != nil {
			return err
		}
		res, err := ing.Release(ctx, q.EnvelopeFrom, q.Raw)
		if err != nil {
			return fmt.Errorf("release %s: %w (it stays in the quarantine)", q.ID, err)
		}
		if res.Reject {
			return fmt.Errorf("release %s: it would now be refused (%s: %s); it stays in the quarantine", q.ID, res.Reason, res.Detail)
		}
		if err := st.DeleteQuarantined(ctx, q.ID); err != nil {
			return err
		}
		if res.TicketID != 0 {
			fmt.Fprintf(c.stdout, "quarantined message %s released: %s %s\n", q.ID, res.Outcome, ticket.Tag(res.TicketID))
		} else {
			fmt.Fprintf(c.stdout, "quarantined message %s released: %s\n", q.ID, res.Outcome)
		}
		return nil
	}()
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// ingestStore opens the configuration and the store as serve does (raw retention and
// durability included), for a command that writes what an inbound message writes.
func (c *cmdEnv) ingestStore() (config.Config, *store.Store, func(), error) {
	var cfg config.Config
	var rdb redis.UniversalClient
	if c.cfgPath == "" {
		addr, err := os.ReadFile(devStoreFile)
		if err != nil {
			return cfg, nil, nil, errors.New("no --config given and no dev-mode daemon running here (start `mailgate serve` in this directory, or pass --config FILE)")
		}
		if cfg, err = config.DevFromEnv(c.environ); err != nil {
			return cfg, nil, nil, err
		}
		rdb = redis.NewClient(&redis.Options{Addr: strings.TrimSpace(string(addr))})
	} else {
		var err error
		if cfg, err = config.Load(c.cfgPath, c.environ); err != nil {
			return cfg, nil, nil, fmt.Errorf("%s: %w", c.cfgPath, err)
		}
		if rdb, err = store.Dial(cfg.Redis.URL); err != nil {
			return cfg, nil, nil, err
		}
	}
	st := store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID, KeepRaw: cfg.Storage.KeepRaw.D(),
		Durability: store.Durability{WaitReplicas: cfg.Redis.WaitReplicas, WaitAOF: cfg.Redis.WaitAOF, Timeout: cfg.Redis.WaitTimeout.D()}})
	return cfg, st, func() { rdb.Close() }, nil
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
