package main

import (
	"context"
	"fmt"
	"log/slog"
)

// redisLogger sends go-redis's own messages (reconnect attempts) to slog at debug level: the
// store errors that matter are logged, counted and answered 451 where they happen.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}
