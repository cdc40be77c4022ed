package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/baseline"
	"github.com/mailgate/mailgate/internal/loadgen"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/ticket"
)

const benchUsage = `usage: mailgate bench [flags]

Runs one workload against a bare go-smtp server, the naive pipeline (go-smtp + enmime + one
MULTI) and mailgate, each a child process started in this run, and prints the ratios.

  --sessions N     concurrent SMTP sessions (32)
  --count N        messages per target (20000)
  --size BYTES     message size (2048)
  --mix            realistic mix (replies, agent replies, attachments, fr, ja, text+HTML); default: new
                   tickets from unique senders
  --attach         every message is a new ticket with a PDF attachment of --size bytes
  --targets LIST   comma-separated: bare,naive,mailgate (all)
  --redis URL      Redis to use; default: a private redis-server with AOF everysec
  --preload N      also run mailgate on a store already holding N tickets (flat-cost check)
  --notify N       agents' notify addresses, each getting a notice per new ticket (1)

CPU per message is read from /proc (the server's and the relay sink's processes, all threads)
and from Redis's INFO cpu, over the run and until the acknowledgements have reached the sink.
`

type benchOpts struct {
	sessions, count, size, preload int
	notify                         int
	mix, attach                    bool
	targets                        []string
	redisURL                       string
}

func parseBench(argv []string) (benchOpts, error) {
	o := benchOpts{sessions: 32, count: 20000, size: 2048, notify: 1, targets: []string{"bare", "naive", "mailgate"}}
	for i := 0; i < len(argv); i++ {
		name, val, has := strings.Cut(strings.TrimLeft(argv[i], "-"), "=")
		if name == "mix" || name == "attach" {
			o.mix = o.mix || name == "mix"
			o.attach = o.attach || name == "attach"
			continue
		}
		if !has {
			if i+1 >= len(argv) {
				return o, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = argv[i]
		}
		var err error
		switch name {
		case "sessions":
			o.sessions, err = strconv.Atoi(val)
		case "count":
			o.count, err = strconv.Atoi(val)
		case "size":
			o.size, err = strconv.Atoi(val)
		case "preload":
			o.preload, err = strconv.Atoi(val)
		case "notify":
			o.notify, err = strconv.Atoi(val)
		case "targets":
			o.targets = strings.Split(val, ",")
		case "redis":
			o.redisURL = val
		default:
			return o, fmt.Errorf("unknown flag --%s", name)
		}
		if err != nil {
			return o, fmt.Errorf("--%s: %v", name, err)
		}
	}
	return o, nil
}

type benchRow struct {
	target string
	res    loadgen.Result
	rssKB  int
	extra  string
	// CPU spent during the run (until the acks reached the sink) by the server under test, by
	// Redis and by the relay sink; zero where not measured.
	cpuServer, cpuRedis, cpuSink time.Duration
	// Redis commands run and requests read during the run (INFO stats).
	redisCmds, redisReads int64
}

// perMsgCount is a count per accepted message, as "12.3", or "-" when not measured.
func (r benchRow) perMsgCount(n int64) string {
	if n <= 0 || len(r.res.Accepted) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(n)/float64(len(r.res.Accepted)))
}

// perMsg is a CPU time per accepted message, as "123µs", or "-" when not measured.
func (r benchRow) perMsg(d time.Duration) string {
	if d <= 0 || len(r.res.Accepted) == 0 {
		return "-"
	}
	return fmt.Sprintf("%dµs", d.Microseconds()/int64(len(r.res.Accepted)))
}

