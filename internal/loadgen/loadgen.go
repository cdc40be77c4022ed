// Package loadgen drives an SMTP server with concurrent sessions and a realistic mix of support
// mail, and measures throughput, DATA-end→reply latency and errors. The bench command and the
// fault-injection tests use it.
package loadgen

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Options describe one run.
type Options struct {
	Addr     string
	Sessions int
	Count    int           // messages in all
	Size     int           // approximate message size in bytes
	Mix      bool          // realistic mix; false: only new tickets from unique senders
	Attach   bool          // every new ticket carries a PDF of about Size bytes
	To       string        // the support address
	Agent    string        // an agent's domain for agent replies, e.g. example.com
	Run      string        // distinguishes senders and Message-IDs between runs
	Timeout  time.Duration // per SMTP command
}

// Accepted is one message that got 250.
type Accepted struct {
	MessageID string
	From      string
	Kind      string
	At        time.Time
}

// Result is what a run measured.
type Result struct {
	Elapsed   time.Duration
	Sent      int
	Accepted  []Accepted
	Errors    map[string]int // by reply code ("451", "dial", …)
	Latencies []time.Duration
}

// Rate is accepted messages per second.
func (r Result) Rate() float64 { return float64(len(r.Accepted)) / r.Elapsed.Seconds() }

// Percentile returns the p-th latency percentile (0 < p ≤ 100).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[max(0, min(i, len(l)-1))]
}

// ErrorSummary prints the errors by code, or "none".
func (r Result) ErrorSummary() string {
	if len(r.Errors) == 0 {
		return "none"
	}
	var parts []string
	for k, v := range r.Errors {
		parts = append(parts, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

type shared struct {
	o       Options
	next    atomic.Int64
	mu      sync.Mutex
	opened  []Accepted // new tickets, for replies to pick from
	res     Result
	pdf     string
	started time.Time
}

// Run sends o.Count messages over o.Sessions concurrent sessions.
func Run(ctx context.Context, o Options) Result {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Run == "" {
		o.Run = fmt.Sprintf("%x", time.Now().UnixNano())
	}
	sh := &shared{o: o, res: Result{Errors: map[string]int{}}}
	sh.pdf = base64.StdEncoding.EncodeToString(append([]byte("%PDF-1.4\n"), make([]byte, max(1024, o.Size*3/4-1024))...))
	sh.started = time.Now()
	var wg sync.WaitGroup
	for s := range o.Sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh.session(ctx, s)
		}()
	}
	wg.Wait()
	sh.res.Elapsed = time.Since(sh.started)
	return sh.res
}

func (sh *shared) fail(code string) {
	sh.mu.Lock()
	sh.res.Errors[code]++
	sh.mu.Unlock()
}

func (sh *shared) session(ctx context.Context, s int) {
	var c *smtp.Client
	defer func() {
		if c != nil {
			_ = c.Quit()
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		n := sh.next.Add(1)
		if n > int64(sh.o.Count) {
			return
		}
		if c == nil {
			var err error
			if c, err = smtp.Dial(sh.o.Addr); err != nil {
				sh.fail("dial")
				c = nil
				// A refused connection (server down) is retried by the next message.
				time.Sleep(20 * time.Millisecond)
				continue
			}
			c.CommandTimeout, c.SubmissionTimeout = sh.o.Timeout, sh.o.Timeout
			if err := c.Hello("loadgen.test"); err != nil {
				sh.fail(code(err))
				c.Close()
				c = nil
				continue
			}
		}
		m := sh.message(int(n))
		lat, err := send(c, sh.o.To, m)
		sh.mu.Lock()
		sh.res.Sent++
		sh.mu.Unlock()
		if err != nil {
			sh.fail(code(err))
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				c.Close() // the connection is gone; dial again
				c = nil
			} else {
				_ = c.Reset()
			}
			continue
		}
		a := Accepted{MessageID: m.id, From: m.from, Kind: m.kind, At: time.Now()}
		sh.mu.Lock()
		sh.res.Accepted = append(sh.res.Accepted, a)
		sh.res.Latencies = append(sh.res.Latencies, lat)
		if m.kind != "reply" && m.kind != "agent" {
			sh.opened = append(sh.opened, a)
		}
		sh.mu.Unlock()
	}
}

func code(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprint(se.Code)
	}
	return "conn"
}

type msg struct {
	kind, from, id string
	data           string
}

