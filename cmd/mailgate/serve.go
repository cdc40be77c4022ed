package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/ingest"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/smtpd"
	"github.com/mailgate/mailgate/store"
)

// devStoreFile is where dev mode writes the embedded store's address, so that the CLI run
// beside the daemon reads the same tickets.
const devStoreFile = "data/dev-redis.addr"

// Daemon is a running mailgate.
type Daemon struct {
	SMTPAddr, LMTPAddr, MetricsAddr string
	done                            chan struct{}
	err                             error // why it stopped, set before done is closed
	listeners                       []net.Listener
	ing                             *ingest.Ingester
	cfg                             config.Config
	// rules is the configuration in force, swapped whole by Reload; smtpd reads it per command.
	rules *liveRules
}

// liveRules is the configuration in force as smtpd's Rules: every call reads the current one.
type liveRules struct{ cur atomic.Pointer[config.Config] }

func newLiveRules(cfg config.Config) *liveRules {
	r := &liveRules{}
	r.cur.Store(&cfg)
	return r
}

func (r *liveRules) IsSupport(addr string) bool { return r.cur.Load().IsSupport(addr) }

// Reload applies cfg where that is safe (SIGHUP): addresses, policies, attachments,
// templates and caps take effect for the next message. It returns the keys that changed but
// need a restart (listeners, store, outbound transport, SMTP limits).
func (d *Daemon) Reload(cfg config.Config) ([]string, error) {
	var restart []string
	for key, same := range map[string]bool{
		"smtp":             reflect.DeepEqual(d.cfg.SMTP, cfg.SMTP),
		"lmtp":             reflect.DeepEqual(d.cfg.LMTP, cfg.LMTP),
		"redis":            reflect.DeepEqual(d.cfg.Redis, cfg.Redis),
		"metrics":          reflect.DeepEqual(d.cfg.Metrics, cfg.Metrics),
		"outbound":         d.cfg.Outbound.Transport == cfg.Outbound.Transport && d.cfg.Outbound.SMTP == cfg.Outbound.SMTP && d.cfg.Outbound.FileDir == cfg.Outbound.FileDir && d.cfg.Outbound.MaxAge == cfg.Outbound.MaxAge && d.cfg.Outbound.Lease == cfg.Outbound.Lease && d.cfg.Outbound.DKIM == cfg.Outbound.DKIM,
		"storage.keep_raw": d.cfg.Storage.KeepRaw == cfg.Storage.KeepRaw,
		"tickets.first_id": d.cfg.Tickets.FirstID == cfg.Tickets.FirstID,
		"log.format":       d.cfg.Log.Format == cfg.Log.Format,
	} {
		if !same {
			restart = append(restart, key)
		}
	}
	sort.Strings(restart)
	if err := d.ing.Reload(cfg); err != nil {
		return nil, err
	}
	d.rules.cur.Store(&cfg)
	return restart, nil
}

// Wait blocks until the daemon has stopped; the error is why it stopped on its own (a listener
// failed), nil after a requested stop.
func (d *Daemon) Wait() error {
	<-d.done
	return d.err
}

// ShutdownTimeout bounds how long SIGTERM waits for sessions and sends in flight.
const ShutdownTimeout = 30 * time.Second

// startDaemon wires config, store, smtpd, outbound and metrics and starts them; it returns
// once every listener is bound. Cancelling ctx drains and stops it.
func startDaemon(ctx context.Context, cfg config.Config, log *slog.Logger) (*Daemon, error) {
	return startDaemonWith(ctx, cfg, log, outbound.WorkerConfig{MaxAge: cfg.Outbound.MaxAge.D(), Lease: cfg.Outbound.Lease.D()})
}

