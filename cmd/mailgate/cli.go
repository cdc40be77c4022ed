package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/store"
)

// Exit statuses: 0 ok, 1 not found or failed, 2 usage.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// command is one CLI subcommand with its own flag set. Its flags may stand anywhere on the
// command line, before or after its positional arguments.
type command struct {
	name  string // "ticket show"
	args  string // positional arguments as shown in usage ("N")
	nargs int    // exact number of positional arguments
	help  string // one line for the overview; the first sentence of the command's -h
	// flags declares the command's own flags (--config is declared for every command) and
	// returns what run needs of them.
	flags func(fs *flag.FlagSet) any
	run   func(c *cmdEnv, opts any, pos []string) int
}

// commands lists every subcommand; each group's commands live in cmd_<group>.go.
func commands() []command {
	var cs []command
	cs = append(cs, serveCommands()...)
	cs = append(cs, configCommands()...)
	cs = append(cs, ticketListCommands()...)
	cs = append(cs, ticketCommands()...)
	cs = append(cs, accountCommands()...)
	cs = append(cs, outboxCommands()...)
	cs = append(cs, quarantineCommands()...)
	cs = append(cs, dkimCommands()...)
	cs = append(cs, versionCommands()...)
	cs = append(cs, ticketRawCommands()...)
	return cs
}

// cmdEnv is one invocation: where it writes, its environment and the config it names.
type cmdEnv struct {
	stdout, stderr io.Writer
	environ        []string
	cfgPath        string
}

func main() {
	// go-redis's own lines (pool and reconnect notes) are not the CLI's output; `serve`
	// routes them into its log at debug level.
	redis.SetLogger(redisLogger{slog.New(slog.DiscardHandler)})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

func run(argv []string, stdout, stderr io.Writer, environ []string) int {
	if len(argv) > 0 && argv[0] == "bench" {
		return cmdBench(argv[1:], stdout, stderr)
	}
	if len(argv) > 0 && argv[0] == "bench-serve" {
		return cmdBenchServe(argv[1:], stderr)
	}
	if len(argv) == 1 && (argv[0] == "--version" || argv[0] == "-version") {
		argv = []string{"version"}
	}
	cs := commands()
	cmd, rest, err := findCommand(cs, argv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, overview(cs))
			return exitOK
		}
		fmt.Fprintf(stderr, "mailgate: %v\n\n%s", err, overview(cs))
		return exitUsage
	}
	fs := flag.NewFlagSet("mailgate "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "configuration `FILE` (or MAILGATE_CONFIG=FILE; none: dev mode)")
	var opts any
	if cmd.flags != nil {
		opts = cmd.flags(fs)
	}
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, commandUsage(cmd, fs))
		return exitOK
	}
	if err == nil && len(pos) != cmd.nargs {
		err = fmt.Errorf("%s takes %d argument(s) (%s), got %d", cmd.name, cmd.nargs, cmd.args, len(pos))
		if cmd.nargs == 0 {
			err = fmt.Errorf("%s takes no arguments, got %q", cmd.name, strings.Join(pos, " "))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgate: %v\n\n%s", err, commandUsage(cmd, fs))
		return exitUsage
	}
	c := &cmdEnv{stdout: stdout, stderr: stderr, environ: environ, cfgPath: *cfgPath}
	if c.cfgPath == "" {
		c.cfgPath = getenv(environ, "MAILGATE_CONFIG")
	}
	return cmd.run(c, opts, pos)
}

