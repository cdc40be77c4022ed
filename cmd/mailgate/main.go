// Command mailgate is the support-desk mail gateway: `serve` runs the daemon, the other
// commands read and manage its store (SPEC §5, §6).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/config"
)

const usage = `usage: mailgate <command> [flags]

  serve [--config FILE]                 run the daemon (no config: dev mode)
  config check --config FILE            validate and print the effective config
  ticket list [--status S] [--json]     tickets, newest update first
  ticket show N [--json]                one ticket with its messages
  account add ADDRESS [--org ORG]       create or re-activate an account
  account disable ADDRESS
  account list [--json]
  outbox list [--dead] [--json]         queued (or dead) outbound mail
  outbox retry ID                       send a dead letter again
  quarantine list [--json]              messages that could not be parsed
  bench [--sessions N --count N --size B --mix --preload N]
                                        load test vs. bare go-smtp and naive pipeline

Every command takes --config FILE anywhere (or MAILGATE_CONFIG=FILE).
`

// Exit statuses of SPEC §6.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	flagNoValue  = ""
	flagHasValue = "value"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

// args is a parsed command line: positionals in order and flags wherever they stood.
type args struct {
	pos   []string
	flags map[string]string
}

// known flags and whether they take a value.
var knownFlags = map[string]string{
	"config": flagHasValue, "json": flagNoValue, "dead": flagNoValue, "status": flagHasValue,
	"org": flagHasValue, "limit": flagHasValue, "help": flagNoValue,
}

func parseArgs(in []string) (args, error) {
	a := args{flags: map[string]string{}}
	for i := 0; i < len(in); i++ {
		s := in[i]
		if s == "--" {
			a.pos = append(a.pos, in[i+1:]...)
			break
		}
		if !strings.HasPrefix(s, "-") || s == "-" {
			a.pos = append(a.pos, s)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(s, "-"), "=")
		kind, ok := knownFlags[name]
		if !ok {
			return a, fmt.Errorf("unknown flag %s", s)
		}
		if kind == flagHasValue && !hasVal {
			if i+1 >= len(in) {
				return a, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			val = in[i]
		}
		if kind == flagNoValue && hasVal {
			return a, fmt.Errorf("flag --%s takes no value", name)
		}
		a.flags[name] = val
	}
	return a, nil
}

func (a args) has(f string) bool { _, ok := a.flags[f]; return ok }

func run(argv []string, stdout, stderr io.Writer, environ []string) int {
	if len(argv) > 0 && argv[0] == "bench" {
		return cmdBench(argv[1:], stdout, stderr)
	}
	if len(argv) > 0 && argv[0] == "bench-serve" {
		return cmdBenchServe(argv[1:], stderr)
	}
	a, err := parseArgs(argv)
	if err != nil {
		fmt.Fprintf(stderr, "mailgate: %v\n\n%s", err, usage)
		return exitUsage
	}
	if len(a.pos) == 0 || a.has("help") {
		fmt.Fprint(stderr, usage)
		if a.has("help") {
			return exitOK
		}
		return exitUsage
	}
	cfgPath := a.flags["config"]
	if cfgPath == "" {
		cfgPath = getenv(environ, "MAILGATE_CONFIG")
	}
	switch a.pos[0] {
	case "serve":
		if len(a.pos) != 1 {
			return usageErr(stderr, "serve takes no arguments")
		}
		return cmdServe(cfgPath, stderr, environ)
	case "config":
		if len(a.pos) != 2 || a.pos[1] != "check" {
			return usageErr(stderr, "usage: mailgate config check --config FILE")
		}
		if cfgPath == "" {
			return usageErr(stderr, "config check needs --config FILE")
		}
		cfg, err := config.Load(cfgPath, environ)
		if err != nil {
			fmt.Fprintf(stderr, "mailgate: %s: %v\n", cfgPath, err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "# %s is valid; effective configuration (secrets masked):\n%s", cfgPath, cfg.Masked())
		return exitOK
	case "ticket", "account", "outbox", "quarantine":
		return cmdStore(a, cfgPath, stdout, stderr, environ)
	}
	return usageErr(stderr, "unknown command "+a.pos[0])
}

func usageErr(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "mailgate: %s\n\n%s", msg, usage)
	return exitUsage
}

func getenv(environ []string, k string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

func cmdServe(cfgPath string, stderr io.Writer, environ []string) int {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	redis.SetLogger(redisLogger{log})
	var cfg config.Config
	var err error
	if cfgPath == "" {
		if cfg, err = config.DevFromEnv(environ); err != nil {
			fmt.Fprintf(stderr, "mailgate: %v\n", err)
			return exitFailed
		}
		fmt.Fprint(stderr, devBanner)
	} else {
		if cfg, err = config.Load(cfgPath, environ); err != nil {
			fmt.Fprintf(stderr, "mailgate: %s: %v\n", cfgPath, err)
			return exitFailed
		}
	}
	ctx, stop := signalContext()
	defer stop()
	// Registered before start-up, so that an early SIGHUP does not terminate the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := startDaemon(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	go func() {
		for range hup {
			reload(d, cfgPath, environ, log)
		}
	}()
	if err := d.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("shutdown was not clean", "err", err)
		return exitFailed
	}
	return exitOK
}

// reload re-reads the config file on SIGHUP; a file that does not validate changes nothing.
func reload(d *Daemon, cfgPath string, environ []string, log *slog.Logger) {
	if cfgPath == "" {
		log.Warn("SIGHUP in dev mode: there is no config file to reload")
		return
	}
	cfg, err := config.Load(cfgPath, environ)
	if err != nil {
		log.Error("SIGHUP: config not reloaded", "file", cfgPath, "err", err)
		return
	}
	restart, err := d.Reload(cfg)
	if err != nil {
		log.Error("SIGHUP: config not reloaded", "file", cfgPath, "err", err)
		return
	}
	log.Info("SIGHUP: config reloaded", "file", cfgPath, "needs_restart", restart)
}

// signalContext ends on SIGTERM or interrupt.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

const devBanner = `
==========================================================================
  mailgate DEV MODE (no --config): SMTP on 127.0.0.1:2525,
  support address support@localhost, agents @agents.localhost,
  EMBEDDED IN-MEMORY STORE (lost on exit), outbound mail in ./data/outbox
==========================================================================

`
