// Command mailgate is the support-desk mail gateway: `serve` runs the daemon, the other
// commands read and manage its store.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/gctune"
)

func cmdServe(cfgPath string, stderr io.Writer, environ []string) int {
	var cfg config.Config
	var err error
	if cfgPath == "" {
		cfg, err = config.DevFromEnv(environ)
	} else if cfg, err = config.Load(cfgPath, environ); err != nil {
		err = fmt.Errorf("%s: %w", cfgPath, err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	// The logger follows the config, so that with log.format: json every line is JSON.
	var level slog.LevelVar
	log := newLogger(stderr, cfg.Log, &level)
	redis.SetLogger(redisLogger{log})
	if cfg.DevMode && cfg.Log.Format == "text" {
		fmt.Fprintf(stderr, devBanner, cfg.SMTP.Listen)
	}
	ctx, stop := signalContext()
	defer stop()
	go gctune.Run(ctx, environ, log)
	// Registered before start-up, so that an early SIGHUP does not terminate the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := startDaemon(ctx, cfg, log)
	if err != nil {
		log.Error("mailgate did not start", "err", err)
		return exitFailed
	}
	go func() {
		for range hup {
			reload(d, cfgPath, environ, log, &level)
		}
	}()
	if err := d.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("shutdown was not clean", "err", err)
		return exitFailed
	}
	return exitOK
}

// reload re-reads the config file on SIGHUP; a file that does not validate changes nothing.
func reload(d *Daemon, cfgPath string, environ []string, log *slog.Logger, level *slog.LevelVar) {
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
	level.Set(cfg.Log.SlogLevel())
	log.Info("SIGHUP: config reloaded", "file", cfgPath, "needs_restart", restart)
}

// signalContext ends on SIGTERM or interrupt.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

const devBanner = `
==========================================================================
  mailgate DEV MODE (no --config): SMTP on %s,
  support address support@localhost, agents @agents.localhost,
  EMBEDDED IN-MEMORY STORE (lost on exit), outbound mail in ./data/outbox
==========================================================================

`
