package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

const body = "From: alice@customer.example\r\nTo: support@example.com\r\nSubject: Re: [#TID30001] x\r\n\r\nhello\r\n"

func TestHeaders(t *testing.T) {
	trusted := []string{"mx.example.com"}
	tests := []struct {
		name, require, headers string
		want                   Verdict
	}{
		{"no headers", "dkim", "", None},
		{"trusted dkim pass aligned", "dkim", "Authentication-Results: mx.example.com; dkim=pass header.d=customer.example\r\n", Pass},
		{"bare TLD signer does not align", "dkim", "Authentication-Results: mx.example.com; dkim=pass header.d=example\r\n", None},
		{"dkim pass for another domain", "dkim", "Authentication-Results: mx.example.com; dkim=pass header.d=evil.example\r\n", None},
		{"trusted dkim fail", "dkim", "Authentication-Results: mx.example.com; dkim=fail header.d=customer.example\r\n", Fail},
		{"untrusted host is ignored", "dkim", "Authentication-Results: evil.example; dkim=pass header.d=customer.example\r\n", None},
		{"forged header below our Received is ignored", "dkim",
			"Authentication-Results: mx.example.com; dkim=fail header.d=customer.example\r\nReceived: from evil by mx.example.com\r\nAuthentication-Results: mx.example.com; dkim=pass header.d=customer.example\r\n", Fail},
		{"forged trusted header under an untrusted one is ignored", "dkim",
			"Received: from evil by mx.example.com\r\nAuthentication-Results: mx.example.com; dkim=pass header.d=customer.example\r\n", Pass},
		{"two trusted headers at the top form one group", "dmarc",
			"Authentication-Results: mx.example.com; dkim=pass header.d=customer.example\r\nAuthentication-Results: mx.example.com; dmarc=pass header.from=customer.example\r\nReceived: from a by b\r\n", Pass},
		{"dmarc pass", "dmarc", "Authentication-Results: mx.example.com; dmarc=pass header.from=customer.example\r\n", Pass},
		{"dmarc fail", "dmarc", "Authentication-Results: mx.example.com; dmarc=fail header.from=customer.example\r\n", Fail},
		{"dmarc about another From", "dmarc", "Authentication-Results: mx.example.com; dmarc=pass header.from=evil.example\r\n", None},
		{"dmarc mode ignores dkim", "dmarc", "Authentication-Results: mx.example.com; dkim=pass header.d=customer.example\r\n", None},
		{"require none", "none", "Authentication-Results: mx.example.com; dkim=fail header.d=customer.example\r\n", None},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.headers + body)
			if got := Check(context.Background(), Policy{Require: tc.require, Trusted: trusted}, raw, "customer.example"); got != tc.want {
				t.Fatalf("verdict %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAligned(t *testing.T) {
	for _, tc := range []struct {
		d, from string
		want    bool
	}{
		{"customer.example", "customer.example", true},
		{"customer.example", "mail.customer.example", true},
		{"mail.customer.example", "customer.example", true},
		{"mail.customer.example", "shop.customer.example", true},
		{"Customer.Example.", "customer.example", true},
		{"example", "customer.example", false},
		{"", "customer.example", false},
		{"stomer.example", "customer.example", false},
		// Public suffixes with a dot are nobody's organization.
		{"co.uk", "customer.co.uk", false},
		{"evil.co.uk", "customer.co.uk", false},
		{"mail.customer.co.uk", "customer.co.uk", true},
		{"github.io", "alice.github.io", false},
		{"bob.github.io", "alice.github.io", false},
	} {
		if got := Aligned(tc.d, tc.from); got != tc.want {
			t.Errorf("Aligned(%q, %q) = %v", tc.d, tc.from, got)
		}
	}
}

func sign(t *testing.T, domain string, key ed25519.PrivateKey, msg string) []byte {
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestVerifyDKIM(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	record := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	lookup := func(domain string) ([]string, error) {
		if domain == "s1._domainkey.customer.example" || domain == "s1._domainkey.evil.example" {
			return []string{record}, nil
		}
		return nil, errors.New("no such record")
	}
	p := Policy{Require: "dkim", VerifyDKIM: true, LookupTXT: lookup}
	signed := sign(t, "customer.example", key, body)
	if v := Check(context.Background(), p, signed, "customer.example"); v != Pass {
		t.Fatalf("valid signature: %v", v)
	}
	tampered := bytes.Replace(signed, []byte("hello"), []byte("HELLO"), 1)
	if v := Check(context.Background(), p, tampered, "customer.example"); v != Fail {
		t.Fatalf("tampered body: %v", v)
	}
	if v := Check(context.Background(), p, []byte(body), "customer.example"); v != None {
		t.Fatalf("unsigned: %v", v)
	}
	other := sign(t, "evil.example", key, body)
	if v := Check(context.Background(), p, other, "customer.example"); v != None {
		t.Fatalf("signature of another domain: %v", v)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("Authentication-Results: mx.example.com; dkim=pass header.d=customer.example\r\n")
	f.Add("Authentication-Results: mx.example.com; dmarc=fail (p=reject; dis=none) header.from=customer.example\r\n")
	f.Add("Authentication-Results: mx.example.com;\r\n\tspf=pass smtp.mailfrom=x; dkim=pass\r\nReceived: x\r\n")
	f.Fuzz(func(t *testing.T, headers string) {
		for _, req := range []string{"dkim", "dmarc"} {
			v := Check(context.Background(), Policy{Require: req, Trusted: []string{"mx.example.com"}}, []byte(headers+body), "customer.example")
			if v < None || v > Fail {
				t.Fatalf("verdict %d", v)
			}
		}
	})
}
