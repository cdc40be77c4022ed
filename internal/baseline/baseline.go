// Package baseline holds the two servers mailgate's ingest speed is compared with in the same
// run: a bare go-smtp server that discards DATA, and the naive pipeline of issue 6 (go-smtp +
// enmime ReadEnvelope + one MULTI to Redis).
package baseline

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"

	"github.com/emersion/go-smtp"
	"github.com/jhillyerd/enmime/v2"
	"github.com/redis/go-redis/v9"
)

// Serve runs the named baseline ("bare" or "naive") on l until ctx ends.
func Serve(ctx context.Context, kind string, l net.Listener, rdb redis.UniversalClient, prefix string) error {
	var be smtp.Backend
	switch kind {
	case "bare":
		be = smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &bare{}, nil })
	default:
		be = smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &naive{rdb: rdb, prefix: prefix}, nil })
	}
	s := smtp.NewServer(be)
	s.Domain = "baseline.test"
	s.MaxMessageBytes = 64 << 20
	s.MaxLineLength = 1 << 20
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	err := s.Serve(l)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type bare struct{}

func (*bare) Reset()                               { /* nothing kept */ }
func (*bare) Logout() error                        { return nil }
func (*bare) Mail(string, *smtp.MailOptions) error { return nil }
func (*bare) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*bare) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// naive is what a first ticket gateway would do: read, parse fully, one MULTI.
type naive struct {
	rdb    redis.UniversalClient
	prefix string
}

func (*naive) Reset()                               {}
func (*naive) Logout() error                        { return nil }
func (*naive) Mail(string, *smtp.MailOptions) error { return nil }
func (*naive) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (n *naive) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparseable"}
	}
	ctx := context.Background()
	pipe := n.rdb.TxPipeline()
	pipe.Incr(ctx, n.prefix+"seq")
	pipe.RPush(ctx, n.prefix+"msgs", env.GetHeader("Message-Id"))
	pipe.HSet(ctx, n.prefix+"m:"+env.GetHeader("Message-Id"), "from", env.GetHeader("From"),
		"subject", env.GetHeader("Subject"), "text", env.Text, "raw", raw)
	if _, err := pipe.Exec(ctx); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "store: " + strconv.Quote(err.Error())}
	}
	return nil
}
