package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/outbound"
)

func TestNoticeBurstGathersIntoOneSummary(t *testing.T) {
	d := newDesk(t, func(c *config.Config) { c.Agents.NoticeBurst = "2/5m" })
	p := d.process()
	for i := range 5 {
		d.deliver(p, fmt.Sprintf("c%d@customer.example", i), fmt.Sprintf("Outage %d", i), "Nothing works.")
	}
	if n := len(d.queued("notice")); n != 2 {
		t.Fatalf("%d notices, want the first 2", n)
	}
	if n := len(d.queued("ack")); n != 5 {
		t.Fatalf("%d acknowledgements, want 5: customers are unaffected", n)
	}
	// Not before the window ends (10:00 + 5m).
	if n, _ := p.SummariesOnce(context.Background(), d.st); n != 0 {
		t.Fatalf("a summary before the window ended")
	}
	d.now = paris(t, "2026-11-23T10:05")
	var wg sync.WaitGroup
	for _, in := range []*Ingester{p, d.process(), d.process()} {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = in.SummariesOnce(context.Background(), d.st) }()
	}
	wg.Wait()
	if n, _ := d.process().SummariesOnce(context.Background(), d.st); n != 0 {
		t.Fatal("a second summary")
	}
	sums := d.raws(outbound.KindNoticeSummary)
	if len(sums) != 1 {
		t.Fatalf("%d summaries, want 1", len(sums))
	}
	for i, tag := range []string{"#TID30003", "#TID30004", "#TID30005"} {
		if strings.Count(sums[0], tag) < 1 {
			t.Fatalf("ticket %d (%s) missing from the summary:\n%s", i, tag, sums[0])
		}
	}
	if strings.Contains(sums[0], "#TID30001") || strings.Contains(sums[0], "#TID30002") {
		t.Fatalf("a ticket both noticed and summarised:\n%s", sums[0])
	}
	// A new window starts a new count: the next ticket gets its notice.
	d.deliver(p, "late@customer.example", "Outage again", "Still down.")
	if n := len(d.queued("notice")); n != 3 {
		t.Fatalf("%d notices after the window, want 3", n)
	}
}
