package store

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxGroup bounds how many callers share one pipeline: a larger batch only makes its last
// caller wait longer for the replies of the others.
const maxGroup = 64

// group sends the commands of concurrent callers to Redis in one pipeline (group commit).
// Redis spends much of its time per request outside the commands: reading the request,
// writing the reply and the append-only file, once per event-loop turn. Sessions that commit
// at the same moment share those costs, and so do the mailgate side's system calls.
//
// No goroutine runs in the background: the first caller to find the group idle leads. It sends
// its own commands and those of everyone who queued before it took the queue, hands each
// caller its replies, and passes the lead to the first caller that queued while it waited. A
// caller alone is sent at once: grouping never adds a wait, it only fills the time a pipeline
// is already in flight.
type group struct {
	rdb   redis.UniversalClient
	mu    sync.Mutex
	busy  bool
	queue []*groupCall
}

type groupCall struct {
	fill func(redis.Pipeliner)
	// lead is closed when this caller is to lead the next pipeline; done when its commands
	// have their replies (read them from the commands fill queued).
	lead, done chan struct{}
}

// do queues fill's commands and returns once their replies are in. The error is the
// pipeline's transport error, if any; each command's own result is on the command.
// The pipeline runs without the caller's cancellation: it carries other callers' writes,
// bounded by the client's read and write timeouts.
func (g *group) do(ctx context.Context, fill func(redis.Pipeliner)) {
	c := &groupCall{fill: fill, lead: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	if g.busy {
		g.queue = append(g.queue, c)
		g.mu.Unlock()
		select {
		case <-c.done:
			return
		case <-c.lead:
		}
		g.mu.Lock()
	}
	g.busy = true
	// The leader is not in the queue: it takes as many as the batch holds after itself.
	n := min(len(g.queue), maxGroup-1)
	batch := append([]*groupCall{c}, g.queue[:n]...)
	g.queue = g.queue[n:]
	g.mu.Unlock()

	pipe := g.rdb.Pipeline()
	for _, b := range batch {
		b.fill(pipe)
	}
	// Each command's own error is read by its caller; Exec's is only the first of them.
	_, _ = pipe.Exec(context.WithoutCancel(ctx))
	for _, b := range batch[1:] {
		close(b.done)
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		g.queue = g.queue[1:]
		close(next.lead)
	} else {
		g.busy = false
	}
	g.mu.Unlock()
}
