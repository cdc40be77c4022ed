package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/loadgen"
	"github.com/mailgate/mailgate/internal/logbuf"
	"github.com/mailgate/mailgate/internal/poll"
	"github.com/mailgate/mailgate/internal/redistest"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/store"
)

// Fault injection: nothing that got 250 is ever lost. Each test is bounded in messages and
// time, and runs on loopback with a private redis-server (AOF, appendfsync always).

// proc is one mailgate process started from the real binary.
type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *logbuf.Buffer
	done chan struct{}
	err  error // the exit status, once done is closed
}

// startProc runs `mailgate serve --config` on cfg and waits until it listens.
func startProc(t *testing.T, cfg config.Config) *proc {
	t.Helper()
	e := &env{t: t, cfg: cfg}
	cmd := exec.Command(buildBinary(t), "serve", "--config", e.configFile())
	p := &proc{cmd: cmd, addr: cfg.SMTP.Listen, logs: &logbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.logs
	if testing.Verbose() {
		cmd.Stderr = io.MultiWriter(p.logs, os.Stderr)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	waitListening(t, p.addr)
	return p
}

// kill is kill -9: no shutdown, no flush, whatever was in flight is cut.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// configFile is the file the process was started with.
func (p *proc) configFile() string { return p.cmd.Args[len(p.cmd.Args)-1] }

// term sends SIGTERM and checks the process exits 0 within a bound.
func (p *proc) term(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit after SIGTERM: %v", p.err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func faultConfig(t *testing.T, redisURL string, relay *smtpcapture.Server) config.Config {
	cfg := testConfig(t, relay.Port())
	cfg.Redis.URL = redisURL
	cfg.SMTP.Listen = "127.0.0.1:" + freePort(t)
	cfg.Agents.Notify = nil
	cfg.Outbound.MaxAutoRepliesPerSenderPerHour = 0
	cfg.Outbound.Lease = config.Duration(5 * time.Second) // a killed process's mails go again soon, a live one's not twice
	return cfg
}

func durableRedis(t *testing.T) *redistest.Server {
	return redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
}

// tally checks every accepted message: stored exactly once, acknowledged at least once.
type tally struct {
	accepted, found, missing, doubled, acked, unacked, ackDuplicates int
}

func (tl tally) String() string {
	return fmt.Sprintf("accepted %d, found once %d, missing %d, stored twice %d, acked %d, unacked %d, duplicate acks %d",
		tl.accepted, tl.found, tl.missing, tl.doubled, tl.acked, tl.unacked, tl.ackDuplicates)
}

// requireLossless fails the test unless every accepted message is stored once and acked.
func (tl tally) requireLossless(t *testing.T, what string) {
	t.Helper()
	if tl.missing != 0 || tl.doubled != 0 || tl.unacked != 0 {
		t.Fatalf("%s: %s", what, tl)
	}
}

func check(t *testing.T, redisURL, prefix string, accepted []loadgen.Accepted, relay *smtpcapture.Server) tally {
	t.Helper()
	rdb, err := store.Dial(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{KeyPrefix: prefix, FirstID: 30001})
	ctx := context.Background()
	stored := map[string]int{}
	ts, err := st.ListTickets(ctx, "", 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts {
		full, err := st.Ticket(ctx, tk.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range full.Messages {
			stored[m.MessageID]++
		}
	}
	acks := map[string]int{}
	// Every accepted message has its ack (the queue drains; leases of dead processes expire).
	want := map[string]bool{}
	for _, a := range accepted {
		want[a.MessageID] = true
	}
	// Not fatal when it times out: the tally below reports what is missing.
	poll.Wait(30*time.Second, func() bool {
		clear(acks)
		for _, m := range relay.Mails() {
			acks[headerOf(m.Data, "In-Reply-To")]++
		}
		for id := range want {
			if acks[id] == 0 {
				return false
			}
		}
		return true
	})
	tl := tally{accepted: len(accepted)}
	for _, a := range accepted {
		switch stored[a.MessageID] {
		case 0:
			tl.missing++
		case 1:
			tl.found++
		default:
			tl.doubled++
		}
		switch n := acks[a.MessageID]; {
		case n == 0:
			tl.unacked++
		default:
			tl.acked++
			tl.ackDuplicates += n - 1
		}
	}
	return tl
}

// loadAsync runs a load in the background; wait returns its result.
func loadAsync(addr, run string, count int) (wait func() loadgen.Result) {
	var res loadgen.Result
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res = loadgen.Run(context.Background(), loadgen.Options{Addr: addr, Sessions: 8, Count: count, Size: 1024,
			To: "support@example.com", Agent: "example.com", Run: run, Timeout: 10 * time.Second})
	}()
	return func() loadgen.Result { wg.Wait(); return res }
}

func countTickets(t *testing.T, redisURL, prefix string) int {
	rdb, _ := store.Dial(redisURL)
	defer rdb.Close()
	n, _ := rdb.ZCard(context.Background(), store.HashTagged(prefix)+"idx:updated").Result()
	return int(n)
}

func TestFaultKillMailgateUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	red := durableRedis(t)
	relay := smtpcapture.Start(t)
	cfg := faultConfig(t, red.URL(), relay)
	p := startProc(t, cfg)
	wait := loadAsync(cfg.SMTP.Listen, "kill9", 1500)
	eventually(t, "some tickets before the kill", func() bool { return countTickets(t, red.URL(), cfg.Redis.KeyPrefix) >= 300 })
	p.kill()
	startProc(t, cfg) // same port, same Redis
	res := wait()
	tl := check(t, red.URL(), cfg.Redis.KeyPrefix, res.Accepted, relay)
	t.Logf("kill -9 under load: sent %d, errors %s; %s", res.Sent, res.ErrorSummary(), tl)
	tl.requireLossless(t, "lost or doubled")
}

func TestFaultRedisRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	red := durableRedis(t)
	relay := smtpcapture.Start(t)
	cfg := faultConfig(t, red.URL(), relay)
	startProc(t, cfg)
	wait := loadAsync(cfg.SMTP.Listen, "redisdown", 1500)
	eventually(t, "some tickets before Redis stops", func() bool { return countTickets(t, red.URL(), cfg.Redis.KeyPrefix) >= 300 })
	red.Stop()
	// While Redis is down, mail is deferred: see a 451 ourselves before bringing it back.
	eventually(t, "a 451 while Redis is down", func() bool {
		r := send(t, cfg.SMTP.Listen, "probe@customer.example", []string{"support@example.com"},
			msg("probe@customer.example", "support@example.com", "probe", "x"))
		return r.Code == 451
	})
	red.Restart(t)
	res := wait()
	for code := range res.Errors {
		if !strings.HasPrefix(code, "4") {
			t.Fatalf("while Redis was down mailgate answered %s: only 4xx is allowed (%s)", code, res.ErrorSummary())
		}
	}
	tl := check(t, red.URL(), cfg.Redis.KeyPrefix, res.Accepted, relay)
	t.Logf("Redis stopped and restarted under load: sent %d, errors %s; %s", res.Sent, res.ErrorSummary(), tl)
	if res.Errors["451"] == 0 {
		t.Fatal("no 451 while Redis was down: the outage did not overlap the load")
	}
	tl.requireLossless(t, "lost or doubled")
}

func TestFaultRelayDown(t *testing.T) {
	// The relay is not there at first: mail queues; when it comes up, all of it is delivered.
	relayAddr := "127.0.0.1:" + freePort(t)
	port, _ := strconv.Atoi(strings.Split(relayAddr, ":")[1])
	e := startEnv(t, func(c *config.Config) { c.Outbound.SMTP.Port = port; c.Agents.Notify = nil })
	res := loadgen.Run(context.Background(), loadgen.Options{Addr: e.d.SMTPAddr, Sessions: 4, Count: 200, Size: 1024,
		To: "support@example.com", Agent: "example.com"})
	eventually(t, "failed attempts while the relay is down", func() bool {
		return !strings.HasSuffix(e.metric("mailgate_outbound_failures_total"), " 0")
	})
	relay := smtpcapture.StartAt(t, relayAddr)
	prefix := e.cfg.Redis.KeyPrefix
	tl := check(t, e.cfg.Redis.URL, prefix, res.Accepted, relay)
	t.Logf("relay down, then up: %s", tl)
	if len(res.Accepted) != 200 || tl.unacked != 0 || tl.missing != 0 {
		t.Fatalf("not all delivered: %s", tl)
	}
}

func TestFaultSeveralProcessesOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	red := durableRedis(t)
	relay := smtpcapture.Start(t)
	base := faultConfig(t, red.URL(), relay)
	var procs []*proc
	var waits []func() loadgen.Result
	for i := range 3 {
		cfg := base
		cfg.SMTP.Listen = "127.0.0.1:" + freePort(t)
		procs = append(procs, startProc(t, cfg))
		waits = append(waits, loadAsync(cfg.SMTP.Listen, fmt.Sprint("multi", i), 600))
	}
	eventually(t, "some tickets before the kill", func() bool { return countTickets(t, red.URL(), base.Redis.KeyPrefix) >= 400 })
	procs[1].kill()
	var accepted []loadgen.Accepted
	sent := 0
	for _, w := range waits {
		r := w()
		accepted = append(accepted, r.Accepted...)
		sent += r.Sent
	}
	tl := check(t, red.URL(), base.Redis.KeyPrefix, accepted, relay)
	t.Logf("3 processes on one Redis, one killed: sent %d; %s", sent, tl)
	tl.requireLossless(t, "lost or doubled")
	// Duplicate acks may only come from mails the killed process had leased (at least once).
	if tl.ackDuplicates > outbound.DefaultConcurrency*outbound.ClaimPerSender {
		t.Fatalf("%d duplicate acks: more than one claimed batch of the killed process", tl.ackDuplicates)
	}
}

