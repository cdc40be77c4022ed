// Package gctune sets the garbage collector's target for a daemon whose live heap is small
// most of the time and sometimes large.
//
// Go's default (GOGC=100) collects each time the heap doubles. With the few tens of MB a
// mailgate process usually holds, that is a collection every few hundred messages, and
// collecting and allocating under it took about a tenth of the daemon's CPU in `mailgate bench`.
// A higher percentage spends memory on fewer collections; to keep that bounded, the percentage
// follows the live heap so that the heap may grow at most Headroom past what the default lets
// it, and is the default again once the live heap alone is Headroom (large messages in flight).
package gctune

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"
)

const (
	// Headroom is the most memory the tuning adds to Go's default heap target.
	Headroom = 256 << 20
	// MaxPercent is the highest percentage set: past it, measured, collections were rare
	// enough that more memory bought little.
	MaxPercent = 400
	// Interval is how often the live heap is read: a collection of a small heap takes
	// milliseconds, and a heap that grows fast gets collected at its current percentage
	// meanwhile, never later than Go's own rules for that percentage.
	Interval = time.Second
)

// Percent is the GC percentage for a live heap of live bytes: the one that lets the heap grow
// by at most Headroom more than GOGC=100 would, between 100 and MaxPercent.
//
// With percentage p the heap may reach live*(1+p/100), that is live*(p/100-1) more than with
// 100; p = Headroom*100/live keeps that under Headroom-live.
func Percent(live uint64) int {
	if live == 0 {
		return MaxPercent
	}
	p := uint64(Headroom) * 100 / live
	switch {
	case p > MaxPercent:
		return MaxPercent
	case p < 100:
		return 100
	}
	return int(p)
}

// Tuned reports whether the garbage collector is left to this package: not when the operator
// set GOGC, whose value Go has applied already.
func Tuned(environ []string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOGC=") {
			return false
		}
	}
	return true
}

// Run sets the percentage from the live heap now and then every Interval until ctx ends,
// unless environ sets GOGC. GOMEMLIMIT, when set, still bounds the heap: Go collects at the
// lower of the two targets.
func Run(ctx context.Context, environ []string, log *slog.Logger) {
	if !Tuned(environ) {
		log.Debug("GOGC is set: the garbage collector is left as it says")
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	cur := -1
	apply := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // not in this Go: leave the default
		}
		if p := Percent(sample[0].Value.Uint64()); p != cur {
			debug.SetGCPercent(p)
			cur = p
		}
	}
	apply()
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			apply()
		}
	}
}
