package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
)

// TestMeasureFilesMemory reports what one 25 MB message with two 9 MB PDFs and three notify
// addresses costs: Redis memory while its mails are queued, and mailgate's peak RSS through
// the commit and then through delivery. It runs mailgate as a child process, so that the
// figures are mailgate's own; set MGTEST_MEASURE=1 to run it:
//
//	MGTEST_MEASURE=1 go test -count=1 -run TestMeasureFilesMemory -v ./cmd/mailgate/
func TestMeasureFilesMemory(t *testing.T) {
	if os.Getenv("MGTEST_MEASURE") == "" {
		t.Skip("set MGTEST_MEASURE=1 to measure")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// The relay is down while the message is taken in, so that its mails stay queued to be
	// measured; it comes up afterwards and the worker's retry delivers them.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	relayAddr := l.Addr().String()
	l.Close()
	cfg := testConfig(t, relayPortOf(relayAddr))
	cfg.SMTP.Listen = "127.0.0.1:" + freePort(t)
	cfg.Agents.Notify = []string{"team1@example.com", "team2@example.com", "team3@example.com"}
	b, _ := yaml.Marshal(cfg)
	cfgFile := filepath.Join(dir, "mailgate.yaml")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Client(t, cfg.Redis.KeyPrefix)
	cmd := exec.Command(bin, "serve", "--config", cfgFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	if err := waitListen(cfg.SMTP.Listen, 15*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	used0 := usedMemory(t, rdb)

	var files [][]byte
	var body bytes.Buffer
	body.WriteString("From: Carol <carol@customer.example>\r\nTo: support@example.com\r\nSubject: the scans\r\n" +
		"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <big@customer.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe two scans.\r\n")
	for i := range 2 {
		f := make([]byte, 9_000_000)
		_, _ = rand.Read(f)
		copy(f, "%PDF-1.7\n") // a ".pdf" must look like one
		files = append(files, f)
		fmt.Fprintf(&body, "--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=scan%d.pdf\r\n"+
			"Content-Transfer-Encoding: base64\r\n\r\n", i)
		enc := base64.StdEncoding.EncodeToString(f)
		for len(enc) > 76 {
			body.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		body.WriteString(enc + "\r\n")
	}
	body.WriteString("--b1--\r\n")
	if r := send(t, cfg.SMTP.Listen, "carol@customer.example", []string{"support@example.com"}, body.String()); r.Code != 250 {
		t.Fatalf("send: %s", r)
	}
	used1 := usedMemory(t, rdb)
	keys := prefixUsage(t, rdb, cfg.Redis.KeyPrefix)
	rssCommit := peakRSS(cmd.Process.Pid)

	relay := smtpcapture.StartAt(t, relayAddr)
	// The first attempt failed on the closed port: the retry comes after the default backoff.
	poll.Until(t, 3*time.Minute, "the ack and three notices", func() bool { return len(relay.Mails()) >= 4 })
	ms := relay.Mails()
	rssSend := peakRSS(cmd.Process.Pid)
	var delivered int
	for _, m := range ms {
		delivered += len(m.Data)
		t.Logf("delivered to %v: %d bytes", m.To, len(m.Data))
	}
	poll.Until(t, time.Minute, "the sent mails and their files to go", func() bool {
		u := prefixUsage(t, rdb, cfg.Redis.KeyPrefix)
		return u.kinds["file"] == 0 && u.kinds["ob"] < 10_000
	})
	t.Logf("redis after delivery: MEMORY USAGE of the test's keys %.1f MB", float64(prefixUsage(t, rdb, cfg.Redis.KeyPrefix).total)/1e6)
	t.Logf("message: %d bytes (%d bytes of files, decoded)", body.Len(), len(files[0])+len(files[1]))
	t.Logf("redis: used_memory delta %.1f MB; MEMORY USAGE of the test's keys %.1f MB (%s)",
		float64(used1-used0)/1e6, float64(keys.total)/1e6, keys)
	t.Logf("mailgate peak RSS: %.0f MB after the commit, %.0f MB after delivering %d mails (%.1f MB)",
		float64(rssCommit)/1024, float64(rssSend)/1024, len(ms), float64(delivered)/1e6)
}

func relayPortOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

func usedMemory(t *testing.T, rdb redis.UniversalClient) int64 {
	s, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

// usage is the memory of a prefix's keys, by kind of key.
type usage struct {
	total int64
	kinds map[string]int64
}

func (u usage) String() string {
	var parts []string
	for k, v := range u.kinds {
		if v > 100_000 {
			parts = append(parts, fmt.Sprintf("%s %.1f MB", k, float64(v)/1e6))
		}
	}
	return strings.Join(parts, ", ")
}

func prefixUsage(t *testing.T, rdb redis.UniversalClient, prefix string) usage {
	ctx := context.Background()
	u := usage{kinds: map[string]int64{}}
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		n, err := rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		kind, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), ":")
		u.kinds[kind] += n
		u.total += n
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}
