package store

import (
	"context"
	"time"
)

// RemoveIdleConsumers runs the clean-up of the outbound queue's consumers now, with idle as
// the idle time that makes a consumer that holds nothing abandoned.
func (s *Store) RemoveIdleConsumers(ctx context.Context, idle time.Duration) ([]string, error) {
	return s.removeIdleConsumers(ctx, idle)
}
