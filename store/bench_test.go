package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mailgate/mailgate/store"
)

// BenchmarkCommit is the atomic write of one new ticket with its acknowledgement, against the
// real Redis of the test run.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	st := newStoreB(b)
	ack := make([]byte, 2048)
	i := 0
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
