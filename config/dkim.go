package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
)

// DKIM is outbound.dkim: when Domain is set, every outbound mail is signed with the key in
// KeyFile, published in DNS at <Selector>._domainkey.<Domain>.
type DKIM struct {
	Domain   string `yaml:"domain"`
	Selector string `yaml:"selector"`
	// KeyFile is a PEM private key, RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8).
	KeyFile string `yaml:"key_file"`
}

// Enabled reports whether outbound mail is signed.
func (d DKIM) Enabled() bool { return d.Domain != "" }

var (
	dnsName  = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	selector = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)*$`)
)

// validateDKIM checks outbound.dkim, including that the key can be read and parsed: a
// configuration that `config check` accepts must also start.
func validateDKIM(d DKIM) error {
	if d == (DKIM{}) {
		return nil
	}
	if d.Domain == "" || d.Selector == "" || d.KeyFile == "" {
		return errors.New("outbound.dkim: domain, selector and key_file must be set together")
	}
	var errs []error
	if !dnsName.MatchString(d.Domain) {
		errs = append(errs, fmt.Errorf("outbound.dkim.domain: %q is not a domain name", d.Domain))
	}
	if !selector.MatchString(d.Selector) {
		errs = append(errs, fmt.Errorf("outbound.dkim.selector: %q is not a DNS label", d.Selector))
	}
	if _, err := LoadDKIMKey(d.KeyFile); err != nil {
		errs = append(errs, fmt.Errorf("outbound.dkim.key_file: %w", err))
	}
	return errors.Join(errs...)
}

// LoadDKIMKey reads a PEM private key usable for DKIM (RSA of at least 1024 bits, or Ed25519).
func LoadDKIMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseDKIMKey(data)
}

// ParseDKIMKey parses the first PEM block of data as a DKIM private key.
func ParseDKIMKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		// RFC 8301 §3.2: verifiers refuse keys under 1024 bits.
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits is too short (at least 1024, 2048 recommended)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA or Ed25519)", key)
}
