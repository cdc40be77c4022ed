package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// A missing ref: key answers redis.Nil, which is expected; it must not hide the failure of
// another command of the same pipeline (here WRONGTYPE on the sender's account), or a store
// error would be decided as "no account" and refused for good instead of deferred.
func TestLookupReportsEachCommandsError(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	if err := rdb.Set(ctx, p+"acct:alice@customer.example", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "d", Refs: []string{"<nowhere@x>"}, Sender: "alice@customer.example"})
	if err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("Lookup = %v, want the WRONGTYPE error of the account read", err)
	}
	// A missing reference alone is not an error.
	if _, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "d", Refs: []string{"<nowhere@x>"}, Sender: "bob@customer.example"}); err != nil {
		t.Fatalf("Lookup with a missing reference: %v", err)
	}
}
