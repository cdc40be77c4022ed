package store_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// holdFirst is a go-redis hook that holds the first pipeline until release is closed, and
// counts the pipelines sent and the commands in each.
type holdFirst struct {
	release chan struct{}
	n       atomic.Int32
	mu      sync.Mutex
	sizes   []int
}

func (h *holdFirst) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *holdFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h *holdFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || cmds[0].Name() != "incr" {
			return next(ctx, cmds) // a new connection's HELLO and CLIENT SETINFO
		}
		if h.n.Add(1) == 1 {
			<-h.release
		}
		h.mu.Lock()
		h.sizes = append(h.sizes, len(cmds))
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestGroupSharesOnePipeline: callers that arrive while a pipeline is in flight go together in
// the next one, each gets its own replies (one of them an error), and none waits when alone.
func TestGroupSharesOnePipeline(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	h := &holdFirst{release: make(chan struct{})}
	rdb.AddHook(h)
	g := store.NewGroup(rdb)
	if err := rdb.Set(ctx, p+"str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	const n = 20
	got := make([]*redis.IntCmd, n)
	var wg sync.WaitGroup
	do := func(i int) {
		defer wg.Done()
		g.Do(ctx, func(pipe redis.Pipeliner) {
			if i == 7 {
				got[i] = pipe.Incr(ctx, p+"str") // not an integer: its own error only
				return
			}
			got[i] = pipe.Incr(ctx, p+"n"+strconv.Itoa(i))
		})
	}
	wg.Add(1)
	go do(0)
	// The first caller leads and is held in flight; the others queue behind it.
	poll.Until(t, 10*time.Second, "the first pipeline in flight", func() bool { return h.n.Load() == 1 })
	for i := 1; i < n; i++ {
		wg.Add(1)
		go do(i)
	}
	poll.Until(t, 10*time.Second, "every other caller queued", func() bool { _, q := g.State(); return q == n-1 })
	close(h.release)
	wg.Wait()

	if len(h.sizes) != 2 || h.sizes[0] != 1 || h.sizes[1] != n-1 {
		t.Fatalf("pipelines sent with %v commands, want [1 %d]", h.sizes, n-1)
	}
	for i, c := range got {
		if i == 7 {
			if c.Err() == nil {
				t.Errorf("caller 7: INCR of a string succeeded")
			}
			continue
		}
		if v, err := c.Result(); err != nil || v != 1 {
			t.Errorf("caller %d: %d, %v", i, v, err)
		}
	}
	if busy, q := g.State(); busy || q != 0 {
		t.Fatalf("group left busy=%v with %d queued", busy, q)
	}
}

// TestGroupBoundsABatch: no pipeline carries more than store.MaxGroup callers.
func TestGroupBoundsABatch(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	h := &holdFirst{release: make(chan struct{})}
	rdb.AddHook(h)
	g := store.NewGroup(rdb)
	n := 2*store.MaxGroup + 5
	var wg sync.WaitGroup
	var ok atomic.Int32
	do := func() {
		defer wg.Done()
		var c *redis.IntCmd
		g.Do(ctx, func(pipe redis.Pipeliner) { c = pipe.Incr(ctx, p+"n") })
		if c.Err() == nil {
			ok.Add(1)
		}
	}
	wg.Add(1)
	go do()
	poll.Until(t, 10*time.Second, "the first pipeline in flight", func() bool { return h.n.Load() == 1 })
	for i := 1; i < n; i++ {
		wg.Add(1)
		go do()
	}
	poll.Until(t, 10*time.Second, "every other caller queued", func() bool { _, q := g.State(); return q == n-1 })
	close(h.release)
	wg.Wait()
	if int(ok.Load()) != n {
		t.Fatalf("%d of %d callers got their reply", ok.Load(), n)
	}
	for _, s := range h.sizes {
		if s > store.MaxGroup {
			t.Fatalf("a pipeline carried %d callers (max %d): %v", s, store.MaxGroup, h.sizes)
		}
	}
	if v, _ := rdb.Get(ctx, p+"n").Int(); v != n {
		t.Fatalf("counter %d, want %d", v, n)
	}
}
