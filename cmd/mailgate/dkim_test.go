package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailgate/mailgate/config"
)

func TestDKIMKeygenWritesKeyAndPrintsRecord(t *testing.T) {
	for _, alg := range []string{"", "ed25519"} {
		t.Run("algorithm="+alg, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dkim.key")
			args := []string{"dkim", "keygen", "--domain", "example.com", "--selector", "mg2026", "--out", out}
			if alg != "" {
				args = append(args, "--algorithm", alg)
			}
			stdout, stderr, code := cli(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			want := "v=DKIM1; k=rsa; p="
			if alg == "ed25519" {
				want = "v=DKIM1; k=ed25519; p="
			}
			if !strings.HasPrefix(stdout, want) || !strings.Contains(stderr, "mg2026._domainkey.example.com") {
				t.Fatalf("stdout %q\nstderr %q", stdout, stderr)
			}
			st, err := os.Stat(out)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", st, err)
			}
			if _, err := config.LoadDKIMKey(out); err != nil {
				t.Fatalf("the written key does not load: %v", err)
			}
			// Never overwrite a key whose record may be published.
			before, _ := os.ReadFile(out)
			if _, stderr, code := cli(t, args...); code != exitFailed || !strings.Contains(stderr, "exists") {
				t.Fatalf("second keygen to the same file: exit %d %s", code, stderr)
			}
			if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
				t.Fatal("the key file was overwritten")
			}
		})
	}
	if _, stderr, code := cli(t, "dkim", "keygen", "--domain", "example.com", "--selector", "s", "--out", filepath.Join(t.TempDir(), "k"), "--algorithm", "dsa"); code != exitUsage {
		t.Fatalf("--algorithm dsa: exit %d %s", code, stderr)
	}
	if _, _, code := cli(t, "dkim", "keygen", "--domain", "example.com"); code != exitUsage {
		t.Fatalf("missing --selector/--out: exit %d", code)
	}
}

// dkimEnv starts mailgate signing with a key made by `dkim keygen`; it returns the DNS record.
func dkimEnv(t *testing.T) (*env, string) {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "dkim.key")
	record, stderr, code := cli(t, "dkim", "keygen", "--domain", "example.com", "--selector", "mg2026", "--out", keyFile)
	if code != exitOK {
		t.Fatal(stderr)
	}
	e := startEnv(t, func(c *config.Config) {
		c.Outbound.DKIM = config.DKIM{Domain: "example.com", Selector: "mg2026", KeyFile: keyFile}
	})
	return e, record
}

// verifyDKIM checks that data carries exactly one signature and that it verifies against record.
func verifyDKIM(t *testing.T, data, record string) {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(strings.NewReader(data), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name != "mg2026._domainkey.example.com" {
				return nil, errors.New("no record at " + name)
			}
			return []string{strings.TrimSpace(record)}, nil
		},
	})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("verifications %+v, %v\n%s", vs, err, data)
	}
}

func TestServedMailIsDKIMSigned(t *testing.T) {
	e, record := dkimEnv(t)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	for _, rcpt := range []string{"alice@customer.example", "team@example.com"} {
		verifyDKIM(t, e.waitMails(rcpt, 1)[0].Data, record)
	}
}

func TestStartRefusesUnreadableDKIMKey(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{bad, filepath.Join(t.TempDir(), "missing.key")} {
		cfgFile := filepath.Join(t.TempDir(), "mailgate.yaml")
		yaml := "redis: {url: redis://127.0.0.1:1/0}\nsupport: {addresses: [support@example.com]}\n" +
			"outbound:\n  dkim: {domain: example.com, selector: mg2026, key_file: " + file + "}\n"
		if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"serve", "--config", cfgFile}, {"config", "check", "--config", cfgFile}} {
			_, stderr, code := cli(t, args...)
			if code != exitFailed || !strings.Contains(stderr, "outbound.dkim.key_file") {
				t.Fatalf("%v with key %s: exit %d\n%s", args, file, code, stderr)
			}
		}
	}
}