// startDaemonWith lets tests shorten the outbound worker's backoff.
func startDaemonWith(ctx context.Context, cfg config.Config, log *slog.Logger, wcfg outbound.WorkerConfig) (*Daemon, error) {
	rdb, cleanup, err := openStore(cfg, log)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	st := store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID, KeepRaw: cfg.Storage.KeepRaw.D(),
		Durability: store.Durability{WaitReplicas: cfg.Redis.WaitReplicas, WaitAOF: cfg.Redis.WaitAOF, Timeout: cfg.Redis.WaitTimeout.D()},
		BackgroundError: func(err error) {
			m.StoreErrors.Inc()
			log.Error("store work in the background failed; it is retried", "err", err)
		}})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := st.Ping(pctx); err != nil {
		// Not fatal: SMTP answers 451 and /readyz says unready until Redis is back.
		log.Error("redis does not answer; mail will be deferred (451) until it does", "err", err)
	} else if !cfg.DevMode {
		desc, err := st.CheckDurability(pctx)
		switch {
		case err != nil && (cfg.Redis.WaitAOF || cfg.Redis.WaitReplicas > 0):
			cancel()
			cleanup()
			return nil, err
		case err != nil:
			log.Warn("could not read the store's durability settings", "err", err)
		default:
			log.Log(pctx, durabilityLevel(desc), "durability", "in_force", desc)
		}
	}
	cancel()

	var tr outbound.Transport
	if cfg.Outbound.Transport == "file" {
		tr = &outbound.Maildir{Dir: cfg.Outbound.FileDir}
	} else {
		o := cfg.Outbound.SMTP
		tr = &outbound.Relay{Host: o.Host, Port: o.Port, TLS: o.TLS, Username: o.Username, Password: o.Password, HelloName: cfg.SMTP.Hostname}
	}
	if wcfg.Sign, err = dkimSigner(cfg, log); err != nil {
		cleanup()
		return nil, err
	}
	worker := outbound.NewWorker(wcfg, st, tr, log.With("component", "outbound"), m)
	ing, err := ingest.New(cfg, st, m, log.With("component", "ingest"), worker.Kick)
	if err != nil {
		cleanup()
		return nil, err
	}

	var tlsCfg *tls.Config
	if cfg.SMTP.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.SMTP.TLS.CertFile, cfg.SMTP.TLS.KeyFile)
		if err != nil {
			cleanup()
			return nil, fmt.Errorf("smtp.tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	scfg := smtpd.Config{
		Hostname: cfg.SMTP.Hostname, MaxMessageBytes: cfg.SMTP.MaxMessageBytes, MaxRecipients: cfg.SMTP.MaxRecipients,
		MaxSessions: cfg.SMTP.MaxSessions, MaxPerIP: cfg.SMTP.MaxSessionsPerIP, MaxErrors: cfg.SMTP.MaxErrors, ReadTimeout: cfg.SMTP.ReadTimeout.D(), TLS: tlsCfg,
	}
	d := &Daemon{done: make(chan struct{}), ing: ing, cfg: cfg, rules: newLiveRules(cfg)}
	scfg.Rules = d.rules
	var servers []*smtpd.Server
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
		cleanup()
	}
	smtpL, err := net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("smtp.listen: %w", err)
	}
	listeners = append(listeners, smtpL)
	d.SMTPAddr = smtpL.Addr().String()
	servers = append(servers, smtpd.New(scfg, ing, log.With("component", "smtp"), m))
	if cfg.LMTP.Listen != "" {
		l, err := listenLMTP(cfg.LMTP)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("lmtp.listen: %w", err)
		}
		listeners = append(listeners, l)
		d.LMTPAddr = l.Addr().String()
		lc := scfg
		lc.LMTP = true
		servers = append(servers, smtpd.New(lc, ing, log.With("component", "lmtp"), m))
	}
	ml, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	d.MetricsAddr = ml.Addr().String()
	d.listeners = listeners
	if cfg.DevMode {
		if c, ok := rdb.(*redis.Client); ok {
			writeDevStoreFile(c.Options().Addr)
		}
	}
	hsrv := &http.Server{Handler: m.Handler(st.Ping), ReadHeaderTimeout: 10 * time.Second}

	wctx, stopWorker := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); worker.Run(wctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); ing.RunAutoClose(wctx, st, wcfg.AutoCloseEvery) }()
	wg.Add(1)
	go func() { defer wg.Done(); ing.RunClocks(wctx, st) }()
	// Every listener serves in one group: the first to fail cancels gctx, which stops the
	// whole daemon with that error, so that a supervisor restarts it. A process with a dead
	// listener would otherwise stay up, healthy to /healthz, taking no mail.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := hsrv.Serve(ml); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics listener %s: %w", d.MetricsAddr, err)
		}
		return nil
	})
	for i, s := range servers {
		l := listeners[i]
		g.Go(func() error {
			if err := s.Serve(l); err != nil {
				return fmt.Errorf("listener %s: %w", l.Addr(), err)
			}
			return nil
		})
	}
	log.Info("mailgate started", "smtp", d.SMTPAddr, "lmtp", d.LMTPAddr, "metrics", d.MetricsAddr,
		"queues", cfg.Support.Addresses, "outbound", cfg.Outbound.Transport)

	go func() {
		<-gctx.Done()
		if ctx.Err() == nil {
			log.Error("a listener failed: stopping mailgate")
		}
		log.Info("shutting down: no new sessions, closing idle ones, finishing transactions in flight", "timeout", ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		for _, s := range servers {
			if err := s.Shutdown(sctx); err != nil {
				// Bounded: sessions still open now are cut; their MTAs retry what got no 250.
				log.Warn("sessions still open at the shutdown deadline were closed", "err", err)
			}
		}
		stopWorker()
		_ = hsrv.Shutdown(sctx)
		d.err = g.Wait()
		wg.Wait()
		if r, ok := tr.(*outbound.Relay); ok {
			r.Close()
		}
		cleanup()
		log.Info("mailgate stopped")
		close(d.done)
	}()
	return d, nil
}

// openStore connects to redis.url, or in dev mode starts the embedded store.
func openStore(cfg config.Config, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if !cfg.DevMode {
		rdb, err := store.Dial(cfg.Redis.URL)
		if err != nil {
			return nil, nil, err
		}
		return rdb, func() { rdb.Close() }, nil
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("embedded store: %w", err)
	}
	log.Warn("DEV MODE: no config file given. Tickets live in an embedded IN-MEMORY store and are LOST when mailgate stops; outbound mail goes to the Maildir "+cfg.Outbound.FileDir+". Run with --config FILE in production.",
		"smtp", cfg.SMTP.Listen, "support_address", cfg.Support.Addresses[0], "store", mr.Addr())
	addr := mr.Addr()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	return rdb, func() {
		rdb.Close()
		mr.Close()
		removeDevStoreFile(addr)
	}, nil
}

// writeDevStoreFile tells the CLI where the embedded store is. It is written only once every
// listener is bound: a second dev daemon in the same directory fails before it gets here.
func writeDevStoreFile(addr string) {
	_ = os.MkdirAll(filepath.Dir(devStoreFile), 0o750)
	_ = os.WriteFile(devStoreFile, []byte(addr), 0o640)
}

// removeDevStoreFile removes the file only if it still names our store: it may be another
// daemon's by now.
func removeDevStoreFile(addr string) {
	if b, err := os.ReadFile(devStoreFile); err == nil && string(b) == addr {
		_ = os.Remove(devStoreFile)
	}
}
