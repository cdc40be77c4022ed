package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentText is the text of one mail we queued, kept by its Message-ID so that a reply quoting
// it can have that copy removed exactly.
type SentText struct {
	MessageID string
	TicketID  int64
	Text      string
}

// SentTTL is how long the text of a mail we sent is kept when storage.keep_raw keeps raw
// messages forever: replies come within days, and a reply to an older mail still has its
// quotes removed by the clients' markers.
const SentTTL = 180 * 24 * time.Hour

func (s *Store) kSent(msgid string) string { return s.p + "sent:" + msgid }

// sentOps adds the texts of the mails a commit queues to it: they are written ahead of the
// script under the mails' fresh Message-IDs, and the script keeps them with the mails or
// deletes them.
func (s *Store) sentOps(t *tx, sent []SentText) {
	ttl := SentTTL
	if s.keepRaw > 0 {
		ttl = s.keepRaw
	}
	for _, st := range sent {
		if st.MessageID == "" {
			continue
		}
		t.blob(true, "SET", s.kSent(st.MessageID), strconv.FormatInt(st.TicketID, 10)+"\n"+st.Text, "PX", ttl.Milliseconds())
	}
}

// SentTexts returns the texts of the mails among ids that we sent on ticket id, in the order
// of ids; Message-IDs that are not ours, or of another ticket, are skipped.
func (s *Store) SentTexts(ctx context.Context, id int64, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// One GET per key in a pipeline rather than MGET: in a cluster the keys share a slot
	// anyway, and a pipeline keeps that true for any prefix.
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, mid := range ids {
		cmds[i] = pipe.Get(ctx, s.kSent(mid))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read sent texts: %w", err)
	}
	var out []string
	want := strconv.FormatInt(id, 10)
	for _, c := range cmds {
		tid, text, ok := strings.Cut(c.Val(), "\n")
		if ok && tid == want {
			out = append(out, text)
		}
	}
	return out, nil
}