// findCommand picks the command named on the command line and returns the other words (flags
// and positional arguments) in order. The command's words may be preceded by flags
// (`mailgate --json ticket show 1`): the first word that names a command group starts it.
func findCommand(cs []command, argv []string) (command, []string, error) {
	groups := map[string]bool{}
	for _, c := range cs {
		g, _, _ := strings.Cut(c.name, " ")
		groups[g] = true
	}
	for i, w := range argv {
		if w == "--" {
			break
		}
		if !groups[w] {
			if w == "help" || w == "-h" || w == "-help" || w == "--help" {
				return command{}, nil, flag.ErrHelp
			}
			continue
		}
		rest := append(append([]string{}, argv[:i]...), argv[i+1:]...)
		var subs []string
		for _, c := range cs {
			if c.name == w {
				return c, rest, nil
			}
			if g, s, ok := strings.Cut(c.name, " "); ok && g == w {
				subs = append(subs, s)
			}
		}
		// The sub-command is the first word after the group that is not a flag.
		for j := i + 1; j < len(argv); j++ {
			if strings.HasPrefix(argv[j], "-") {
				continue
			}
			for _, c := range cs {
				if c.name == w+" "+argv[j] {
					rest := append(append([]string{}, argv[:i]...), argv[i+1:j]...)
					return c, append(rest, argv[j+1:]...), nil
				}
			}
			break
		}
		if hasHelpFlag(argv[i+1:]) {
			return command{}, nil, flag.ErrHelp
		}
		return command{}, nil, fmt.Errorf("%s needs one of: %s", w, strings.Join(subs, ", "))
	}
	if len(argv) == 0 {
		return command{}, nil, errors.New("no command given")
	}
	if hasHelpFlag(argv) {
		return command{}, nil, flag.ErrHelp
	}
	return command{}, nil, fmt.Errorf("unknown command %q", argv[0])
}

func hasHelpFlag(ws []string) bool {
	for _, w := range ws {
		if w == "-h" || w == "--help" || w == "-help" {
			return true
		}
	}
	return false
}

// parseInterspersed parses fs over words where flags and positionals mix, as the rest of the
// world's CLIs allow (`ticket show 30001 --json`); the standard flag package stops at the
// first positional.
func parseInterspersed(fs *flag.FlagSet, words []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(words); err != nil {
			return nil, err
		}
		words = fs.Args()
		if len(words) == 0 {
			return pos, nil
		}
		if words[0] == "--" {
			return append(pos, words[1:]...), nil
		}
		pos = append(pos, words[0])
		words = words[1:]
	}
}

func overview(cs []command) string {
	var b strings.Builder
	b.WriteString("usage: mailgate <command> [flags]\n\n")
	for _, c := range cs {
		left := c.name
		if c.args != "" {
			left += " " + c.args
		}
		fmt.Fprintf(&b, "  %-28s %s\n", left, c.help)
	}
	b.WriteString("  bench [flags]                load test vs. bare go-smtp and naive pipeline\n")
	b.WriteString("\nEvery command takes --config FILE anywhere (or MAILGATE_CONFIG=FILE);\n`mailgate <command> -h` lists its flags.\n")
	return b.String()
}

func commandUsage(c command, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: mailgate %s", c.name)
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	fmt.Fprintf(&b, " [flags]\n\n%s\n\nflags:\n", c.help)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

func usageErr(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "mailgate: %s (see `mailgate -h`)\n", msg)
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

// store opens the store `serve` uses: the config's Redis, or the running dev daemon's
// embedded store.
func (c *cmdEnv) store() (*store.Store, func(), error) {
	if c.cfgPath == "" {
		addr, err := os.ReadFile(devStoreFile)
		if err != nil {
			return nil, nil, errors.New("no --config given and no dev-mode daemon running here (start `mailgate serve` in this directory, or pass --config FILE)")
		}
		cfg := config.Dev()
		rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSpace(string(addr))})
		return store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID}), func() { rdb.Close() }, nil
	}
	cfg, err := config.Load(c.cfgPath, c.environ)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.cfgPath, err)
	}
	rdb, err := store.Dial(cfg.Redis.URL)
	if err != nil {
		return nil, nil, err
	}
	return store.New(rdb, store.Options{KeyPrefix: cfg.Redis.KeyPrefix, FirstID: cfg.Tickets.FirstID}), func() { rdb.Close() }, nil
}

// withStore opens the store, runs f and turns its error into exit status 1.
func (c *cmdEnv) withStore(f func(st *store.Store) error) int {
	st, closeFn, err := c.store()
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	defer closeFn()
	if err := f(st); err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// noteCut tells on stderr that a listing stopped at its limit, so that no rows go missing
// in silence.
func (c *cmdEnv) noteCut(n int, limit int64) {
	if int64(n) >= limit {
		fmt.Fprintf(c.stderr, "mailgate: showing the first %d; pass --limit N for more\n", limit)
	}
}