// cmdBench is `mailgate bench`.
func cmdBench(argv []string, stdout, stderr io.Writer) int {
	o, err := parseBench(argv)
	if err != nil {
		fmt.Fprintf(stderr, "mailgate bench: %v\n\n%s", err, benchUsage)
		return exitUsage
	}
	ctx := context.Background()
	if o.redisURL == "" {
		url, stop, err := startBenchRedis()
		if err != nil {
			fmt.Fprintf(stderr, "mailgate bench: %v (or pass --redis URL)\n", err)
			return exitFailed
		}
		defer stop()
		o.redisURL = url
	}
	fmt.Fprintf(stdout, "workload: %d sessions, %d messages of ~%d bytes, mix=%v, %d notify address(es), redis %s\n\n",
		o.sessions, o.count, o.size, o.mix, o.notify, o.redisURL)
	var rows []benchRow
	if o.preload > 0 {
		// The same workload on a store already holding o.preload tickets, in the same run.
		o.targets = append(o.targets, "mailgate+preload")
	}
	for _, target := range o.targets {
		row, err := benchTarget(ctx, target, o)
		if err != nil {
			fmt.Fprintf(stderr, "mailgate bench: %s: %v\n", target, err)
			return exitFailed
		}
		rows = append(rows, row)
		fmt.Fprintf(stdout, "%-9s done: %.0f msgs/s\n", target, row.res.Rate())
	}
	fmt.Fprintf(stdout, "\n%-16s %9s %8s %8s %8s %9s %9s %9s %9s %8s %8s  %s\n", "target", "msgs/s", "p50", "p95", "p99", "peak RSS",
		"cpu/msg", "redis/msg", "sink/msg", "cmds/msg", "reqs/msg", "errors")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-16s %9.0f %8s %8s %8s %7dMB %9s %9s %9s %8s %8s  %s\n", r.target, r.res.Rate(), ms(r.res.Percentile(50)),
			ms(r.res.Percentile(95)), ms(r.res.Percentile(99)), r.rssKB/1024, r.perMsg(r.cpuServer), r.perMsg(r.cpuRedis),
			r.perMsg(r.cpuSink), r.perMsgCount(r.redisCmds), r.perMsgCount(r.redisReads), r.res.ErrorSummary())
	}
	rate := map[string]float64{}
	for _, r := range rows {
		rate[r.target] = r.res.Rate()
		if r.extra != "" {
			fmt.Fprintf(stdout, "%s: %s\n", r.target, r.extra)
		}
	}
	if m := rate["mailgate"]; m > 0 {
		for _, b := range []string{"naive", "bare"} {
			if rate[b] > 0 {
				fmt.Fprintf(stdout, "mailgate / %s = %.2f×\n", b, m/rate[b])
			}
		}
		if p := rate["mailgate+preload"]; p > 0 {
			fmt.Fprintf(stdout, "mailgate with %d tickets / empty = %.2f×\n", o.preload, p/m)
		}
	}
	return exitOK
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// startBenchRedis starts a private redis-server with AOF everysec (the reference setting).
func startBenchRedis() (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server not found")
	}
	port, err := freeTCPPort()
	if err != nil {
		return "", nil, err
	}
	dir, _ := os.MkdirTemp("", "mailgate-bench-redis")
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListen(addr, 10*time.Second); err != nil {
		stop()
		return "", nil, err
	}
	return "redis://" + addr + "/0", stop, nil
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitListen(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %v", addr, within)
}

