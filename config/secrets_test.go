package config

import (
	"strings"
	"testing"
)

// Every secret is redacted wherever it sits in a URL, and every field marked secret is.
func TestMaskedRedactsEverySecret(t *testing.T) {
	urls := []string{
		"redis://user:s3cret-a@h:6379/0",
		"redis://:s3cret-b@h:6379/0",
		"redis://h:6379/0?password=s3cret-c",
		"redis+sentinel://:s3cret-d@s1:26379,s2:26379/mymaster?sentinel_password=s3cret-e&db=0",
		"redis+sentinel://s1:26379/mymaster?sentinel_username=u&Sentinel_Password=s3cret-f",
		"rediss://h:6380/0?client_token=s3cret-g&api_secret=s3cret-h&pass=s3cret-i",
		"redis+cluster://u:s3cret-j@a:7000?addr=b:7001&password=s3cret-k",
	}
	for _, u := range urls {
		c := Default()
		c.Redis.URL, c.Outbound.SMTP.Password = u, "s3cret-z"
		out := c.Masked()
		if strings.Contains(out, "s3cret") {
			t.Errorf("secret printed for %s:\n%s", u, grepLine(out, "s3cret"))
		}
		if !strings.Contains(out, "********") {
			t.Errorf("%s: nothing masked", u)
		}
	}
	// What is not secret stays readable: the operator checks hosts and databases.
	if got := RedactURL("redis+sentinel://:pw@s1:26379,s2:26379/mymaster?db=2&sentinel_password=x"); got != "redis+sentinel://:********@s1:26379,s2:26379/mymaster?db=2&sentinel_password=********" {
		t.Errorf("RedactURL = %s", got)
	}
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
