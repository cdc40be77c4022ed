package outbound

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimHeaders are the fields signed: those mail clients show and thread by, and those that
// change how the body is read (RFC 6376 §5.4.1). From is listed twice ("over-signed") so that
// a second From added in transit breaks the signature instead of passing under it.
var dkimHeaders = []string{
	"From", "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To",
	"References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
}

// DKIMSigner signs outbound mail for one domain (outbound.dkim).
type DKIMSigner struct {
	domain, selector string
	key              crypto.Signer
}

// NewDKIMSigner returns a signer for domain with the key published at
// <selector>._domainkey.<domain>.
func NewDKIMSigner(domain, selector string, key crypto.Signer) *DKIMSigner {
	return &DKIMSigner{domain: domain, selector: selector, key: key}
}

// Sign returns raw with a DKIM-Signature header prepended (relaxed/relaxed, SHA-256).
func (s *DKIMSigner) Sign(raw []byte) ([]byte, error) {
	var sig bytes.Buffer
	opts := &dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaders,
	}
	signer, err := dkim.NewSigner(opts)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if _, err := signer.Write(raw); err != nil {
		signer.Close()
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	if err := signer.Close(); err != nil {
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	sig.Grow(len(raw) + 600)
	sig.WriteString(signer.Signature())
	sig.Write(raw)
	return sig.Bytes(), nil
}

// DKIMRecord returns the TXT record value publishing pub (RFC 6376 §3.6.1, RFC 8463 for
// Ed25519), starting "v=DKIM1;".
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		// RFC 8463 §4.2: the bare 32-byte key, not a SubjectPublicKeyInfo.
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("dkim: unsupported public key type %T", pub)
}

// GenerateDKIMKey makes a new private key: "rsa" (2048 bits) or "ed25519".
func GenerateDKIMKey(algorithm string) (crypto.Signer, error) {
	switch algorithm {
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("dkim: unknown algorithm %q (rsa or ed25519)", algorithm)
}
