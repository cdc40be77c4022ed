package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/mailgate/mailgate/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, stderr, code := cli(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "mailgate ") || !strings.Contains(out, "commit ") || !strings.Contains(out, runtime.Version()) {
			t.Fatalf("%v: exit %d %q %q", args, code, out, stderr)
		}
	}
	out, _, _ := cli(t, "version", "--json")
	in := decodeJSON[buildinfo.Info](t, out)
	if in != buildinfo.Get() || in.GoVersion != runtime.Version() {
		t.Fatalf("version --json = %+v", in)
	}
}

func TestBuildInfoMetric(t *testing.T) {
	e := startEnv(t, nil)
	bi := buildinfo.Get()
	got := e.metric("mailgate_build_info{")
	want := `mailgate_build_info{commit="` + bi.Commit + `",goversion="` + bi.GoVersion + `",version="` + bi.Version + `"} 1`
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
