package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The checks of what serve opens at start-up (listeners, the store's URL, the TLS pair), so
// that `config check` refuses every file serve would refuse: both run Validate.

// checkListen checks a listen address: host:port with a numeric port, or, where unixOK,
// unix:/path.
func checkListen(key, addr string, unixOK bool) error {
	if unixOK && strings.HasPrefix(addr, "unix:") {
		if strings.TrimPrefix(addr, "unix:") == "" {
			return fmt.Errorf("%s: %q names no socket path", key, addr)
		}
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port", key, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: %q has no port number between 0 and 65535", key, addr)
	}
	return nil
}

// checkRedisURL parses redis.url the way the store dials it: redis://, rediss:// and unix://
// URLs, redis+sentinel:// (master_name= names the master), redis+cluster://, or a comma-separated
// list of cluster nodes. Errors never quote the URL's secrets.
func (c *Config) checkRedisURL() error {
	u := c.Redis.URL
	if u == "" {
		return nil
	}
	var err error
	switch {
	case strings.HasPrefix(u, "redis+sentinel://"):
		var o *redis.FailoverOptions
		if o, err = redis.ParseFailoverURL("redis://" + strings.TrimPrefix(u, "redis+sentinel://")); err == nil && o.MasterName == "" {
			err = errors.New("master_name= must name the master (redis+sentinel://host:26379/0?master_name=mymaster)")
		}
	case strings.HasPrefix(u, "redis+cluster://"):
		_, err = redis.ParseClusterURL("redis://" + strings.TrimPrefix(u, "redis+cluster://"))
	case !strings.Contains(u, "://") && strings.Contains(u, ","):
		for _, node := range strings.Split(u, ",") {
			if e := checkListen("node", node, false); e != nil {
				err = fmt.Errorf("cluster node %q is not host:port", node)
				break
			}
		}
	default:
		_, err = redis.ParseURL(u)
	}
	if err != nil {
		return fmt.Errorf("redis.url: %s", c.redactIn(err.Error()))
	}
	return nil
}

// checkTLS loads the STARTTLS pair as serve does.
func (c *Config) checkTLS() error {
	t := c.SMTP.TLS
	if t.CertFile == "" || t.KeyFile == "" {
		return nil
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		return fmt.Errorf("smtp.tls: cannot load cert_file and key_file: %w", err)
	}
	return nil
}

// checkStartup is every check of what serve opens.
func (c *Config) checkStartup() error {
	errs := []error{checkListen("smtp.listen", c.SMTP.Listen, false), checkListen("metrics.listen", c.Metrics.Listen, false),
		c.checkRedisURL(), c.checkTLS()}
	if c.LMTP.Listen != "" {
		errs = append(errs, checkListen("lmtp.listen", c.LMTP.Listen, true))
	}
	return errors.Join(errs...)
}
