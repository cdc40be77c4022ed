package config

import (
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// mask replaces a secret wherever configuration is printed or logged.
const mask = "********"

// Masked returns the effective config as YAML with every secret replaced: fields tagged
// `secret:"true"` are masked whole, or, when they hold a URL, only the secrets inside it.
func (c Config) Masked() string {
	m := c
	maskSecrets(reflect.ValueOf(&m).Elem())
	out, _ := yaml.Marshal(m)
	return string(out)
}

// maskSecrets masks the secret string fields of v, a struct, at any depth.
func maskSecrets(v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			maskSecrets(f)
		case f.Kind() == reflect.String && t.Field(i).Tag.Get("secret") == "true" && f.String() != "":
			if strings.Contains(f.String(), "://") {
				f.SetString(RedactURL(f.String()))
			} else {
				f.SetString(mask)
			}
		}
	}
}

// secretKey reports whether a URL query key names a secret (password, sentinel_password,
// client_token, api_secret...).
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"pass", "pwd", "secret", "token", "auth", "credential"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// RedactURL masks every secret in a URL: the password of the userinfo (or the whole userinfo
// when it has no ':', as a token often stands there) and the value of every query key that
// names a secret. It works on the text, since Redis URLs with several hosts
// (redis+sentinel://a:26379,b:26379/...) are not URLs net/url parses.
func RedactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	// The authority ends at the first '/', '?' or '#' after the userinfo's last '@'.
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		user, _, hasPass := strings.Cut(rest[:at], ":")
		cred := mask
		if hasPass {
			cred = user + ":" + mask
		}
		rest = cred + rest[at:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if !hasQuery {
		return scheme + "://" + rest
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		if k, _, ok := strings.Cut(p, "="); ok && secretKey(k) {
			pairs[i] = k + "=" + mask
		}
	}
	out := scheme + "://" + path + "?" + strings.Join(pairs, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// redactIn replaces each secret-bearing URL of the configuration in s (an error text that
// may quote one) with its redacted form.
func (c *Config) redactIn(s string) string {
	if c.Redis.URL != "" && strings.Contains(s, c.Redis.URL) {
		s = strings.ReplaceAll(s, c.Redis.URL, RedactURL(c.Redis.URL))
	}
	return s
}
