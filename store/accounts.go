package store

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Account is a customer's support account (inbound rule 7, `mailgate account`).
type Account struct {
	Address      string    `json:"address"`
	Organization string    `json:"organization"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"created_at"`
}

func decodeAccount(addr string, v map[string]string) *Account {
	a := &Account{Address: addr, Organization: v["org"], Active: v["active"] == "1"}
	a.CreatedAt, _ = time.Parse(time.RFC3339, v["created_at"])
	return a
}

// AddAccount creates or re-activates an account.
func (s *Store) AddAccount(ctx context.Context, addr, org string, now time.Time) error {
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.kAccount(addr), "org", org, "active", "1")
	pipe.HSetNX(ctx, s.kAccount(addr), "created_at", now.UTC().Format(time.RFC3339))
	pipe.SAdd(ctx, s.kAccounts(), addr)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("add account %s: %w", addr, err)
	}
	return nil
}

// DisableAccount marks an account inactive.
func (s *Store) DisableAccount(ctx context.Context, addr string) error {
	n, err := s.rdb.Exists(ctx, s.kAccount(addr)).Result()
	if err != nil {
		return fmt.Errorf("disable account %s: %w", addr, err)
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", addr, ErrNotFound)
	}
	return s.rdb.HSet(ctx, s.kAccount(addr), "active", "0").Err()
}

// Accounts lists every account, sorted by address.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	addrs, err := s.rdb.SMembers(ctx, s.kAccounts()).Result()
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	sort.Strings(addrs)
	out := make([]Account, 0, len(addrs))
	for _, a := range addrs {
		v, err := s.rdb.HGetAll(ctx, s.kAccount(a)).Result()
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, *decodeAccount(a, v))
	}
	return out, nil
}
