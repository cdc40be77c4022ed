package main

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestMetricsPassPromtool: the exposition as scraped passes `promtool check metrics` (names,
// units, _total on counters), and readiness is exported for alert rules.
func TestMetricsPassPromtool(t *testing.T) {
	e := startEnv(t, nil)
	if got := e.metric("mailgate_ready "); got != "mailgate_ready 1" {
		t.Fatalf("mailgate_ready with Redis up: %q", got)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (scripts/test installs it)")
	}
	resp, err := http.Get("http://" + e.d.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