// peakRSS reads the high-water mark of a process's resident memory, in KiB.
func peakRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func benchTarget(ctx context.Context, target string, o benchOpts) (benchRow, error) {
	self, err := os.Executable()
	if err != nil {
		return benchRow{}, err
	}
	port, err := freeTCPPort()
	if err != nil {
		return benchRow{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	prefix := fmt.Sprintf("bench:%s:%d:", target, time.Now().UnixNano())
	row := benchRow{target: target}
	var cmd *exec.Cmd
	var sink *ackSink
	switch target {
	case "bare", "naive":
		cmd = exec.Command(self, "bench-serve", target, addr, o.redisURL, prefix)
	case "mailgate", "mailgate+preload":
		if sink, err = startAckSink(self); err != nil {
			return row, err
		}
		defer sink.close()
		cfgFile, err := benchConfig(addr, o.redisURL, prefix, sink.port, o.notify)
		if err != nil {
			return row, err
		}
		defer os.Remove(cfgFile)
		if target == "mailgate+preload" {
			took, listTook, err := preload(ctx, o.redisURL, prefix, o.preload)
			if err != nil {
				return row, err
			}
			row.extra = fmt.Sprintf("preloaded %d tickets in %v; `ticket list` first page (50) took %v", o.preload, took.Round(time.Millisecond), listTook)
		}
		cmd = exec.Command(self, "serve", "--config", cfgFile)
	default:
		return row, fmt.Errorf("unknown target %q", target)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return row, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	if err := waitListen(addr, 15*time.Second); err != nil {
		return row, err
	}
	cpu0, redis0 := procCPU(cmd.Process.Pid), readRedisCounters(ctx, o.redisURL)
	var sink0 time.Duration
	if sink != nil {
		sink0 = procCPU(sink.cmd.Process.Pid)
	}
	res := loadgen.Run(ctx, loadgen.Options{Addr: addr, Sessions: o.sessions, Count: o.count, Size: o.size,
		Mix: o.mix, Attach: o.attach, To: "support@example.com", Agent: "example.com"})
	row.res = res
	if sink != nil {
		row.extra = strings.TrimPrefix(row.extra+"; "+sink.report(res, 60*time.Second), "; ")
		row.cpuSink = procCPU(sink.cmd.Process.Pid) - sink0
	}
	row.cpuServer = procCPU(cmd.Process.Pid) - cpu0
	if redis0.cpu > 0 {
		d := readRedisCounters(ctx, o.redisURL).sub(redis0)
		row.cpuRedis, row.redisCmds, row.redisReads = d.cpu, d.commands, d.reads
	}
	row.rssKB = peakRSS(cmd.Process.Pid)
	return row, nil
}

func benchConfig(addr, redisURL, prefix string, relayPort, notify int) (string, error) {
	c := config.Default()
	c.SMTP.Listen = addr
	c.SMTP.Hostname = "mx.bench.example"
	c.SMTP.MaxSessions = 2000
	c.SMTP.MaxSessionsPerIP = 2000
	c.Metrics.Listen = "127.0.0.1:0"
	c.Redis.URL = redisURL
	c.Redis.KeyPrefix = prefix
	c.Support.Addresses = []string{"support@example.com"}
	c.Agents.Domains = []string{"example.com"}
	c.Agents.Notify = nil
	for i := range notify {
		c.Agents.Notify = append(c.Agents.Notify, fmt.Sprintf("team%d@example.com", i+1))
	}
	c.Outbound.SMTP.Port = relayPort
	c.Outbound.MaxAutoRepliesPerSenderPerHour = 0
	b, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "mailgate-bench-*.yaml")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.Write(b)
	return filepath.Clean(f.Name()), err
}

// preload writes n tickets straight into the store, 16 writers at a time, then times the
// first page of `ticket list`.
func preload(ctx context.Context, url, prefix string, n int) (time.Duration, time.Duration, error) {
	rdb, err := store.Dial(url)
	if err != nil {
		return 0, 0, err
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{KeyPrefix: prefix, FirstID: 30001})
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				id, err := st.NextID(ctx)
				if err != nil {
					errs <- err
					return
				}
				now := time.Now().UTC()
				from := fmt.Sprintf("preload%d@customer.example", i)
				c := &store.Commit{Dedupe: fmt.Sprintf("preload:%d", i), New: true, Now: now,
					Ticket: ticket.Ticket{ID: id, Queue: "support@example.com", Subject: "Preloaded ticket", Status: ticket.StatusNew,
						Priority: "normal", Creator: from, Followers: []string{from}, CreatedAt: now, UpdatedAt: now},
					Message: &ticket.Message{MessageID: fmt.Sprintf("<preload.%d@x>", i), Author: from, Role: ticket.RoleCustomer,
						ReceivedAt: now, Text: "Preloaded.", Attachments: []ticket.Attachment{}},
					Raw: []byte("From: " + from + "\r\n\r\nPreloaded.\r\n"), Refs: []string{fmt.Sprintf("<preload.%d@x>", i)}}
				if _, err := st.Commit(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, 0, err
	default:
	}
	took := time.Since(start)
	ls := time.Now()
	if _, err := st.ListTickets(ctx, "", 0, 50); err != nil {
		return 0, 0, err
	}
	return took, time.Since(ls), nil
}

// ackSink is the relay mailgate sends its mail to during a bench: a child process (`mailgate
// bench-serve sink ADDR`, so that its CPU is its own) that prints, for each acknowledgement, the
// inbound Message-ID it answers (In-Reply-To) and when it arrived.
type ackSink struct {
	cmd  *exec.Cmd
	port int
	mu   sync.Mutex
	at   map[string]time.Time
}

func startAckSink(self string) (*ackSink, error) {
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	s := &ackSink{at: map[string]time.Time{}, port: port}
	s.cmd = exec.Command(self, "bench-serve", "sink", "127.0.0.1:"+strconv.Itoa(port), "-", "-")
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			id, ns, ok := strings.Cut(sc.Text(), "\t")
			n, err := strconv.ParseInt(ns, 10, 64)
			if !ok || err != nil {
				continue
			}
			s.mu.Lock()
			if _, seen := s.at[id]; !seen {
				s.at[id] = time.Unix(0, n)
			}
			s.mu.Unlock()
		}
	}()
	if err := waitListen("127.0.0.1:"+strconv.Itoa(port), 10*time.Second); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *ackSink) close() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() }

