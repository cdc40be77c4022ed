package config

import (
	"strings"
	"testing"
)

func TestRelayAuthNeedsTLSOffThisHost(t *testing.T) {
	tests := []struct {
		name, host, tls, user string
		ok                    bool
	}{
		{"auth in clear to a remote relay", "smtp.example.com", "none", "mailgate", false},
		{"auth in clear to a remote address", "192.0.2.10", "none", "mailgate", false},
		{"auth over starttls", "smtp.example.com", "starttls", "mailgate", true},
		{"auth over implicit tls", "smtp.example.com", "implicit", "mailgate", true},
		{"auth in clear on loopback", "127.0.0.1", "none", "mailgate", true},
		{"auth in clear on ::1", "::1", "none", "mailgate", true},
		{"auth in clear to localhost", "localhost", "none", "mailgate", true},
		{"no auth, no tls, remote", "smtp.example.com", "none", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Redis.URL = "redis://127.0.0.1:6379/0"
			c.Support.Addresses = []string{"support@example.com"}
			c.Outbound.SMTP.Host, c.Outbound.SMTP.TLS = tc.host, tc.tls
			c.Outbound.SMTP.Username, c.Outbound.SMTP.Password = tc.user, "secret"
			err := c.Validate()
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "outbound.smtp")) {
				t.Fatalf("accepted (err %v); want outbound.smtp named", err)
			}
		})
	}
}
