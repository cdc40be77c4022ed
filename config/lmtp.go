package config

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// defaultLMTP lets the owner and the socket's group connect: Postfix's lmtp client runs as
// user postfix, so the operator sets lmtp.socket_group to a group postfix is in.
func defaultLMTP() LMTP { return LMTP{SocketMode: "0660"} }

// UnixSocket returns the path of lmtp.listen when it names a unix socket ("unix:/path").
func (l LMTP) UnixSocket() (string, bool) {
	return strings.CutPrefix(l.Listen, "unix:")
}

// Mode returns lmtp.socket_mode as permission bits; Validate has checked it.
func (l LMTP) Mode() uint32 {
	m, _ := strconv.ParseUint(l.SocketMode, 8, 32)
	return uint32(m)
}

// GroupID resolves lmtp.socket_group (a name or a numeric id); -1 when it is not set.
func (l LMTP) GroupID() (int, error) {
	if l.SocketGroup == "" {
		return -1, nil
	}
	if id, err := strconv.Atoi(l.SocketGroup); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(l.SocketGroup)
	if err != nil {
		return -1, fmt.Errorf("lmtp.socket_group: %w", err)
	}
	return strconv.Atoi(g.Gid)
}

func validateLMTP(l LMTP) error {
	m, err := strconv.ParseUint(l.SocketMode, 8, 32)
	if err != nil || m > 0o777 {
		return fmt.Errorf("lmtp.socket_mode: %q is not an octal permission such as 0660", l.SocketMode)
	}
	if _, unix := l.UnixSocket(); !unix {
		return nil
	}
	if m&0o200 == 0 {
		// Connecting to a unix socket needs write permission: the owner at least must have it.
		return fmt.Errorf("lmtp.socket_mode: %s gives the owner no write permission; nobody could connect", l.SocketMode)
	}
	_, err = l.GroupID()
	return err
}
