// Package buildinfo says which mailgate this is: version, commit and Go version, for
// `mailgate version` and the mailgate_build_info metric.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// version and commit are set at link time by release builds:
//
//	go build -ldflags "-X github.com/mailgate/mailgate/internal/buildinfo.version=v1.2.0
//	  -X github.com/mailgate/mailgate/internal/buildinfo.commit=$(git rev-parse HEAD)"
//
// Without them, what the Go toolchain recorded in the binary is used.
var (
	version = ""
	commit  = ""
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
}

// Get returns the binary's build information; unknown parts are "unknown" (version "devel").
func Get() Info {
	in := Info{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && in.Commit == "" {
				in.Commit = s.Value
			}
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}
