package main

import (
	"context"
	"testing"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/loadgen"
)

// BenchmarkIngest measures the whole daemon in-process (for pprof):
// go test -run '^$' -bench Ingest -benchtime 5000x -cpuprofile cpu.out ./cmd/mailgate
func BenchmarkIngest(b *testing.B) { benchIngest(b, nil) }

// BenchmarkIngestNotify is BenchmarkIngest with one agents' notify address, as `mailgate bench`
// runs: each message also causes a notice, and both mails go through the relay.
func BenchmarkIngestNotify(b *testing.B) { benchIngest(b, []string{"team@example.com"}) }

func benchIngest(b *testing.B, notify []string) {
	e := startEnv(b, func(c *config.Config) { c.Agents.Notify = notify })
	b.ResetTimer()
	res := loadgen.Run(context.Background(), loadgen.Options{Addr: e.d.SMTPAddr, Sessions: 32, Count: b.N, Size: 2048,
		To: "support@example.com", Agent: "example.com"})
	b.StopTimer()
	if len(res.Accepted) != b.N {
		b.Fatalf("accepted %d of %d: %s", len(res.Accepted), b.N, res.ErrorSummary())
	}
	b.ReportMetric(res.Rate(), "msgs/s")
	b.ReportMetric(float64(res.Percentile(99).Microseconds())/1000, "p99-ms")
}

// BenchmarkIngestAttachments is the 100 KB-with-PDF workload in-process, for pprof.
func BenchmarkIngestAttachments(b *testing.B) {
	e := startEnv(b, func(c *config.Config) { c.Agents.Notify = nil })
	b.ResetTimer()
	res := loadgen.Run(context.Background(), loadgen.Options{Addr: e.d.SMTPAddr, Sessions: 8, Count: b.N, Size: 102400,
		Attach: true, To: "support@example.com", Agent: "example.com"})
	b.StopTimer()
	if len(res.Accepted) != b.N {
		b.Fatalf("accepted %d of %d: %s", len(res.Accepted), b.N, res.ErrorSummary())
	}
	b.ReportMetric(res.Rate(), "msgs/s")
}
