package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/mailgate/mailgate/auth"
	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/outbound"
)

// dkimSigner returns the signing step of the outbound worker, or nil when outbound.dkim is
// not set. A key that cannot be read or parsed stops start-up.
func dkimSigner(cfg config.Config, log *slog.Logger) (func([]byte) ([]byte, error), error) {
	d := cfg.Outbound.DKIM
	if !d.Enabled() {
		return nil, nil
	}
	key, err := config.LoadDKIMKey(d.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("outbound.dkim.key_file: %w", err)
	}
	// DMARC passes on DKIM only when the signing domain aligns with the From domain (the
	// support address's); say so now rather than let the mail land in spam.
	for _, a := range cfg.Support.Addresses {
		_, dom, _ := strings.Cut(a, "@")
		if !auth.Aligned(d.Domain, dom) {
			log.Warn("outbound.dkim.domain does not align with a support address: DMARC will not pass on its mail",
				"dkim_domain", d.Domain, "support_address", a)
		}
	}
	log.Info("outbound mail is DKIM-signed", "domain", d.Domain, "selector", d.Selector)
	return outbound.NewDKIMSigner(d.Domain, d.Selector, key).Sign, nil
}
