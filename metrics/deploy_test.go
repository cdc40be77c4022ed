package metrics

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDeployFilesUseKnownMetrics keeps the alert rules and the Grafana dashboard in deploy/
// in step with the metrics mailgate exports: a renamed metric would leave an alert that can
// never fire.
func TestDeployFilesUseKnownMetrics(t *testing.T) {
	m := New()
	m.Handler(func(context.Context) error { return nil }) // registers mailgate_ready
	known := map[string]bool{}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		known[name] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			known[name+suffix] = true
		}
	}
	// Exported only when service levels are configured (sla.*), on the same registry.
	for _, n := range []string{"mailgate_sla_breaches_total", "mailgate_sla_at_risk"} {
		known[n] = true
	}
	used := regexp.MustCompile(`mailgate_[a-z_]+`)
	for _, f := range []string{"../deploy/prometheus/alerts.yml", "../deploy/grafana/mailgate.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range used.FindAllString(string(b), -1) {
			if !known[name] {
				t.Errorf("%s uses %s, which mailgate does not export", f, name)
			}
		}
	}
}

// TestMetricsAreDocumented: every metric mailgate exports has its row in docs/metrics.md.
func TestMetricsAreDocumented(t *testing.T) {
	m := New()
	m.Handler(func(context.Context) error { return nil })
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if strings.HasPrefix(name, "mailgate_") && !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/metrics.md has no row for %s", name)
		}
	}
}
