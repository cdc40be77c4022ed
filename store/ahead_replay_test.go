package store_test

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/store"
)

// cutProxy relays Redis connections. Armed, it drops the connection that sent a script call
// instead of relaying the reply, once done(): the reply is lost after Redis ran the script, as
// when a read times out or the connection resets, and go-redis sends the pipeline again.
type cutProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int32
	done   func() bool
}

func startCutProxy(t *testing.T, target string, done func() bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, done: done}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.relay(t, c)
		}
	}()
	return p
}

func (p *cutProxy) relay(t *testing.T, c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	var script atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) {
					script.Store(true)
				}
				if _, err := s.Write(buf[:n]); err != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		s.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && script.Load() && p.armed.Load() {
			if !poll.Wait(5*time.Second, p.done) {
				t.Error("the script did not run")
			}
			p.armed.Store(false)
			p.cuts.Add(1)
			c.Close()
			s.Close()
			return
		}
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.Close()
	s.Close()
}

// replayStore is a store behind a proxy that loses the reply to the pipeline in which the
// duplicate marker dedupe is first set, once armed; go-redis then sends that pipeline again.
// The server is private: the proxy stands in front of one node, also when the suite runs
// against a Cluster. A first commit loads the commit script, so that the one under test runs
// at its first EVALSHA.
func replayStore(t *testing.T, dedupe string) (*store.Store, *cutProxy) {
	ctx := context.Background()
	srv := redistest.Start(t)
	p := redistest.Prefix(t)
	o, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(o)
	t.Cleanup(func() { direct.Close() })
	hp := store.HashTagged(p)
	proxy := startCutProxy(t, o.Addr, func() bool { return direct.Exists(ctx, hp+"dedupe:"+dedupe).Val() == 1 })
	viaProxy := *o
	viaProxy.Addr = proxy.ln.Addr().String()
	rdb := redis.NewClient(&viaProxy)
	t.Cleanup(func() { rdb.Close() })
	st := store.New(rdb, store.Options{KeyPrefix: p, FirstID: 1})
	if _, err := st.Commit(ctx, newCommit(t, st, "warm-up", t0)); err != nil {
		t.Fatal(err)
	}
	return st, proxy
}

// A commit whose reply is lost after Redis ran it is sent again by go-redis (a pipeline is
// retried on a read error or timeout). The second run finds its own marker: it must not delete
// what the first run committed, the texts of the mails it queued, and answers as that run did.
func TestReplayedCommitKeepsItsSentTexts(t *testing.T) {
	ctx := context.Background()
	st, proxy := replayStore(t, "replayed")
	c := newCommit(t, st, "replayed", t0, store.Outgoing{ID: "o1", Kind: "ack", To: "alice@customer.example",
		MessageID: "<ack-replayed@mx.example>", Raw: []byte("mail")})
	c.Sent = []store.SentText{{MessageID: "<ack-replayed@mx.example>", TicketID: c.Ticket.ID, Text: "Thank you for writing."}}
	proxy.armed.Store(true)
	_, err := st.Commit(ctx, c)
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d replies, want 1 (commit: %v)", proxy.cuts.Load(), err)
	}
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	// The first run committed: the ticket and its queued mail are there.
	if _, err := st.Ticket(ctx, c.Ticket.ID, false); err != nil {
		t.Fatal(err)
	}
	if items, _ := st.ListOutbox(ctx, false, 10); len(items) != 1 {
		t.Fatalf("%d mails queued, want 1", len(items))
	}
	got, err := st.SentTexts(ctx, c.Ticket.ID, []string{"<ack-replayed@mx.example>"})
	if err != nil || len(got) != 1 {
		t.Fatalf("the queued acknowledgement's text: %q, %v; the replay deleted it", got, err)
	}
}

// The replay answers as the first run did: a mail the first run held back by the hourly cap
// is reported held back (Capped), not taken for queued.
func TestReplayedCommitReportsItsCappedMails(t *testing.T) {
	ctx := context.Background()
	st, proxy := replayStore(t, "capped-replay")
	ack := func(id string) store.Outgoing {
		return store.Outgoing{ID: id, Kind: "ack", To: "alice@customer.example", Raw: []byte(id), CapLimit: 1}
	}
	c := newCommit(t, st, "capped-replay", t0, ack("a1"), ack("a2"))
	proxy.armed.Store(true)
	res, err := st.Commit(ctx, c)
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d replies, want 1 (commit: %v)", proxy.cuts.Load(), err)
	}
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	items, _ := st.ListOutbox(ctx, false, 10)
	if len(items) != 1 {
		t.Fatalf("%d mails queued, want 1 (a2 over the cap of 1)", len(items))
	}
	if len(res.Capped) != 1 || res.Capped[0] != "a2" {
		t.Fatalf("the replayed commit reports Capped=%v; a2 was held back by the cap and is not queued", res.Capped)
	}
}
