package main

import (
	"context"
	"flag"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

func accountCommands() []command {
	return []command{
		{
			name: "account add", args: "ADDRESS", nargs: 1, help: "create or re-activate an account",
			flags: func(fs *flag.FlagSet) any {
				return fs.String("org", "", "the account's `ORGANIZATION` (default: the address's domain)")
			},
			run: cmdAccountAdd,
		},
		{
			name: "account disable", args: "ADDRESS", nargs: 1, help: "disable an account",
			run: func(c *cmdEnv, _ any, pos []string) int {
				addr, err := accountAddress(pos[0])
				if err != nil {
					return usageErr(c.stderr, err.Error())
				}
				return c.withStore(func(st *store.Store) error {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := st.DisableAccount(ctx, addr); err != nil {
						return err
					}
					fmt.Fprintf(c.stdout, "account %s disabled\n", addr)
					return nil
				})
			},
		},
		{
			name: "account list", help: "every account, active or not",
			flags: func(fs *flag.FlagSet) any { return jsonFlag(fs) },
			run:   cmdAccountList,
		},
	}
}

// accountAddress accepts a bare addr-spec (no display name, no angle brackets) and returns
// it lower-cased, as identities are compared.
func accountAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) || !strings.Contains(a.Address, "@") {
		return "", fmt.Errorf("%q is not an email address (expected local@domain)", s)
	}
	return strings.ToLower(a.Address), nil
}

func cmdAccountAdd(c *cmdEnv, o any, pos []string) int {
	addr, err := accountAddress(pos[0])
	if err != nil {
		return usageErr(c.stderr, err.Error())
	}
	org := strings.TrimSpace(*o.(*string))
	if org == "" {
		org = ticket.Organization(addr)
	}
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.AddAccount(ctx, addr, org, time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "account %s active (organization %s)\n", addr, org)
		return nil
	})
}

func cmdAccountList(c *cmdEnv, o any, _ []string) int {
	asJSON := *o.(*bool)
	return c.withStore(func(st *store.Store) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		as, err := st.Accounts(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			if as == nil {
				as = []store.Account{}
			}
			return writeJSON(c.stdout, as)
		}
		tw := table(c.stdout, "ADDRESS\tORGANIZATION\tACTIVE")
		for _, x := range as {
			fmt.Fprintf(tw, "%s\t%s\t%v\n", x.Address, x.Organization, x.Active)
		}
		return tw.Flush()
	})
}
