package buildinfo

import (
	"runtime"
	"testing"
)

func TestLinkTimeValuesWin(t *testing.T) {
	if in := Get(); in.Version == "" || in.Commit == "" || in.GoVersion != runtime.Version() {
		t.Fatalf("Get() = %+v: no part may be empty", in)
	}
	version, commit = "v1.2.3", "abc123"
	defer func() { version, commit = "", "" }()
	if in := Get(); in.Version != "v1.2.3" || in.Commit != "abc123" {
		t.Fatalf("Get() = %+v, want the -X values", in)
	}
}
