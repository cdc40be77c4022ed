package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mailgate/mailgate/store"
)

// Dev mode runs the store on the embedded miniredis: its Lua must run the outbound and
// quarantine scripts as Redis does.
func TestScriptsRunOnEmbeddedStore(t *testing.T) {
	ctx := context.Background()
	st := embeddedStore(t, "dev:", 30001)
	c := newCommit(t, st, "e1", t0,
		store.Outgoing{ID: "m1", Kind: "ack", To: "a@x", MessageID: "<m1@mx>", Raw: []byte("one")},
		store.Outgoing{ID: "m2", Kind: "notice", To: "b@x", Raw: []byte("two")})
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := st.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("claim: %d, %v", len(got), err)
	}
	if lost, err := st.Renew(ctx, got, t0.Add(2*time.Minute)); err != nil || len(lost) != 0 {
		t.Fatalf("renew: %v, %v", lost, err)
	}
	if err := st.Sent(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := st.Retry(ctx, got[1], t0.Add(time.Hour), "421"); err != nil {
		t.Fatal(err)
	}
	got, _ = st.Claim(ctx, t0.Add(time.Hour), time.Minute, 10)
	if len(got) != 1 {
		t.Fatalf("claim after retry: %d", len(got))
	}
	if err := st.Dead(ctx, got[0], t0.Add(time.Hour), "550"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Lookup(ctx, store.LookupRequest{Dedupe: "e2", Refs: []string{"<m1@mx>"}, Sender: "a@x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Quarantine(ctx, store.Quarantined{ID: "q", ReceivedAt: t0, Raw: []byte("x"), Keep: time.Hour, NoticeCap: 1},
		[]store.Outgoing{{ID: "n", Kind: "notice", To: "team@x", Raw: []byte("n")}}); err != nil {
		t.Fatal(err)
	}
}
