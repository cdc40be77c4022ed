package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/mailgate/mailgate/outbound"
)

type keygenOpts struct {
	domain, selector, out, algorithm *string
}

func dkimCommands() []command {
	return []command{{
		name: "dkim keygen", help: "write a new DKIM private key and print the DNS TXT record to publish",
		flags: func(fs *flag.FlagSet) any {
			return keygenOpts{
				domain:    fs.String("domain", "", "signing `DOMAIN` (outbound.dkim.domain)"),
				selector:  fs.String("selector", "", "`SELECTOR` (outbound.dkim.selector), e.g. mg2026"),
				out:       fs.String("out", "", "private key `FILE` to create (PEM, mode 0600; never overwritten)"),
				algorithm: fs.String("algorithm", "rsa", "rsa (2048 bits) or ed25519"),
			}
		},
		run: cmdDKIMKeygen,
	}}
}

func cmdDKIMKeygen(c *cmdEnv, o any, _ []string) int {
	opts := o.(keygenOpts)
	if *opts.domain == "" || *opts.selector == "" || *opts.out == "" {
		return usageErr(c.stderr, "dkim keygen needs --domain, --selector and --out")
	}
	if *opts.algorithm != "rsa" && *opts.algorithm != "ed25519" {
		return usageErr(c.stderr, fmt.Sprintf("--algorithm %q: want rsa or ed25519", *opts.algorithm))
	}
	key, err := outbound.GenerateDKIMKey(*opts.algorithm)
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	record, err := outbound.DKIMRecord(key.Public())
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	// O_EXCL: replacing a key whose record is published would break every mail in flight.
	f, err := os.OpenFile(*opts.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(c.stderr, "mailgate: %s exists; not overwriting a key (pick a new selector and file)\n", *opts.out)
		return exitFailed
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "mailgate: %v\n", err)
		return exitFailed
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*opts.out)
		fmt.Fprintf(c.stderr, "mailgate: write %s: %v\n", *opts.out, err)
		return exitFailed
	}
	// The record alone on stdout, so that a script can capture it; the how-to on stderr.
	fmt.Fprintf(c.stderr, "mailgate: %s key written to %s\n", *opts.algorithm, *opts.out)
	fmt.Fprintf(c.stderr, "Publish this TXT record at %s._domainkey.%s, then set outbound.dkim:\n"+
		"  {domain: %s, selector: %s, key_file: %s}\n", *opts.selector, *opts.domain, *opts.domain, *opts.selector, *opts.out)
	fmt.Fprintln(c.stdout, record)
	return exitOK
}
