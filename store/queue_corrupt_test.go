package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/store"
)

// An entry of the queue that is not a mail goes to the dead letters with its reason and raw
// bytes; the mails claimed with it are handed out all the same, and the next claim is clean.
func TestUndecodableEntryIsDeadLettered(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	p := store.KeyPrefix(st)
	if err := st.Client().XAdd(ctx, &redis.XAddArgs{Stream: p + "ob:queue", Values: []any{"meta", "{not json", "raw", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, newCommit(t, st, "good", t0, store.Outgoing{ID: "good1", Kind: "ack", To: "a@x", Raw: []byte("good")})); err != nil {
		t.Fatal(err)
	}
	got, err := st.Claim(ctx, time.Now(), time.Minute, 10)
	if !errors.Is(err, store.ErrCorruptEntry) {
		t.Fatalf("claim: %v, want ErrCorruptEntry", err)
	}
	if len(got) != 1 || got[0].ID != "good1" || string(got[0].Raw) != "good" {
		t.Fatalf("claimed %+v beside the undecodable entry, want good1", got)
	}
	dead, err := st.ListOutbox(ctx, true, 10)
	if err != nil || len(dead) != 1 || dead[0].Kind != "corrupt" || !strings.Contains(dead[0].LastError, "is not a mail") {
		t.Fatalf("dead letters = %+v, %v", dead, err)
	}
	if err := st.Requeue(ctx, dead[0].ID, time.Now()); !errors.Is(err, store.ErrNotAMail) {
		t.Fatalf("requeue of the damaged entry: %v, want ErrNotAMail", err)
	}
	if err := st.Sent(ctx, got...); err != nil {
		t.Fatal(err)
	}
	later, err := st.Claim(ctx, time.Now().Add(time.Hour), time.Minute, 10)
	if err != nil || len(later) != 0 {
		t.Fatalf("a later claim: %d mails, %v", len(later), err)
	}
}
