package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// fileCommit is a commit whose two mails reference one stored file.
func fileCommit(t *testing.T, st *store.Store, dedupe string, ttl time.Duration, data []byte) *store.Commit {
	refs := []store.FileRef{{At: 3, SHA256: "abc"}}
	c := newCommit(t, st, dedupe, t0,
		store.Outgoing{ID: dedupe + "1", Kind: "notice", To: "a@example.com", Raw: []byte("one"), Files: refs},
		store.Outgoing{ID: dedupe + "2", Kind: "notice", To: "b@example.com", Raw: []byte("two"), Files: refs})
	c.Files, c.FileTTL = []store.File{{SHA256: "abc", Data: data}}, ttl
	return c
}

func TestFileStoredOnceForTheMailsThatReferenceIt(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	data := bytes.Repeat([]byte("pdf"), 1000)
	if _, err := st.Commit(ctx, fileCommit(t, st, "f1", time.Hour, data)); err != nil {
		t.Fatal(err)
	}
	items, err := st.Claim(ctx, t0, time.Minute, 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("claim: %d, %v", len(items), err)
	}
	for _, it := range items {
		if len(it.Files) != 1 || it.Files[0] != (store.FileRef{At: 3, SHA256: "abc"}) || len(it.Raw) != 3 {
			t.Fatalf("queued mail %s: raw %q, files %+v", it.ID, it.Raw, it.Files)
		}
	}
	got, err := st.Files(ctx, []string{"abc", "abc"})
	if err != nil || !bytes.Equal(got["abc"], data) {
		t.Fatalf("files: %d bytes, %v", len(got["abc"]), err)
	}
	// A later message with the same file keeps the stored copy and extends its life.
	if _, err := st.Commit(ctx, fileCommit(t, st, "f2", 3*time.Hour, []byte("other bytes never stored"))); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, p+"file:abc").Val(); ttl <= 2*time.Hour {
		t.Fatalf("file lives %v after the second commit, want its 3h", ttl)
	}
	if got, _ := st.Files(ctx, []string{"abc"}); !bytes.Equal(got["abc"], data) {
		t.Fatal("the second commit replaced the stored file")
	}
	// Sent, the first message's mails let go of the file; the second's still hold it.
	if err := st.Sent(ctx, items...); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, p+"file:abc").Val(); n != 1 {
		t.Fatal("the file went while queued mails still reference it")
	}
	items, _ = st.Claim(ctx, t0, time.Minute, 10)
	if len(items) != 2 {
		t.Fatalf("claim the second message's mails: %d", len(items))
	}
	if err := st.Sent(ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, p+"file:abc").Val(); n != 1 {
		t.Fatal("the file went while a queued mail still references it")
	}
	if err := st.Sent(ctx, items[1]); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, p+"file:abc", p+"file:abc:refs").Val(); n != 0 {
		t.Fatalf("%d file keys left after the last mail carrying it was sent", n)
	}
	if _, err := st.Commit(ctx, fileCommit(t, st, "f3", time.Hour, data)); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, p+"file:abc")
	if _, err := st.Files(ctx, []string{"abc"}); !errors.Is(err, store.ErrFileGone) {
		t.Fatalf("missing file: %v, want ErrFileGone", err)
	}
}

// Dev mode's embedded store runs the same commands.
func TestFileStoredOnEmbeddedStore(t *testing.T) {
	ctx := context.Background()
	st := embeddedStore(t, "dev:", 1)
	if _, err := st.Commit(ctx, fileCommit(t, st, "e1", time.Hour, []byte("pdf"))); err != nil {
		t.Fatal(err)
	}
	got, err := st.Files(ctx, []string{"abc"})
	keys := st.Client().Keys(ctx, "*file:abc").Val()
	var ttl time.Duration
	if len(keys) == 1 {
		ttl = st.Client().PTTL(ctx, keys[0]).Val()
	}
	if err != nil || string(got["abc"]) != "pdf" || len(keys) != 1 || ttl != time.Hour {
		t.Fatalf("files %q, keys %v, %v", got["abc"], keys, err)
	}
}

// A file released between its write ahead of the commit and the commit script (or a write
// that failed) is found missing by the script: nothing of the message is written, its
// marker and the texts written for it are gone, and the caller decides again.
func TestCommitWithAMissingFileWritesNothing(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	store.LoseWritesAhead(st, "file:")
	c := fileCommit(t, st, "gone", time.Hour, []byte("pdf"))
	c.Sent = []store.SentText{{MessageID: "<s1@mx>", TicketID: c.Ticket.ID, Text: "text"}}
	if _, err := st.Commit(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit with its file gone: %v, want ErrConflict", err)
	}
	for _, k := range []string{"t:1", "dedupe:gone", "sent:<s1@mx>", "file:abc"} {
		if rdb.Exists(ctx, p+k).Val() != 0 {
			t.Errorf("%s exists after a commit that did not happen", k)
		}
	}
	if ks := redistest.Keys(t, rdb, store.HashTagged(p)+"raw:gone*"); len(ks) != 0 {
		t.Errorf("%v exist after a commit that did not happen", ks)
	}
	if items, _ := st.ListOutbox(ctx, false, 10); len(items) != 0 {
		t.Fatalf("queued %d mails", len(items))
	}
	// The next attempt, its file written, commits.
	st2 := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	if _, err := st2.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := st2.Files(ctx, []string{"abc"}); string(got["abc"]) != "pdf" {
		t.Fatalf("file after the retry: %q", got["abc"])
	}
}

// A duplicate found by the script (delivered twice at the same moment) leaves no text of
// its own mails behind.
func TestDuplicateCommitLeavesNoTexts(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	rdb := redistest.Client(t, p)
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	c := newCommit(t, st, "twice", t0)
	c.Sent = []store.SentText{{MessageID: "<first@mx>", TicketID: c.Ticket.ID, Text: "one"}}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	c2 := newCommitID("twice", c.Ticket.ID+1)
	c2.Sent = []store.SentText{{MessageID: "<second@mx>", TicketID: c2.Ticket.ID, Text: "two"}}
	if _, err := st.Commit(ctx, c2); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second commit: %v, want ErrDuplicate", err)
	}
	if rdb.Exists(ctx, p+"sent:<second@mx>").Val() != 0 || rdb.Exists(ctx, p+"sent:<first@mx>").Val() != 1 {
		t.Fatal("the duplicate's text was kept, or the first's lost")
	}
}
