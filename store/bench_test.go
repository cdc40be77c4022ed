package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// scriptStats reads how many script calls Redis ran and the microseconds they took.
func scriptStats(b *testing.B, rdb redis.UniversalClient) (calls, usec float64) {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls += f
			case "usec":
				usec += f
			}
		}
	}
	return calls, usec
}

// BenchmarkCommit is the atomic write of one new ticket with its acknowledgement, against the
// real Redis of the test run. redis-µs/op is the time Redis spent in the commit scripts
// (INFO commandstats), which is what bounds every mailgate sharing that Redis: on a private
// redis-server it is this benchmark's alone.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	p := redistest.Prefix(b)
	rdb := redistest.Client(b, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001})
	ack := make([]byte, 2048)
	i := 0
	calls0, usec0 := scriptStats(b, rdb)
	defer func() {
		calls1, usec1 := scriptStats(b, rdb)
		if calls1 > calls0 {
			b.ReportMetric((usec1-usec0)/float64(b.N), "redis-µs/op")
		}
	}()
	for b.Loop() {
		i++
		id, err := st.NextID(ctx)
		if err != nil {
			b.Fatal(err)
		}
		c := newCommitID(fmt.Sprint("bench", i), id, store.Outgoing{ID: fmt.Sprint("o", i), Kind: "ack", To: "a@x.example", Raw: ack})
		if _, err := st.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// redisCPU reads the CPU time Redis's main thread has used, in microseconds (INFO cpu).
func redisCPU(b *testing.B, rdb redis.UniversalClient) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var us float64
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && (k == "used_cpu_user_main_thread" || k == "used_cpu_sys_main_thread") {
			f, _ := strconv.ParseFloat(v, 64)
			us += f * 1e6
		}
	}
	return us
}

// BenchmarkCommitNewTicket is the commit of `mailgate bench`'s workload: a new ticket from a
// new sender with a 2 KB message, its acknowledgement and one agent notice, and the texts
// of both kept for reply cutting. redis-cpu-µs/op is Redis's main thread (INFO cpu), which
// on a private redis-server is this benchmark's alone:
// REDIS_TEST_URL=redis://127.0.0.1:PORT/0 go test -run '^$' -bench CommitNewTicket ./store/
func BenchmarkCommitNewTicket(b *testing.B) {
	ctx := context.Background()
	p := redistest.Prefix(b)
	rdb := redistest.Client(b, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 30001})
	text := strings.Repeat("The printer on the third floor is on fire again. ", 36)
	raw := []byte(strings.Repeat("x", 2300))
	ack := []byte(strings.Repeat("a", 2300))
	notice := []byte(strings.Repeat("n", 6300))
	i := 0
	cpu0 := redisCPU(b, rdb)
	calls0, usec0 := scriptStats(b, rdb)
	defer func() {
		calls1, usec1 := scriptStats(b, rdb)
		if calls1 > calls0 {
			b.ReportMetric((usec1-usec0)/float64(b.N), "script-µs/op")
		}
		b.ReportMetric((redisCPU(b, rdb)-cpu0)/float64(b.N), "redis-cpu-µs/op")
	}()
	for b.Loop() {
		i++
		id, err := st.NextID(ctx)
		if err != nil {
			b.Fatal(err)
		}
		creator := fmt.Sprintf("user%d@customer%d.example", i, i%50)
		a := store.Outgoing{ID: fmt.Sprint("a", i), Kind: "ack", TicketID: id, To: creator, MessageID: fmt.Sprintf("<r%d.tid%d@mx.example>", i, id), Raw: ack, Text: text, CapLimit: 10}
		n := store.Outgoing{ID: fmt.Sprint("n", i), Kind: "notice", TicketID: id, To: "team@example.com", MessageID: fmt.Sprintf("<s%d.tid%d@mx.example>", i, id), Raw: notice, Text: text}
		c := newCommitID(fmt.Sprint("bench", i), id, a, n)
		c.Ticket.Creator, c.Ticket.Organization = creator, fmt.Sprintf("customer%d.example", i%50)
		c.Message.Text = text
		c.Raw = raw
		c.Sent = []store.SentText{{MessageID: a.MessageID, TicketID: id, Text: text}, {MessageID: n.MessageID, TicketID: id, Text: text}}
		if _, err := st.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
