package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const minimal = "redis: {url: redis://127.0.0.1:6379/0}\nsupport: {addresses: [support@example.com]}\n"

func writeKey(t *testing.T, block *pem.Block) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogSectionAndEnvironment(t *testing.T) {
	c, err := Parse(strings.NewReader(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Format != "text" || c.Log.SlogLevel() != slog.LevelInfo {
		t.Fatalf("default log = %+v", c.Log)
	}
	c, err = Parse(strings.NewReader(minimal+"log: {format: text, level: WARNING}\n"), []string{"MAILGATE_LOG_FORMAT=json"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.Format != "json" || c.Log.SlogLevel() != slog.LevelWarn {
		t.Fatalf("log = %+v", c.Log)
	}
	for in, key := range map[string]string{"log: {format: xml}\n": "log.format", "log: {level: loud}\n": "log.level"} {
		if _, err := Parse(strings.NewReader(minimal+in), nil); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: err = %v, want it to name %s", in, err, key)
		}
	}
}

func TestDKIMSection(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ek)
	t.Setenv("GODEBUG", "rsa1024min=0") // Go refuses to make a key this short otherwise
	short, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	rsaFile := writeKey(t, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})
	edFile := writeKey(t, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	shortFile := writeKey(t, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(short)})
	certFile := writeKey(t, &pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})
	dkim := func(domain, sel, file string) string {
		return minimal + "outbound:\n  dkim: {domain: " + domain + ", selector: " + sel + ", key_file: " + strconv.Quote(file) + "}\n"
	}
	for _, ok := range []string{dkim("example.com", "mg2026", rsaFile), dkim("example.com", "mg2026", edFile)} {
		c, err := Parse(strings.NewReader(ok), nil)
		if err != nil || !c.Outbound.DKIM.Enabled() {
			t.Fatalf("%s: %v", ok, err)
		}
	}
	for _, tc := range []struct{ name, in, want string }{
		{"missing file", dkim("example.com", "s", "/nonexistent/key.pem"), "outbound.dkim.key_file"},
		{"not a key", dkim("example.com", "s", certFile), "not a private key"},
		{"short rsa", dkim("example.com", "s", shortFile), "too short"},
		{"bad domain", dkim("exa mple.com", "s", edFile), "outbound.dkim.domain"},
		{"bad selector", dkim("example.com", "s;x", edFile), "outbound.dkim.selector"},
		{"partial", minimal + "outbound: {dkim: {domain: example.com}}\n", "set together"},
	} {
		if _, err := Parse(strings.NewReader(tc.in), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// The environment reaches the new section too.
	c, err := Parse(strings.NewReader(minimal), []string{"MAILGATE_OUTBOUND_DKIM_DOMAIN=example.com",
		"MAILGATE_OUTBOUND_DKIM_SELECTOR=mg", "MAILGATE_OUTBOUND_DKIM_KEY_FILE=" + edFile})
	if err != nil || c.Outbound.DKIM.KeyFile != edFile {
		t.Fatalf("dkim from env: %+v %v", c.Outbound.DKIM, err)
	}
}

func TestLMTPSocketPermissions(t *testing.T) {
	c, err := Parse(strings.NewReader(minimal+"lmtp: {listen: unix:/run/mailgate/lmtp.sock}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.LMTP.Mode() != 0o660 {
		t.Fatalf("default socket mode = %o", c.LMTP.Mode())
	}
	if p, ok := c.LMTP.UnixSocket(); !ok || p != "/run/mailgate/lmtp.sock" {
		t.Fatalf("UnixSocket = %q %v", p, ok)
	}
	gid := strconv.Itoa(os.Getgid())
	c, err = Parse(strings.NewReader(minimal+"lmtp: {listen: unix:/x.sock, socket_mode: 0666}\n"), []string{"MAILGATE_LMTP_SOCKET_GROUP=" + gid})
	if err != nil {
		t.Fatal(err)
	}
	if c.LMTP.Mode() != 0o666 || c.LMTP.SocketGroup != gid {
		t.Fatalf("lmtp = %+v", c.LMTP)
	}
	for _, tc := range []struct{ in, want string }{
		{"lmtp: {listen: unix:/x.sock, socket_mode: rw}\n", "lmtp.socket_mode"},
		{"lmtp: {listen: unix:/x.sock, socket_mode: \"0999\"}\n", "lmtp.socket_mode"},
		{"lmtp: {listen: unix:/x.sock, socket_mode: \"0440\"}\n", "no write permission"},
		{"lmtp: {listen: unix:/x.sock, socket_group: no-such-group-mailgate}\n", "lmtp.socket_group"},
	} {
		if _, err := Parse(strings.NewReader(minimal+tc.in), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}
