package outbound

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailgate/mailgate/internal/logbuf"
	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

// verify checks raw's DKIM signatures against the record published for selector._domainkey.domain.
func verify(t *testing.T, raw []byte, name, record string) []*dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != name {
				return nil, errors.New("no such record: " + domain)
			}
			return []string{record}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestDKIMSignVerifies(t *testing.T) {
	raw, _, _, err := MustRenderer("mx.support.example", "Example Support").Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{"rsa", "ed25519"} {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateDKIMKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			record, err := DKIMRecord(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(record, "v=DKIM1; k="+alg+"; p=") {
				t.Fatalf("record = %q", record)
			}
			signed, err := NewDKIMSigner("example.com", "mg2026", key).Sign(raw)
			if err != nil {
				t.Fatal(err)
			}
			vs := verify(t, signed, "mg2026._domainkey.example.com", record)
			if len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.com" {
				t.Fatalf("verifications = %+v", vs)
			}
			head := string(signed[:bytes.Index(signed, []byte("\r\n\r\n"))])
			for _, want := range []string{"c=relaxed/relaxed", "from:from:", "subject", "message-id", "references", "in-reply-to"} {
				if !strings.Contains(strings.ToLower(strings.Join(strings.Fields(head), "")), want) {
					t.Errorf("signature does not have %q:\n%s", want, head)
				}
			}
			// A changed Subject breaks the signature: the header clients show is covered.
			tampered := bytes.Replace(signed, []byte("Subject: "), []byte("Subject: X"), 1)
			if vs := verify(t, tampered, "mg2026._domainkey.example.com", record); len(vs) != 1 || vs[0].Err == nil {
				t.Fatalf("tampered subject still verifies: %+v", vs)
			}
		})
	}
}

// capture is a transport that keeps what it was given.
type capture struct {
	mu   sync.Mutex
	raws [][]byte
}

func (c *capture) Send(_ context.Context, _, _ string, raw []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raws = append(c.raws, raw)
	return nil
}

func (c *capture) got() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.raws...)
}

func TestWorkerSignsBeforeTransport(t *testing.T) {
	ctx := context.Background()
	p := redistest.Prefix(t)
	st := store.New(redistest.Client(t, p), store.Options{KeyPrefix: p, FirstID: 1})
	raw, _, _, err := MustRenderer("mx.support.example", "Example Support").Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := &store.Commit{Dedupe: "dkim", New: true, Now: now,
		Ticket:  ticket.Ticket{ID: 7, Status: ticket.StatusNew, CreatedAt: now, UpdatedAt: now},
		Message: &ticket.Message{Text: "x"}, Raw: []byte("x"),
		Mails: []store.Outgoing{{ID: "m1", Kind: "ack", TicketID: 7, To: "alice@customer.example", Raw: raw}}}
	if _, err := st.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	key, _ := GenerateDKIMKey("ed25519")
	record, _ := DKIMRecord(key.Public())
	tr := &capture{}
	var logs logbuf.Buffer
	w := NewWorker(WorkerConfig{Poll: 10 * time.Millisecond, Sign: NewDKIMSigner("example.com", "s1", key).Sign},
		st, tr, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New())
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	poll.Until(t, 10*time.Second, "the mail to reach the transport", func() bool { return len(tr.got()) == 1 })
	cancel()
	<-done
	vs := verify(t, tr.got()[0], "s1._domainkey.example.com", record)
	if len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("mail handed to the transport does not verify: %+v", vs)
	}
	line := logs.String()
	for _, want := range []string{`msg="outbound delivery attempt"`, "outcome=sent", "outbox_id=m1", "kind=ack", "ticket=7", "rcpt=alice@customer.example"} {
		if !strings.Contains(line, want) {
			t.Errorf("delivery log lacks %q:\n%s", want, line)
		}
	}
}
