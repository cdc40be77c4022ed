package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/ticket"
)

// commitClasses returns the status classes of a commit, after and before. A writer that did
// not set them (older callers, tools) gets the built-in model's classes.
func commitClasses(c *Commit) (class, prev string) {
	class, prev = c.Ticket.StatusClass, c.PrevClass
	if class == "" {
		class = ticket.DefaultModel().Class(c.Ticket.Status)
	}
	if prev == "" && c.PrevStatus != "" {
		prev = ticket.DefaultModel().Class(c.PrevStatus)
	}
	return class, prev
}

// People returns the accounts of addrs that exist, in one round trip.
func (s *Store) People(ctx context.Context, addrs []string) (map[string]Account, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(addrs))
	for i, a := range addrs {
		cmds[i] = pipe.HGetAll(ctx, s.kAccount(a))
	}
	out := map[string]Account{}
	if len(addrs) == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	for i, c := range cmds {
		if v := c.Val(); len(v) > 0 {
			out[addrs[i]] = *decodeAccount(addrs[i], v)
		}
	}
	return out, nil
}

// notifyScript queues mails once per marker: KEYS[1] the marker, KEYS[2] the outbound
// stream; ARGV: marker TTL, then meta and raw per mail.
var notifyScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 'dup' end
for j = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[2], '*', 'meta', ARGV[j], 'raw', ARGV[j + 1])
end
return 'ok'`)

// Notify queues mails that belong to no ticket change (an error reply to an agent whose tag
// names no ticket), atomically and once per dedupe key: a retried delivery of the same
// message sends nothing twice (ErrDuplicate).
func (s *Store) Notify(ctx context.Context, dedupe string, mails []Outgoing, now time.Time) error {
	keys := []string{s.kDedupe(dedupe), s.kQueue()}
	args := []any{DedupeTTL.Milliseconds()}
	for _, m := range mails {
		meta := OutboxItem{ID: m.ID, Kind: m.Kind, TicketID: m.TicketID, To: m.To, EnvelopeFrom: m.EnvelopeFrom,
			Subject: m.Subject, CreatedAt: now, NextAttemptAt: now}
		mb, err := jsonString(meta)
		if err != nil {
			return err
		}
		args = append(args, mb, m.Raw)
	}
	res, err := notifyScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	if res == "dup" {
		return ErrDuplicate
	}
	return nil
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(b), nil
}
