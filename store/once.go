package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// kOnce names the marker of a mail that goes out once per period (the digest of one day and
// queue); its own namespace, so it never meets a message's duplicate marker.
func (s *Store) kOnce(marker string) string { return s.p + "once:" + marker }

// Marked reports whether marker is set: the mails it guards were queued already.
func (s *Store) Marked(ctx context.Context, marker string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.kOnce(marker)).Result()
	if err != nil {
		return false, fmt.Errorf("read marker %s: %w", marker, err)
	}
	return n > 0, nil
}

// EnqueueOnce queues mails and sets marker (kept for ttl) in one transaction, unless marker is
// already set. Several processes may try at once: WATCH lets exactly one of them queue. It
// reports whether this call queued the mails.
func (s *Store) EnqueueOnce(ctx context.Context, marker string, ttl time.Duration, mails []Outgoing, now time.Time) (bool, error) {
	key := s.kOnce(marker)
	queued := false
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, key).Result()
		if err != nil || n > 0 {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, key, now.UnixMilli(), ttl)
			s.enqueue(ctx, pipe, now, mails)
			return nil
		})
		queued = err == nil
		return err
	}, key)
	if errors.Is(err, redis.TxFailedErr) {
		return false, nil // another process set the marker meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("queue mails once (%s): %w", marker, err)
	}
	return queued, nil
}
