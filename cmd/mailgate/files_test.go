package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jhillyerd/enmime/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
)

var notify3 = []string{"team1@example.com", "team2@example.com", "team3@example.com"}

// pdf returns n random bytes that pass for a PDF.
func pdf(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	copy(b, "%PDF-1.7\n")
	return b
}

// withFiles builds a customer's message carrying files as PDF attachments.
func withFiles(from, subject string, files ...[]byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: support@example.com\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n"+
		"Message-ID: <%s@client.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain\r\n\r\nThe files.\r\n", from, subject, outbound.NewID())
	for i, f := range files {
		fmt.Fprintf(&b, "--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=file%d.pdf\r\n"+
			"Content-Transfer-Encoding: base64\r\n\r\n", i)
		enc := base64.StdEncoding.EncodeToString(f)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.String()
}

// attachments parses a delivered mail and returns its attachments' bytes, in order.
func attachments(t *testing.T, m smtpcapture.Mail) [][]byte {
	t.Helper()
	env, err := enmime.ReadEnvelope(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("mail to %v does not parse: %v", m.To, err)
	}
	var out [][]byte
	for _, a := range env.Attachments {
		out = append(out, a.Content)
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// queued waits until n mails are queued and returns the raw text of each.
func (e *env) queuedRaw(rdb redis.UniversalClient, n int) []string {
	e.t.Helper()
	var raws []string
	eventually(e.t, fmt.Sprintf("%d mails queued", n), func() bool {
		// Queued mails are entries of the stream, or wait for their next attempt (the relay
		// refused them) in a hash, one r:<id> field each; a script moves them atomically.
		pipe := rdb.TxPipeline()
		q := pipe.XRange(context.Background(), e.cfg.Redis.KeyPrefix+"ob:queue", "-", "+")
		w := pipe.HGetAll(context.Background(), e.cfg.Redis.KeyPrefix+"ob:wait")
		if _, err := pipe.Exec(context.Background()); err != nil {
			return false
		}
		raws = raws[:0]
		for _, en := range q.Val() {
			raw, _ := en.Values["raw"].(string)
			raws = append(raws, raw)
		}
		for k, v := range w.Val() {
			if strings.HasPrefix(k, "r:") {
				raws = append(raws, v)
			}
		}
		return len(raws) >= n
	})
	return raws
}

func TestAttachmentsStoredOnceReachEveryNotice(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Agents.Notify = notify3 })
	rdb := redistest.Client(t, e.cfg.Redis.KeyPrefix)
	// Held back at the relay first, to look at what is queued.
	e.relay.Fail(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not now"})
	big1, big2, small := pdf(300_000), pdf(outbound.FileRefMin+1), pdf(2000)
	if r := send(t, e.d.SMTPAddr, "carol@customer.example", []string{"support@example.com"},
		withFiles("carol@customer.example", "scans", big1, big2, small)); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	raws := e.queuedRaw(rdb, 4)
	for _, raw := range raws {
		if len(raw) > 100_000 {
			t.Fatalf("a queued mail holds %d bytes: the large files were copied into it", len(raw))
		}
	}
	for _, f := range [][]byte{big1, big2} {
		k := e.cfg.Redis.KeyPrefix + "file:" + sha(f)
		got, err := rdb.Get(context.Background(), k).Bytes()
		if err != nil || !bytes.Equal(got, f) {
			t.Fatalf("file %s: %d bytes stored, %v", k, len(got), err)
		}
		ttl := rdb.PTTL(context.Background(), k).Val()
		if want := e.cfg.Outbound.MaxAge.D() + outbound.FileMargin; ttl <= want-time.Minute || ttl > want {
			t.Fatalf("file %s lives %v, want outbound.max_age + %v", k, ttl, outbound.FileMargin)
		}
	}
	// Named keys, not KEYS: on a Redis Cluster, KEYS asks one node only.
	fileKeys := func(fs ...[]byte) []string {
		var ks []string
		for _, f := range fs {
			ks = append(ks, e.cfg.Redis.KeyPrefix+"file:"+sha(f), e.cfg.Redis.KeyPrefix+"file:"+sha(f)+":refs")
		}
		return ks
	}
	exist := func(ks []string) int64 {
		var n int64
		for _, k := range ks {
			n += rdb.Exists(context.Background(), k).Val()
		}
		return n
	}
	if n := exist(fileKeys(big1, big2)); n != 4 {
		t.Fatalf("%d of the 2 large files and their reference sets stored, want 4 keys", n)
	}
	if n := exist(fileKeys(small)); n != 0 {
		t.Fatalf("the small file was stored apart (%d keys); it stays in each mail", n)
	}

	e.relay.Fail(nil)
	for _, rcpt := range notify3 {
		got := attachments(t, e.waitMails(rcpt, 1)[0])
		if len(got) != 3 || !bytes.Equal(got[0], big1) || !bytes.Equal(got[1], big2) || !bytes.Equal(got[2], small) {
			t.Fatalf("notice to %s: %d attachments, not the files sent", rcpt, len(got))
		}
	}
	// The acknowledgement carries no files (it lists the refused ones, if any).
	if got := attachments(t, e.waitMails("carol@customer.example", 1)[0]); len(got) != 0 {
		t.Fatalf("the ack carries %d files", len(got))
	}
	// Once the last mail carrying a file is sent, the file goes.
	eventually(t, "the stored files to go once every mail carrying them was sent", func() bool {
		return exist(fileKeys(big1, big2)) == 0
	})
}

func TestAttachmentFileGoneIsDeadLetter(t *testing.T) {
	// The relay is down (nothing listens) until the notice has died, so that no attempt that
	// read the file before it was deleted can deliver it.
	relayAddr := "127.0.0.1:" + freePort(t)
	e := startEnv(t, func(c *config.Config) {
		c.Agents.Notify = notify3[:1]
		c.Outbound.SMTP.Port = relayPortOf(relayAddr)
	})
	rdb := redistest.Client(t, e.cfg.Redis.KeyPrefix)
	big := pdf(100_000)
	if r := send(t, e.d.SMTPAddr, "carol@customer.example", []string{"support@example.com"},
		withFiles("carol@customer.example", "scan", big)); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	e.queuedRaw(rdb, 2)
	if n := rdb.Del(context.Background(), e.cfg.Redis.KeyPrefix+"file:"+sha(big)).Val(); n != 1 {
		t.Fatalf("deleted %d files", n)
	}
	var dead []*store.OutboxItem
	eventually(t, "the notice to become a dead letter", func() bool {
		dead, _ = e.st.ListOutbox(context.Background(), true, 10)
		return len(dead) == 1
	})
	if dead[0].To != "team1@example.com" || !strings.Contains(dead[0].LastError, "no longer stored") {
		t.Fatalf("dead letter: %+v", dead[0])
	}
	stdout, stderr, code := cli(t, "outbox", "list", "--dead", "--config", e.configFile())
	if code != exitOK || !strings.Contains(stdout, "no longer stored") {
		t.Fatalf("outbox list --dead: exit %d\n%s%s", code, stdout, stderr)
	}
	relay := smtpcapture.StartAt(t, relayAddr)
	relay.WaitFor(t, "the ack, which has no files", func(ms []smtpcapture.Mail) bool {
		return len(smtpcapture.To(ms, "carol@customer.example")) == 1
	})
	e.drained()
	if n := len(smtpcapture.To(relay.Mails(), "team1@example.com")); n != 0 {
		t.Fatalf("the notice went out %d times without its file", n)
	}
}

func TestDKIMVerifiesOnMailWithStoredAttachment(t *testing.T) {
	e, record := dkimEnv(t)
	big := pdf(200_000)
	if r := send(t, e.d.SMTPAddr, "carol@customer.example", []string{"support@example.com"},
		withFiles("carol@customer.example", "signed scan", big)); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	m := e.waitMails("team@example.com", 1)[0]
	if got := attachments(t, m); len(got) != 1 || !bytes.Equal(got[0], big) {
		t.Fatal("the notice does not carry the file")
	}
	verifyDKIM(t, m.Data, record)
}
