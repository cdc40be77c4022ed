package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/mailgate/mailgate/config"
)

// newLogger builds the daemon's logger from the log section: text or JSON lines on w, the
// level read from lv at each line (so SIGHUP can change it), and warnings rate-limited.
func newLogger(w io.Writer, lc config.Log, lv *slog.LevelVar) *slog.Logger {
	lv.Set(lc.SlogLevel())
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if lc.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(newRateLimited(h, time.Minute, time.Now))
}

// rateLimited passes at most one warning or error per window among identical ones (same
// component, message and attributes): during a Redis outage the same failure repeats every
// second, and a log that floods hides what else happened. The first line after a window
// carries suppressed=N, the number of lines left out. Lines about one mail each (a dead
// letter, with its outbox_id) differ and all pass, as do info and debug lines.
type rateLimited struct {
	next  slog.Handler
	l     *limiter
	scope string // the attributes and groups added with With, part of "the same"
}

type limiter struct {
	mu     sync.Mutex
	every  time.Duration
	now    func() time.Time
	recent map[string]*window
}

type window struct {
	start      time.Time
	suppressed int
}

// maxKeys bounds the limiter's memory when messages vary without end.
const maxKeys = 1024

func newRateLimited(next slog.Handler, every time.Duration, now func() time.Time) slog.Handler {
	return &rateLimited{next: next, l: &limiter{every: every, now: now, recent: map[string]*window{}}}
}

func (h *rateLimited) Enabled(ctx context.Context, lv slog.Level) bool {
	return h.next.Enabled(ctx, lv)
}

func (h *rateLimited) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	var key strings.Builder
	key.WriteString(h.scope + "\x00" + r.Level.String() + "\x00" + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&key, "\x00%s=%v", a.Key, a.Value)
		return true
	})
	pass, suppressed := h.l.allow(key.String())
	if !pass {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (h *rateLimited) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.scope)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return &rateLimited{next: h.next.WithAttrs(as), l: h.l, scope: b.String()}
}

func (h *rateLimited) WithGroup(name string) slog.Handler {
	return &rateLimited{next: h.next.WithGroup(name), l: h.l, scope: h.scope + " " + name + "."}
}

// allow reports whether a line with key may pass now and, if so, how many were left out
// since the last one that passed.
func (l *limiter) allow(key string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.recent[key]
	if w != nil && now.Sub(w.start) < l.every {
		w.suppressed++
		return false, 0
	}
	n := 0
	if w != nil {
		n = w.suppressed
	}
	if len(l.recent) >= maxKeys {
		for k, o := range l.recent {
			if now.Sub(o.start) >= l.every {
				delete(l.recent, k)
			}
		}
	}
	l.recent[key] = &window{start: now}
	return true, n
}

// durabilityLevel logs a store without persistence as a warning: accepted mail is lost on a
// Redis restart, which an operator must see.
func durabilityLevel(desc string) slog.Level {
	if strings.Contains(desc, "NO persistence") {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
