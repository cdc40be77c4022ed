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

// Durability says when a commit counts as done: by default when Redis has run it (in memory,
// then to the AOF as appendfsync says); optionally only after replicas have it (WAIT) or
// after it is fsynced to the AOF (WAITAOF, Redis 7.2+).
type Durability struct {
	WaitReplicas int
	WaitAOF      bool
	Timeout      time.Duration
}

// ErrNotDurable means a commit ran but the waited-for copies did not confirm in time: the
// message is answered 451 and the MTA's retry is a harmless duplicate.
var ErrNotDurable = errors.New("write not confirmed durable in time")

func (d Durability) active() bool { return d.WaitAOF || d.WaitReplicas > 0 }

// CheckDurability reads what the server offers and returns a one-line account of the
// durability in force, or an error when the configured waits cannot work.
func (s *Store) CheckDurability(ctx context.Context) (string, error) {
	if s.dur.active() {
		if _, ok := s.rdb.(*redis.ClusterClient); ok {
			return "", errors.New("redis.wait_aof and redis.wait_replicas are not supported with a Redis Cluster URL")
		}
	}
	info, err := s.rdb.Info(ctx, "server", "persistence").Result()
	if err != nil {
		return "", fmt.Errorf("read redis info: %w", err)
	}
	field := func(k string) string {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), k+":"); ok {
				return v
			}
		}
		return ""
	}
	version := field("redis_version")
	fsync := "?"
	if v, err := s.rdb.ConfigGet(ctx, "appendfsync").Result(); err == nil {
		fsync = v["appendfsync"]
	}
	aof := field("aof_enabled") == "1"
	if s.dur.WaitAOF {
		if !versionAtLeast(version, 7, 2) {
			return "", fmt.Errorf("redis.wait_aof needs Redis 7.2 or later (WAITAOF); this server is %s: use appendfsync always instead", version)
		}
		if !aof {
			return "", errors.New("redis.wait_aof needs appendonly yes on the Redis server")
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "redis %s, appendonly=%v", version, aof)
	if aof {
		fmt.Fprintf(&b, " appendfsync=%s", fsync)
	}
	switch {
	case s.dur.WaitAOF:
		b.WriteString("; 250 only after the AOF fsync (WAITAOF)")
	case aof && fsync == "always":
		b.WriteString("; every write is fsynced before Redis answers")
	case aof:
		b.WriteString("; a power loss can lose about the last second of accepted mail")
	default:
		b.WriteString("; NO persistence: a Redis restart loses accepted mail")
	}
	if s.dur.WaitReplicas > 0 {
		fmt.Fprintf(&b, "; 250 only after %d replica(s) have the write (WAIT)", s.dur.WaitReplicas)
	}
	return b.String(), nil
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(parts[1])
	return ma > major || (ma == major && mi >= minor)
}

// runDurable runs the commit script and, on the same connection (a pipeline), the waits:
// WAIT and WAITAOF cover the earlier writes of their own connection only.
func (s *Store) runDurable(ctx context.Context, t *tx) ([]string, error) {
	keys, args := t.keys, t.args
	run := func(eval func(redis.Pipeliner) *redis.Cmd) ([]string, error) {
		pipe := s.rdb.Pipeline()
		t.writePre(ctx, pipe)
		res := eval(pipe)
		ms := s.dur.Timeout.Milliseconds()
		var wait, waitAOF *redis.Cmd
		if s.dur.WaitReplicas > 0 {
			wait = pipe.Do(ctx, "WAIT", s.dur.WaitReplicas, ms)
		}
		if s.dur.WaitAOF {
			waitAOF = pipe.Do(ctx, "WAITAOF", 1, 0, ms)
		}
		// Each command's own error is read below; Exec's is only the first of them.
		_, _ = pipe.Exec(ctx)
		out, err := res.StringSlice()
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[0] != "ok" {
			return out, nil // nothing was written: nothing to wait for
		}
		if wait != nil {
			n, err := wait.Int64()
			if err != nil {
				return nil, fmt.Errorf("%w: WAIT: %w", ErrNotDurable, err)
			}
			if n < int64(s.dur.WaitReplicas) {
				return nil, fmt.Errorf("%w: %d of %d replicas", ErrNotDurable, n, s.dur.WaitReplicas)
			}
		}
		if waitAOF != nil {
			v, err := waitAOF.Int64Slice()
			if err != nil {
				return nil, fmt.Errorf("%w: WAITAOF: %w", ErrNotDurable, err)
			}
			if len(v) == 0 || v[0] < 1 {
				return nil, fmt.Errorf("%w: AOF fsync not confirmed", ErrNotDurable)
			}
		}
		return out, nil
	}
	out, err := run(func(p redis.Pipeliner) *redis.Cmd { return commitScript.EvalSha(ctx, p, keys, args...) })
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		// The script cache is empty (Redis restarted): send the script itself this once.
		out, err = run(func(p redis.Pipeliner) *redis.Cmd { return commitScript.Eval(ctx, p, keys, args...) })
	}
	return out, err
}
