package main

import (
	"flag"
	"fmt"

	"github.com/mailgate/mailgate/internal/buildinfo"
)

func versionCommands() []command {
	return []command{{
		name: "version", help: "print the version, commit and Go version (also --version)",
		flags: func(fs *flag.FlagSet) any { return jsonFlag(fs) },
		run: func(c *cmdEnv, o any, _ []string) int {
			in := buildinfo.Get()
			if *o.(*bool) {
				if err := writeJSON(c.stdout, in); err != nil {
					return exitFailed
				}
				return exitOK
			}
			fmt.Fprintf(c.stdout, "mailgate %s (commit %s, %s)\n", in.Version, in.Commit, in.GoVersion)
			return exitOK
		},
	}}
}
