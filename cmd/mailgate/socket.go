package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/mailgate/mailgate/config"
)

// listenLMTP opens lmtp.listen: a TCP address, or "unix:/path" for a unix socket with the
// permissions of lmtp.socket_mode and lmtp.socket_group, so that Postfix's lmtp client (user
// postfix) may connect while others may not.
func listenLMTP(lc config.LMTP) (net.Listener, error) {
	path, unix := lc.UnixSocket()
	if !unix {
		return net.Listen("tcp", lc.Listen)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	gid, err := lc.GroupID()
	if err == nil && gid >= 0 {
		err = os.Chown(path, -1, gid)
	}
	if err == nil {
		err = os.Chmod(path, fs.FileMode(lc.Mode()))
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("lmtp socket %s: %w", path, err)
	}
	return l, nil
}

// removeStaleSocket removes a socket left by a process that is gone. A socket that still
// answers belongs to a running mailgate and is left alone, as is anything that is not a
// socket (a path typed wrong must not delete a file).
func removeStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not removing it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by a running process (another mailgate?)", path)
	}
	return os.Remove(path)
}
