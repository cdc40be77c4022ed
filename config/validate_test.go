package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRefusesWhatServeRefuses: config check runs the validation serve runs, so a config
// it accepts does not then fail at start-up on a URL, a port or a file.
func TestCheckRefusesWhatServeRefuses(t *testing.T) {
	base := "support: {addresses: [support@example.com]}\n"
	redis := "redis: {url: 'redis://127.0.0.1:6379/0'}\n"
	tests := []struct{ name, yaml, key string }{
		{"bad URL scheme", "redis: {url: 'http://127.0.0.1:6379/0'}\n", "redis.url"},
		{"bad port in URL", "redis: {url: 'redis://127.0.0.1:63a9/0'}\n", "redis.url"},
		{"bad sentinel URL", "redis: {url: 'redis+sentinel://s1:26379'}\n", "redis.url"},
		{"listen without port", redis + "smtp: {listen: 127.0.0.1}\n", "smtp.listen"},
		{"listen with a bad port", redis + "smtp: {listen: '127.0.0.1:99999'}\n", "smtp.listen"},
		{"lmtp without port", redis + "lmtp: {listen: 127.0.0.1}\n", "lmtp.listen"},
		{"metrics with a bad port", redis + "metrics: {listen: 'localhost:http-alt'}\n", "metrics.listen"},
		{"missing TLS files", redis + "smtp: {tls: {cert_file: /nonexistent/cert.pem, key_file: /nonexistent/key.pem}}\n", "smtp.tls"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(base+tc.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
		})
	}
	for _, ok := range []string{redis + "lmtp: {listen: 'unix:/run/mailgate/lmtp.sock'}\n", redis + "smtp: {listen: ':2525'}\n",
		"redis: {url: 'redis+sentinel://:pw@s1:26379/0?master_name=mymaster&addr=s2:26379'}\n", "redis: {url: 'a:7000,b:7001'}\n"} {
		if _, err := Parse(strings.NewReader(base+ok), nil); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// A bad URL's error does not print the password in it.
func TestURLErrorsAreRedacted(t *testing.T) {
	_, err := Parse(strings.NewReader("support: {addresses: [support@example.com]}\nredis: {url: 'redis://u:s3cret@h:63a9/0'}\n"), nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

// TLS files that exist and load pass.
func TestTLSFilesChecked(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	os.WriteFile(key, []byte("not a key"), 0o600)
	y := "support: {addresses: [support@example.com]}\nredis: {url: 'redis://h/0'}\nsmtp: {tls: {cert_file: " + cert + ", key_file: " + key + "}}\n"
	if _, err := Parse(strings.NewReader(y), nil); err == nil || !strings.Contains(err.Error(), "smtp.tls") {
		t.Fatalf("unreadable TLS pair: %v", err)
	}
}

func TestDuplicateKeyIsAnError(t *testing.T) {
	for _, y := range []string{
		"support: {addresses: [support@example.com]}\nredis: {url: 'redis://h/0'}\nsmtp: {hostname: a.example}\nsmtp: {max_errors: 3}\n",
		"support: {addresses: [support@example.com]}\nredis: {url: 'redis://h/0', url: 'redis://other/0'}\n",
	} {
		_, err := Parse(strings.NewReader(y), nil)
		if err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%q: err = %v, want a duplicate key error", y, err)
		}
	}
}

func TestErrorNamesTheLineOnce(t *testing.T) {
	y := "support: {addresses: [support@example.com]}\nredis: {url: 'redis://h/0'}\n\n\n\nsmtp: {max_recipients: many}\n"
	_, err := Parse(strings.NewReader(y), nil)
	if err == nil || strings.Count(err.Error(), "line 6") != 1 {
		t.Fatalf("err = %v, want line 6 named once", err)
	}
}