// TestFaultSentinelFailover: primary, replica and one Sentinel; mailgate on a redis+sentinel
// URL with redis.wait_replicas: 1 (250 only once the replica has the write, so a failover
// cannot lose it). The primary is killed under load; Sentinel promotes the replica; the old
// primary comes back as a replica; nothing that got 250 is missing.
func TestFaultSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	primary := durableRedis(t)
	replica := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always", "--replicaof", "127.0.0.1", primary.Port())
	sdir := t.TempDir()
	sconf := sdir + "/sentinel.conf"
	os.WriteFile(sconf, []byte(fmt.Sprintf("sentinel monitor mg 127.0.0.1 %s 1\nsentinel down-after-milliseconds mg 1000\nsentinel failover-timeout mg 5000\n", primary.Port())), 0o644)
	sport := freePort(t)
	sentinel := exec.Command("redis-server", sconf, "--sentinel", "--port", sport, "--bind", "127.0.0.1", "--dir", sdir)
	if err := sentinel.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sentinel.Process.Kill(); _ = sentinel.Wait() })
	url := "redis+sentinel://127.0.0.1:" + sport + "?master_name=mg"
	rr, _ := store.Dial(replica.URL())
	eventually(t, "the replica to sync", func() bool {
		return strings.Contains(rr.Info(context.Background(), "replication").Val(), "master_link_status:up")
	})
	rr.Close()

	relay := smtpcapture.Start(t)
	cfg := faultConfig(t, url, relay)
	cfg.Redis.WaitReplicas = 1
	cfg.Redis.WaitTimeout = config.Duration(500 * time.Millisecond)
	startProc(t, cfg)
	wait := loadAsync(cfg.SMTP.Listen, "failover", 1500)
	eventually(t, "some tickets before the primary dies", func() bool { return countTickets(t, url, cfg.Redis.KeyPrefix) >= 300 })
	primary.Kill()
	sc, _ := store.Dial("redis://127.0.0.1:" + sport)
	defer sc.Close()
	eventually(t, "Sentinel to promote the replica", func() bool {
		addr, err := sc.Do(context.Background(), "SENTINEL", "get-master-addr-by-name", "mg").StringSlice()
		return err == nil && len(addr) == 2 && addr[1] == replica.Port()
	})
	// A failed primary must come back as a replica, never as a primary with its old data
	// (split brain: clients that still know its address would write to it), and must not be
	// promoted before it has caught up: Sentinel may fail over again while the new primary is
	// busy syncing it, and a stale replica promoted loses what only the new primary had.
	primary.Restart(t, "--replicaof", "127.0.0.1", replica.Port(), "--replica-priority", "0")
	res := wait()
	for code := range res.Errors {
		if !strings.HasPrefix(code, "4") && code != "conn" {
			t.Fatalf("during the failover mailgate answered %s (%s)", code, res.ErrorSummary())
		}
	}
	tl := check(t, url, cfg.Redis.KeyPrefix, res.Accepted, relay)
	t.Logf("Sentinel failover under load: sent %d, errors %s; %s", res.Sent, res.ErrorSummary(), tl)
	tl.requireLossless(t, "lost or doubled across the failover")
}
