package main

import (
	"flag"
	"fmt"

	"github.com/mailgate/mailgate/config"
)

func serveCommands() []command {
	return []command{{
		name: "serve", help: "run the daemon (no --config: dev mode)",
		run: func(c *cmdEnv, _ any, _ []string) int { return cmdServe(c.cfgPath, c.stderr, c.environ) },
	}}
}

func configCommands() []command {
	return []command{{
		name: "config check", help: "validate the configuration and print it in effect (secrets masked)",
		run: func(c *cmdEnv, _ any, _ []string) int {
			if c.cfgPath == "" {
				return usageErr(c.stderr, "config check needs --config FILE")
			}
			cfg, err := config.Load(c.cfgPath, c.environ)
			if err != nil {
				fmt.Fprintf(c.stderr, "mailgate: %s: %v\n", c.cfgPath, err)
				return exitFailed
			}
			fmt.Fprintf(c.stdout, "# %s is valid; effective configuration (secrets masked):\n%s", c.cfgPath, cfg.Masked())
			return exitOK
		},
	}}
}

// jsonFlag declares --json, which most listing commands take.
func jsonFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON")
}
