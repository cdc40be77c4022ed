// Package auth decides whether a message's From domain is authenticated (auth.* in the configuration):
// from Authentication-Results headers added by hosts we trust (RFC 8601), or by verifying
// DKIM signatures itself.
package auth

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"
)

// Verdict is what the checks say of the From domain.
type Verdict int

const (
	None Verdict = iota // nothing trusted says anything
	Pass
	Fail // a trusted check explicitly failed: the From is most likely forged
)

func (v Verdict) String() string { return [...]string{"none", "pass", "fail"}[v] }

// Policy is auth.* of the configuration.
type Policy struct {
	Require    string   // none | dkim | dmarc
	Trusted    []string // authserv-ids whose headers are read
	VerifyDKIM bool
	// LookupTXT resolves DKIM keys; nil uses the system resolver with a timeout.
	LookupTXT func(domain string) ([]string, error)
}

// Check returns the verdict for fromDomain under p. Headers are read in their order in raw;
// only the topmost group of Authentication-Results from trusted authserv-ids counts: it ends
// at the first Received: below it or at an A-R from another host, so anything the sender
// wrote lower down, even claiming our authserv-id, is ignored.
func Check(ctx context.Context, p Policy, raw []byte, fromDomain string) Verdict {
	if p.Require == "" || p.Require == "none" {
		return None
	}
	fromDomain = strings.ToLower(fromDomain)
	v := None
	if len(p.Trusted) > 0 {
		v = fromHeaders(p, trustedResults(raw, p.Trusted), fromDomain)
	}
	if v == None && p.VerifyDKIM && p.Require == "dkim" {
		v = verifyDKIM(ctx, p, raw, fromDomain)
	}
	return v
}

// trustedResults returns the results of the topmost trusted Authentication-Results group.
func trustedResults(raw []byte, trusted []string) []authres.Result {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil
	}
	var out []authres.Result
	inGroup := false
	for f := h.Fields(); f.Next(); {
		switch strings.ToLower(f.Key()) {
		case "authentication-results":
			id, results, err := authres.Parse(f.Value())
			if err != nil || !isTrusted(id, trusted) {
				// A header we cannot read or from another host ends the group; failing
				// closed means its results count for nothing.
				if inGroup {
					return out
				}
				continue
			}
			inGroup = true
			out = append(out, results...)
		case "received":
			if inGroup {
				return out
			}
		}
	}
	return out
}

func isTrusted(id string, trusted []string) bool {
	id = strings.ToLower(strings.TrimSpace(id))
	for _, t := range trusted {
		if strings.EqualFold(t, id) {
			return true
		}
	}
	return false
}

func fromHeaders(p Policy, results []authres.Result, fromDomain string) Verdict {
	pass, fail := false, false
	for _, r := range results {
		switch r := r.(type) {
		case *authres.DKIMResult:
			if p.Require != "dkim" {
				continue
			}
			d := strings.ToLower(r.Domain)
			if d == "" && r.Identifier != "" {
				_, d, _ = strings.Cut(strings.ToLower(r.Identifier), "@")
			}
			switch {
			case r.Value == authres.ResultPass && Aligned(d, fromDomain):
				pass = true
			case r.Value == authres.ResultFail && (d == "" || Aligned(d, fromDomain)):
				fail = true
			}
		case *authres.DMARCResult:
			if p.Require != "dmarc" {
				continue
			}
			if r.From != "" && !strings.EqualFold(r.From, fromDomain) {
				continue // a verdict about another From
			}
			switch r.Value {
			case authres.ResultPass:
				pass = true
			case authres.ResultFail:
				fail = true
			}
		}
	}
	switch {
	case pass:
		return Pass
	case fail:
		return Fail
	}
	return None
}

// Aligned is relaxed DKIM alignment (RFC 7489 §3.1.1): the signing domain and the From
// domain have the same organizational domain, found with the public suffix list. So
// mail.customer.example signing for customer.example aligns (and the reverse), while
// co.uk signing for customer.co.uk does not, nor does evil.co.uk.
func Aligned(signer, fromDomain string) bool {
	signer = strings.TrimSuffix(strings.ToLower(signer), ".")
	fromDomain = strings.TrimSuffix(strings.ToLower(fromDomain), ".")
	if signer == "" || fromDomain == "" {
		return false
	}
	if signer == fromDomain {
		return true
	}
	a, err := publicsuffix.EffectiveTLDPlusOne(signer)
	if err != nil {
		return false // a public suffix itself (co.uk) is nobody's organization
	}
	b, err := publicsuffix.EffectiveTLDPlusOne(fromDomain)
	return err == nil && a == b
}

func verifyDKIM(ctx context.Context, p Policy, raw []byte, fromDomain string) Verdict {
	lookup := p.LookupTXT
	if lookup == nil {
		lookup = func(domain string) ([]string, error) {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return net.DefaultResolver.LookupTXT(lctx, domain)
		}
	}
	// MaxVerifications bounds the DNS work a hostile message can cause: 0 would be unlimited.
	vs, _ := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: 5})
	fail := false
	for _, v := range vs {
		if !Aligned(v.Domain, fromDomain) {
			continue
		}
		if v.Err == nil {
			return Pass
		}
		// Only a signature that does not verify is evidence of forgery (RFC 8601 "fail");
		// a DNS hiccup (temperror) or a malformed signature (permerror) is not.
		if !dkim.IsTempFail(v.Err) && !dkim.IsPermFail(v.Err) {
			fail = true
		}
	}
	if fail {
		return Fail
	}
	return None
}
