// Package redistest gives each test its own key prefix on a real Redis server, and can start
// a private redis-server for tests that stop or restart it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/store"
)

// URL is the Redis the tests use: $REDIS_TEST_URL, else the local default.
func URL() string {
	if u := os.Getenv("REDIS_TEST_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Prefix returns a key prefix no other test uses, hash-tagged so that all of a test's keys
// share one Redis Cluster slot.
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "{mgtest:" + hex.EncodeToString(b[:]) + "}:"
}

// Client connects to URL and deletes the test's keys (prefix) when it ends. A test run with no
// Redis fails: the storage tests are never skipped, .ci/run provides the server.
func Client(t testing.TB, prefix string) redis.UniversalClient {
	t.Helper()
	rdb, err := store.Dial(URL())
	if err != nil {
		t.Fatalf("REDIS_TEST_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("no Redis at %s (run the tests through .ci/run, or start redis-server): %v", URL(), err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if cc, ok := rdb.(*redis.ClusterClient); ok {
			_ = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				deleteMatching(ctx, c, prefix)
				return nil
			})
		} else {
			deleteMatching(ctx, rdb, prefix)
		}
		rdb.Close()
	})
	return rdb
}

// Keys lists the keys that match a glob pattern, on every primary of a Cluster.
func Keys(t testing.TB, rdb redis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	var mu sync.Mutex
	scan := func(ctx context.Context, c redis.Cmdable) error {
		keys, err := scanAll(ctx, c, pattern)
		mu.Lock()
		out = append(out, keys...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		t.Fatalf("scan %s: %v", pattern, err)
	}
	return out
}

func scanAll(ctx context.Context, rdb redis.Cmdable, pattern string) ([]string, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

func deleteMatching(ctx context.Context, rdb redis.Cmdable, prefix string) {
	// Braces are literal in Redis glob patterns; only *?[]\ need escaping.
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			rdb.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

// Server is a private redis-server on a free loopback port.
type Server struct {
	Addr string
	bin  string
	args []string
	cmd  *exec.Cmd
}

// Start starts a private redis-server (no persistence unless args say otherwise; args are
// extra redis-server options) and stops it when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed: %v", err)
	}
	port := FreePort(t)
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)
	s.bin = bin
	s.start(t)
	t.Cleanup(func() { s.Stop() })
	return s
}

// Restart starts the server again on the same port and directory (after Stop or Kill), with
// extra options added (e.g. --replicaof for a failed primary coming back).
func (s *Server) Restart(t testing.TB, extra ...string) {
	t.Helper()
	s.args = append(s.args, extra...)
	s.start(t)
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(s.bin, s.args...)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "redis-server on "+s.Addr, func() bool {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Kill is kill -9: no shutdown, no flush.
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Port is the server's port.
func (s *Server) Port() string { _, p, _ := net.SplitHostPort(s.Addr); return p }

// Stop shuts the server down cleanly (SIGTERM: Redis flushes its AOF first).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedURL is a Redis URL on which nothing listens: every command fails (rule 3 tests).
func ClosedURL(t testing.TB) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0", FreePort(t))
}