// report waits (bounded) for the acks of the accepted new tickets and gives the latency from
// 250 to the relay.
func (s *ackSink) report(res loadgen.Result, within time.Duration) string {
	want := 0
	for _, a := range res.Accepted {
		if a.Kind != "reply" && a.Kind != "agent" { // these open tickets: each gets an ack
			want++
		}
	}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.at)
		s.mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var lat []time.Duration
	var first, lastAck time.Time
	for _, a := range res.Accepted {
		if first.IsZero() || a.At.Before(first) {
			first = a.At
		}
		if t, ok := s.at[a.MessageID]; ok {
			lat = append(lat, t.Sub(a.At))
			if t.After(lastAck) {
				lastAck = t
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		return fmt.Sprintf("acks at the relay: 0 of %d", want)
	}
	last := time.Duration(0)
	for _, l := range lat {
		last = max(last, l)
	}
	// msgs/s counts acceptance only; a build that sends its mail after the burst looks faster
	// by it than one that keeps up. Completed counts until the last acknowledgement is out.
	completed := ""
	if d := lastAck.Sub(first); d > 0 {
		completed = fmt.Sprintf("; completed (first 250 to last acknowledgement at the relay) %.0f msgs/s", float64(len(lat))/d.Seconds())
	}
	return fmt.Sprintf("acks at the relay: %d of %d; 250→relay median %v, p99 %v, max %v%s", len(lat), want,
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond), last.Round(time.Millisecond), completed)
}

// sinkSession is one relay session of the sink child: acknowledgements (mail to customers, not to
// the agents' domain) are printed as "Message-ID<TAB>unix-nanoseconds".
type sinkSession struct {
	out      *bufio.Writer
	mu       *sync.Mutex
	customer bool
}

func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }
func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.customer = ss.customer || !strings.HasSuffix(to, "@example.com")
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	br := bufio.NewReader(r)
	now := time.Now()
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(l, "In-Reply-To: "); ok && ss.customer {
			ss.mu.Lock()
			fmt.Fprintf(ss.out, "%s\t%d\n", strings.TrimSpace(v), now.UnixNano())
			_ = ss.out.Flush()
			ss.mu.Unlock()
		}
	}
	ss.customer = false
	_, _ = io.Copy(io.Discard, br)
	return nil
}

// serveSink runs the relay sink on l until ctx ends.
func serveSink(ctx context.Context, l net.Listener, stdout io.Writer) error {
	out, mu := bufio.NewWriter(stdout), &sync.Mutex{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{out: out, mu: mu}, nil
	}))
	srv.Domain = "sink.bench"
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(l); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// procCPU is the user+system CPU time of a process, all threads, from /proc/PID/stat (in clock
// ticks of 1/100 s, the value of USER_HZ on Linux); 0 where /proc cannot tell.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its closing ')' are fixed.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// redisCounters are what Redis has done so far, from INFO: CPU time (used_cpu_sys +
// used_cpu_user), commands run (scripts' own calls included) and client reads (requests,
// which group commit shares between sessions). Zero when Redis cannot tell.
type redisCounters struct {
	cpu             time.Duration
	commands, reads int64
}

func (a redisCounters) sub(b redisCounters) redisCounters {
	return redisCounters{cpu: a.cpu - b.cpu, commands: a.commands - b.commands, reads: a.reads - b.reads}
}

func readRedisCounters(ctx context.Context, url string) redisCounters {
	var c redisCounters
	rdb, err := store.Dial(url)
	if err != nil {
		return c
	}
	defer rdb.Close()
	info, err := rdb.Info(ctx, "cpu", "stats").Result()
	if err != nil {
		return c
	}
	var cpu float64
	for _, l := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			cpu += f
		case "total_commands_processed":
			c.commands, _ = strconv.ParseInt(v, 10, 64)
		case "total_reads_processed":
			c.reads, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	c.cpu = time.Duration(cpu * float64(time.Second))
	return c
}

// cmdBenchServe is the child process of a baseline target: `mailgate bench-serve
// bare|naive|sink ADDR REDIS_URL PREFIX` (the sink ignores the last two).
func cmdBenchServe(argv []string, stderr io.Writer) int {
	if len(argv) != 4 {
		fmt.Fprintln(stderr, "usage: mailgate bench-serve bare|naive|sink ADDR REDIS_URL PREFIX")
		return exitUsage
	}
	l, err := net.Listen("tcp", argv[1])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	ctx, stop := signalContext()
	defer stop()
	if argv[0] == "sink" {
		if err := serveSink(ctx, l, os.Stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailed
		}
		return exitOK
	}
	var rdb redis.UniversalClient
	if argv[0] == "naive" {
		if rdb, err = store.Dial(argv[2]); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailed
		}
	}
	if err := baseline.Serve(ctx, argv[0], l, rdb, argv[3]); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailed
	}
	return exitOK
}
