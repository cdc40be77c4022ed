package config

import (
	"strings"
	"testing"
	"time"
)

const full = `
smtp:
  listen: 127.0.0.1:2525
  hostname: mx.support.example
  max_message_bytes: 26214400
  max_recipients: 50
  max_sessions: 500
  read_timeout: 60s
  tls: {cert_file: "", key_file: ""}
lmtp:
  listen: ""
redis:
  url: redis://127.0.0.1:6379/0
  key_prefix: "mailgate:"
support:
  addresses: [support@example.com, Billing@Example.com]
  aliases: [helpdesk@example.com]
  from_name: Example Support
tickets:
  first_id: 30001
  reply_policy: creator
  cc_policy: ignore
  not_in_to: reject
  auto_close_after: 168h
agents:
  addresses: [alice@example.com]
  domains: [example.com]
  notify: [team@example.com]
accounts:
  require_active: false
auth:
  require_for_replies: none
  trusted_authserv_ids: [mx.example.com]
  verify_dkim: false
attachments:
  max_file_bytes: 15728640
  allowed_extensions: [.doc, .docx, .xls, .xlsx, .csv, .txt, .pdf, .bmp, .jpg, .jpeg, .png, .tar, .zip]
outbound:
  transport: smtp
  smtp: {host: 127.0.0.1, port: 25, tls: none, username: "", password: ""}
  file_dir: ./data/outbox
  max_age: 48h
  max_auto_replies_per_sender_per_hour: 10
metrics:
  listen: 127.0.0.1:9325
`

func TestSpecExampleParses(t *testing.T) {
	c, err := Parse(strings.NewReader(full), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tickets.AutoCloseAfter.D() != 168*time.Hour || c.Support.Addresses[1] != "billing@example.com" || c.Outbound.MaxAge.D() != 48*time.Hour {
		t.Fatalf("config = %+v", c)
	}
	if !c.IsAgent("anyone@example.com") || !c.IsAgent("alice@example.com") || c.IsAgent("alice@customer.example") {
		t.Fatal("IsAgent")
	}
	if !c.IsSupport("helpdesk@example.com") || c.IsSupport("team@example.com") {
		t.Fatal("IsSupport")
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	base := "redis: {url: 'redis://x'}\nsupport: {addresses: [support@example.com]}\n"
	tests := []struct{ yaml, key string }{
		{"smtp: {listne: x}\n", "listne"},
		{"bogus: 1\n", "bogus"},
		{"smtp: {read_timeout: soon}\n", "duration"},
		{"smtp: {max_recipients: many}\n", "max_recipients"},
		{"tickets: {reply_policy: anyone}\n", "tickets.reply_policy"},
		{"tickets: {not_in_to: bounce}\n", "tickets.not_in_to"},
		{"auth: {require_for_replies: spf}\n", "auth.require_for_replies"},
		{"auth: {require_for_replies: dkim}\n", "auth.trusted_authserv_ids"},
		{"outbound: {transport: carrier-pigeon}\n", "outbound.transport"},
		{"outbound: {smtp: {tls: maybe}}\n", "outbound.smtp.tls"},
		{"agents: {notify: [not an address]}\n", "agents.notify"},
		{"smtp: {max_message_bytes: 10}\n", "smtp.max_message_bytes"},
		{"smtp: {tls: {cert_file: a.pem}}\n", "smtp.tls"},
	}
	for _, tc := range tests {
		_, err := Parse(strings.NewReader(base+tc.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: err = %v, want one naming %s", tc.yaml, err, tc.key)
		}
	}
	if _, err := Parse(strings.NewReader("support: {addresses: [support@example.com]}\n"), nil); err == nil || !strings.Contains(err.Error(), "redis.url") {
		t.Errorf("a config file without redis.url: %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := []string{
		"MAILGATE_REDIS_URL=redis://10.0.0.1:6379/2",
		"MAILGATE_SMTP_MAX_RECIPIENTS=7",
		"MAILGATE_OUTBOUND_SMTP_HOST=relay.example",
		"MAILGATE_OUTBOUND_MAX_AGE=1h",
		"MAILGATE_SUPPORT_ADDRESSES=a@example.com,b@example.com",
		"MAILGATE_ACCOUNTS_REQUIRE_ACTIVE=true",
		"MAILGATE_CONFIG=/ignored",
		"OTHER=1",
	}
	c, err := Parse(strings.NewReader(full), env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != "redis://10.0.0.1:6379/2" || c.SMTP.MaxRecipients != 7 || c.Outbound.SMTP.Host != "relay.example" ||
		c.Outbound.MaxAge.D() != time.Hour || len(c.Support.Addresses) != 2 || !c.Accounts.RequireActive {
		t.Fatalf("config = %+v", c)
	}
	for _, bad := range []string{"MAILGATE_SMTP_NOPE=1", "MAILGATE_SMTP_MAX_RECIPIENTS=x", "MAILGATE_ACCOUNTS_REQUIRE_ACTIVE=perhaps"} {
		if _, err := Parse(strings.NewReader(full), []string{bad}); err == nil || !strings.Contains(err.Error(), strings.SplitN(bad, "=", 2)[0]) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func TestMaskedHidesSecrets(t *testing.T) {
	c, err := Parse(strings.NewReader(full), []string{"MAILGATE_OUTBOUND_SMTP_PASSWORD=hunter2", "MAILGATE_REDIS_URL=redis://user:s3cret@h:6379/0"})
	if err != nil {
		t.Fatal(err)
	}
	out := c.Masked()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") || !strings.Contains(out, "********") {
		t.Fatalf("masked:\n%s", out)
	}
}

func TestDevNeedsNoRedisURL(t *testing.T) {
	c, err := DevFromEnv([]string{"MAILGATE_SMTP_LISTEN=127.0.0.1:2526"})
	if err != nil || !c.DevMode || c.SMTP.Listen != "127.0.0.1:2526" || c.Support.Addresses[0] != "support@localhost" || c.Outbound.Transport != "file" {
		t.Fatalf("dev = %+v, %v", c, err)
	}
}
