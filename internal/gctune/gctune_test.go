package gctune

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercentKeepsTheExtraHeapUnderHeadroom(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, MaxPercent},
		{10 << 20, MaxPercent},
		{Headroom / 4, MaxPercent},
		{Headroom / 2, 200},
		{Headroom, 100},
		{4 * Headroom, 100},
	} {
		if got := Percent(c.live); got != c.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
	// Whatever the live heap, the target is at most Headroom above GOGC=100's.
	for live := uint64(1 << 20); live < 2*Headroom; live += 7 << 20 {
		p := uint64(Percent(live))
		if extra := live * p / 100; extra > live+Headroom {
			t.Fatalf("live %d MiB: %d%% lets the heap grow %d MiB, over %d MiB more than 100%% would",
				live>>20, p, extra>>20, Headroom>>20)
		}
	}
}

func TestOperatorsGOGCWins(t *testing.T) {
	if Tuned([]string{"HOME=/root", "GOGC=50"}) {
		t.Fatal("GOGC is set: the percentage is the operator's")
	}
	if !Tuned([]string{"HOME=/root", "GOMEMLIMIT=1GiB", "XGOGC=50"}) {
		t.Fatal("GOGC is not set: the percentage is ours")
	}
}

// TestRunSetsThePercentage runs one adjustment (the context is over already) and reads back what
// it set; with GOGC in the environment it sets nothing.
func TestRunSetsThePercentage(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	Run(ctx, []string{"GOGC=100"}, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the percentage became %d", got)
	}

	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	want := Percent(sample[0].Value.Uint64())
	Run(ctx, nil, log)
	if got := debug.SetGCPercent(100); got != want {
		t.Fatalf("percentage %d, want %d for a live heap of %d bytes", got, want, sample[0].Value.Uint64())
	}
	if want == 100 {
		t.Fatal("the test's own heap should be small enough for a raised percentage")
	}
}
