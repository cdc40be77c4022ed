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