// send runs one transaction; the latency is from the end of DATA to the reply.
func send(c *smtp.Client, to string, m msg) (time.Duration, error) {
	// As an MTA does: announce the size (RFC 1870).
	if err := c.Mail(m.from, &smtp.MailOptions{Size: int64(len(m.data))}); err != nil {
		return 0, err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return 0, err
	}
	w, err := c.Data()
	if err != nil {
		return 0, err
	}
	if _, err := io.WriteString(w, m.data); err != nil {
		return 0, err
	}
	start := time.Now()
	err = w.Close()
	return time.Since(start), err
}

var (
	french   = "Bonjour,\r\nJe n'arrive plus à me connecter à mon compte depuis hier. Pouvez-vous vérifier ?\r\nMerci d'avance, cordialement.\r\n"
	japanese = "お世話になっております。\r\nログインできなくなりました。確認をお願いします。\r\nよろしくお願いいたします。\r\n"
)

// message builds message n of the run: a new ticket from a unique sender, or (with Mix) a
// creator reply, an agent reply, a mail with an attachment, or French or Japanese mail.
func (sh *shared) message(n int) msg {
	o := sh.o
	kind := "new"
	if o.Attach {
		kind = "attachment"
	}
	if o.Mix {
		switch r := rand.IntN(100); {
		case r < 15:
			kind = "reply"
		case r < 25:
			kind = "agent"
		case r < 35:
			kind = "attachment"
		case r < 40:
			kind = "fr"
		case r < 45:
			kind = "ja"
		case r < 70:
			kind = "alternative" // what Gmail, Outlook and Apple Mail send by default
		}
	}
	var parent *Accepted
	if kind == "reply" || kind == "agent" {
		sh.mu.Lock()
		if len(sh.opened) > 0 {
			p := sh.opened[rand.IntN(len(sh.opened))]
			parent = &p
		}
		sh.mu.Unlock()
		if parent == nil {
			kind = "new"
		}
	}
	from := fmt.Sprintf("user%d.%s@customer%d.example", n, o.Run, n%97)
	subject := fmt.Sprintf("Cannot log in (%d)", n)
	id := fmt.Sprintf("<%s.%d@loadgen.test>", o.Run, n)
	var extra string
	switch kind {
	case "reply":
		from, subject, extra = parent.From, "Re: Cannot log in", "In-Reply-To: "+parent.MessageID+"\r\nReferences: "+parent.MessageID+"\r\n"
	case "agent":
		from = fmt.Sprintf("agent%d@%s", n%7, o.Agent)
		subject, extra = "Re: Cannot log in", "In-Reply-To: "+parent.MessageID+"\r\nReferences: "+parent.MessageID+"\r\n"
	}
	var b strings.Builder
	b.Grow(o.Size + 512)
	fmt.Fprintf(&b, "From: Load Generator <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n%s",
		from, o.To, subject, time.Now().UTC().Format(time.RFC1123Z), id, extra)
	body := func() {
		switch kind {
		case "fr":
			b.WriteString(french)
		case "ja":
			b.WriteString(japanese)
		default:
			b.WriteString("Hello,\r\nI cannot log in since yesterday. Could you have a look?\r\n")
		}
		for b.Len() < o.Size {
			b.WriteString("Some more detail about the problem, so the message has a realistic size.\r\n")
		}
	}
	switch kind {
	case "attachment":
		b.WriteString("Content-Type: multipart/mixed; boundary=LOADGEN\r\n\r\n--LOADGEN\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
		b.WriteString("See the attached report.\r\n--LOADGEN\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for i := 0; i < len(sh.pdf); i += 76 {
			b.WriteString(sh.pdf[i:min(i+76, len(sh.pdf))] + "\r\n")
		}
		b.WriteString("--LOADGEN--\r\n")
	case "ja":
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Language: ja\r\n\r\n")
		body()
	case "alternative":
		b.WriteString("Content-Type: multipart/alternative; boundary=\"000000000000loadgen\"\r\n\r\n--000000000000loadgen\r\n")
		b.WriteString("Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString("Hello,\r\nI cannot log in since yesterday =E2=80=94 could you have a look?\r\n")
		for b.Len() < o.Size*2/3 {
			b.WriteString("Some more detail about the problem, so the message has a realistic size.\r\n")
		}
		b.WriteString("\r\n--000000000000loadgen\r\nContent-Type: text/html; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		b.WriteString("<div dir=3D\"ltr\">Hello,<br>I cannot log in since yesterday =E2=80=94 could you have a look?</div>\r\n")
		for b.Len() < o.Size {
			b.WriteString("<div>Some more detail about the problem.</div>\r\n")
		}
		b.WriteString("\r\n--000000000000loadgen--\r\n")
	default:
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
		body()
	}
	return msg{kind: kind, from: from, id: id, data: b.String()}
}
