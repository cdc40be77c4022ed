package main

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) {
	redis.SetLogger(redisLogger{slog.New(slog.NewTextHandler(io.Discard, nil))})
	os.Exit(m.Run())
}
