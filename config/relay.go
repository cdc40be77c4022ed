package config

import (
	"errors"
	"net"
	"strings"
)

// validateAuth refuses to send the relay password in clear over the network: AUTH needs TLS
// (starttls or implicit) unless the relay is on this host, as Go's net/smtp also insists.
func (o OutboundSMTP) validateAuth(transport string) error {
	if transport != "smtp" || o.Username == "" || o.TLS != "none" || isLoopbackHost(o.Host) {
		return nil
	}
	return errors.New("outbound.smtp: username/password over tls: none to a relay that is not on this host would send the password in clear; use tls: starttls or implicit")
}

// isLoopbackHost reports whether host names this machine: a loopback address or "localhost".
func isLoopbackHost(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
