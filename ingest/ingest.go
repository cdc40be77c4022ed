// Package ingest runs one inbound message through mailgate: parse once, decide (threading),
// write everything it causes in one atomic step (store), with the mails it causes rendered
// (outbound) and queued in that same step.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailgate/mailgate/auth"
	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/reason"
	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/store"
	"github.com/mailgate/mailgate/threading"
	"github.com/mailgate/mailgate/ticket"
)

// Store is what ingest needs of the store.
type Store interface {
	Ping(ctx context.Context) error
	Lookup(ctx context.Context, r store.LookupRequest) (store.Lookup, error)
	NextID(ctx context.Context) (int64, error)
	Commit(ctx context.Context, c *store.Commit) (store.CommitResult, error)
	// People reads the accounts of the addresses a customer's message names.
	People(ctx context.Context, addrs []string) (map[string]store.Account, error)
	// Notify queues mails caused by a message that changes no ticket, once per dedupe key.
	Notify(ctx context.Context, dedupe string, mails []store.Outgoing, now time.Time) error
	// Quarantine keeps an unparseable message; capped: its sender is over the hourly cap and
	// the agents' notices were not queued.
	Quarantine(ctx context.Context, q store.Quarantined, mails []store.Outgoing) (capped bool, err error)
}

// Result is how a message was handled; smtpd turns it into a reply.
type Result struct {
	Reject bool
	Reason reason.Reason
	// MessageID is the message's Message-ID when it could be parsed, for the log.
	MessageID string
	Detail    string // a sentence for the sender
	Outcome   string
	TicketID  int64
}

// Ingester handles inbound messages.
type Ingester struct {
	// rules is everything a configuration reload (SIGHUP) replaces, swapped as one value so
	// that each message sees one whole configuration.
	rules atomic.Pointer[rules]
	st    Store
	m     *metrics.Metrics
	log   *slog.Logger
	kick  func()
	now   func() time.Time
}

type rules struct {
	cfg    config.Config
	policy threading.Policy
	parser *mail.Parser
	rend   *outbound.Renderer
	sla    *sla.Policy // nil: no service-level clocks
}

// New returns an ingester. kick is called after a commit that queued mail.
func New(cfg config.Config, st Store, m *metrics.Metrics, log *slog.Logger, kick func()) (*Ingester, error) {
	if kick == nil {
		kick = func() {}
	}
	in := &Ingester{st: st, m: m, log: log, kick: kick, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
	if err := in.Reload(cfg); err != nil {
		return nil, err
	}
	return in, nil
}

// Reload applies a new configuration to the messages that arrive from now on: support and
// agent addresses, policies, attachments, templates, caps. Listeners and the store are not
// touched here (they need a restart).
func (in *Ingester) Reload(cfg config.Config) error {
	rend, err := outbound.NewRenderer(cfg.SMTP.Hostname, cfg.Support.FromName, cfg.Outbound.TemplatesDir)
	if err != nil {
		return err
	}
	slaPolicy, err := cfg.SLAPolicy()
	if err != nil {
		return err
	}
	in.rules.Store(&rules{
		cfg:    cfg,
		policy: PolicyFrom(&cfg),
		parser: mail.NewParser(mail.Policy{MaxFileBytes: cfg.Attachments.MaxFileBytes, MaxTotalBytes: cfg.Attachments.MaxTotalBytes, AllowedExtensions: cfg.Attachments.AllowedExtensions}),
		rend:   rend,
		sla:    slaPolicy,
	})
	return nil
}

// PolicyFrom derives the decision's policy from the configuration.
func PolicyFrom(c *config.Config) threading.Policy {
	return threading.Policy{
		IsSupport:     c.IsSupport,
		IsAgent:       c.IsAgent,
		IsComment:     c.IsComment,
		Queues:        c.Support.Addresses,
		MaxReceived:   c.SMTP.MaxReceived,
		NotInToIgnore: c.Tickets.NotInTo == "ignore",
		OrgReplies:    c.Tickets.ReplyPolicy == "organization",
		RequireActive: c.Accounts.RequireActive,
		UseReferences: c.Threading.UseReferences,
		RequireAuth:   c.Auth.RequireForReplies != "none",
		CcFollow:      c.Tickets.CcPolicy == "follow",
		Model:         c.TicketModel(),
		AgentMention:  c.AgentMention,
	}
}

// maxConflicts bounds how often a message is decided again because its ticket changed.
const maxConflicts = 8

// Deliver handles one message. An error means the store failed: answer 4xx, nothing written.
func (in *Ingester) Deliver(ctx context.Context, envFrom string, raw []byte) (Result, error) {
	return in.deliver(ctx, envFrom, raw, true)
}

// ErrUnparseable is Release's answer for a message that still cannot be parsed.
var ErrUnparseable = errors.New("the message still cannot be parsed")

// Release runs a quarantined message through ingest again (after an operator fixed what made
// it fail, or a newer mailgate parses it). A message that still fails to parse is not
// quarantined again (nor are the agents told again): Release returns ErrUnparseable.
func (in *Ingester) Release(ctx context.Context, envFrom string, raw []byte) (Result, error) {
	return in.deliver(ctx, envFrom, raw, false)
}

func (in *Ingester) deliver(ctx context.Context, envFrom string, raw []byte, quarantine bool) (Result, error) {
	r := in.rules.Load()
	msg, err := r.parser.Parse(raw)
	switch {
	case errors.Is(err, mail.ErrHeaderTooLarge):
		return in.rejectIfStoreUp(ctx, reason.HeaderTooBig, "the message header is larger than we accept")
	case errors.Is(err, mail.ErrNoFrom):
		return in.rejectIfStoreUp(ctx, reason.NoFrom, strings.TrimPrefix(strings.TrimPrefix(err.Error(), mail.ErrNoFrom.Error()), ": "))
	case err != nil && !quarantine:
		return Result{}, fmt.Errorf("%w: %w", ErrUnparseable, err)
	case err != nil:
		return in.quarantine(ctx, r, envFrom, raw, err)
	}
	log := in.log.With("msgid", msg.MessageID, "from", msg.From)
	if a := threading.Precheck(msg, r.policy); a != nil {
		// The inbound rules put rule 3 (store down: 451) before rules 4 and 5: the MTA keeps the mail.
		if err := in.st.Ping(ctx); err != nil {
			return Result{}, err
		}
		return in.finish(log, msg, *a, 0), nil
	}
	tagID, _ := ticket.FindTag(msg.Subject)
	refs := append([]string{}, msg.References...)
	if msg.InReplyTo != "" {
		refs = append(refs, msg.InReplyTo)
	}
	verdict := r.verdict(ctx, msg, raw)
	// Mail with no tag, no references and a person behind it almost always opens a ticket:
	// take its ID in the lookup round trip.
	likelyNew := tagID == 0 && len(refs) == 0 && !msg.Auto && envFrom != "" && !r.policy.RequireActive
	people, err := in.people(ctx, r, msg)
	if err != nil {
		return Result{}, err
	}
	var newID int64
	for range maxConflicts {
		lk, err := in.st.Lookup(ctx, store.LookupRequest{Dedupe: msg.Dedupe, TagID: tagID, Refs: refs, Sender: msg.From,
			AllocateID: likelyNew && newID == 0})
		if err != nil {
			return Result{}, err
		}
		if lk.NewID != 0 {
			newID = lk.NewID
		}
		facts := threading.Facts{
			EnvelopeFrom: envFrom, Duplicate: lk.Duplicate, TagID: tagID, Tagged: lk.Tagged,
			Referenced: lk.Referenced, ReferencedByName: lk.ReferencedByName, SenderOrg: ticket.Organization(msg.From), Verdict: verdict, People: people,
		}
		if lk.Account != nil {
			facts.SenderActive = lk.Account.Active
			if lk.Account.Organization != "" {
				facts.SenderOrg = lk.Account.Organization
			}
		}
		a := threading.Decide(msg, facts, r.policy)
		if a.Kind == threading.Bounce {
			if err := in.bounce(ctx, r, msg, a); err != nil {
				return Result{}, err
			}
			return in.finish(log, msg, a, 0), nil
		}
		if a.Kind != threading.Create && a.Kind != threading.Append {
			return in.finish(log, msg, a, 0), nil
		}
		id, err := in.commit(ctx, r, msg, raw, a, facts, newID)
		switch {
		case errors.Is(err, store.ErrConflict):
			continue
		case errors.Is(err, store.ErrDuplicate):
			return in.finish(log, msg, threading.Action{Kind: threading.Duplicate, Outcome: threading.OutcomeDuplicate}, 0), nil
		case err != nil:
			return Result{}, err
		}
		if a.Kind == threading.Create {
			in.m.TicketsCreated.Inc()
		}
		in.kick()
		return in.finish(log, msg, a, id), nil
	}
	return Result{}, fmt.Errorf("ticket kept changing under message %s", msg.MessageID)
}

// verdict runs the sender authentication of auth.*; without require_for_replies it is none.
func (r *rules) verdict(ctx context.Context, msg *mail.Message, raw []byte) threading.Verdict {
	if !r.policy.RequireAuth {
		return threading.VerdictNone
	}
	a := r.cfg.Auth
	switch auth.Check(ctx, auth.Policy{Require: a.RequireForReplies, Trusted: a.TrustedAuthservIDs, VerifyDKIM: a.VerifyDKIM},
		raw, ticket.Organization(msg.From)) {
	case auth.Pass:
		return threading.VerdictPass
	case auth.Fail:
		return threading.VerdictFail
	}
	return threading.VerdictNone
}

// rejectIfStoreUp refuses a message for reason unless the store is down, which the inbound rules'
// rule 3 answers first (451).
func (in *Ingester) rejectIfStoreUp(ctx context.Context, why reason.Reason, detail string) (Result, error) {
	if err := in.st.Ping(ctx); err != nil {
		return Result{}, err
	}
	return in.reject(why, detail), nil
}

func (in *Ingester) reject(why reason.Reason, detail string) Result {
	in.m.Messages.WithLabelValues(threading.OutcomeRejected).Inc()
	in.m.Rejections.WithLabelValues(string(why)).Inc()
	return Result{Reject: true, Reason: why, Detail: detail, Outcome: threading.OutcomeRejected}
}

func (in *Ingester) finish(log *slog.Logger, msg *mail.Message, a threading.Action, id int64) Result {
	r := Result{Outcome: a.Outcome, Reason: a.Reason, TicketID: id, MessageID: msg.MessageID}
	if a.Kind == threading.Reject {
		r.Reject = true
		in.m.Rejections.WithLabelValues(string(a.Reason)).Inc()
	}
	in.m.Messages.WithLabelValues(a.Outcome).Inc()
	// The transaction's own line ("message handled") is smtpd's, with the client's address.
	log.Debug("message decided", "outcome", a.Outcome, "reason", a.Reason, "ticket", id)
	return r
}

// commit applies the action, renders the mails it causes and writes it all in one step.
func (in *Ingester) commit(ctx context.Context, r *rules, msg *mail.Message, raw []byte, a threading.Action, f threading.Facts, newID int64) (int64, error) {
	now := in.now()
	queue := a.Queue
	if a.Ticket != nil {
		queue = a.Ticket.Queue
	}
	var err error
	if a.Sent, err = in.quotedSent(ctx, msg, a); err != nil {
		return 0, err
	}
	c := threading.Apply(a, msg, r.policy, r.cfg.NotifyFor(queue), f, now)
	prev, prevClass := "", ""
	if c.New {
		id := newID
		if id == 0 {
			var err error
			if id, err = in.st.NextID(ctx); err != nil {
				return 0, err
			}
		}
		c.Ticket.ID = id
		if c.Ticket.RootMessageID == "" {
			c.Ticket.RootMessageID = fmt.Sprintf("<ticket-%d@%s>", id, r.cfg.SMTP.Hostname)
		}
	} else {
		prev, prevClass = a.Ticket.Status, r.policy.TicketModel().ClassOf(a.Ticket)
	}
	cm := &store.Commit{
		Dedupe: msg.Dedupe, New: c.New, Ticket: c.Ticket, PrevStatus: prev, PrevClass: prevClass, Message: &c.Message,
		Raw: raw, Events: c.Events, Now: now,
	}
	if !c.New {
		cm.Before = a.Ticket
	}
	if msg.MessageID != "" {
		cm.Refs = []string{msg.MessageID}
	}
	if cm.Mails, err = r.render(c, msg.FromName, msg.Attachments, now); err != nil {
		return 0, err
	}
	// Large files go into Redis once, however many mails carry them.
	if cm.Files, err = outbound.StoredFiles(cm.Mails, msg.Attachments); err != nil {
		return 0, err
	}
	cm.FileTTL = r.cfg.Outbound.MaxAge.D() + outbound.FileMargin
	cm.Sent = sentTexts(c.Ticket.ID, cm.Mails)
	if err := in.write(ctx, cm); err != nil {
		return 0, err
	}
	return c.Ticket.ID, nil
}

// render turns the mails of a change into queued outbound mail.
func (r *rules) render(c threading.Change, authorName string, files []mail.Attachment, now time.Time) ([]store.Outgoing, error) {
	var out []store.Outgoing
	for _, ml := range c.Mails {
		agent := ml.ToAgent || r.cfg.IsAgent(ml.To)
		ri := outbound.Input{
			Kind: ml.Kind, Template: ml.Template, To: ml.To, Ticket: c.Ticket, Message: c.Message, AuthorName: authorName,
			StatusChanged: c.StatusChanged, CommandErrors: c.CommandErrors, Now: now, Lang: "en",
			ToAgent: agent, Model: r.policy.TicketModel(), NotAdded: c.NotAdded,
		}
		if !agent {
			// Customers read mail in the language they wrote in; agents get English.
			ri.Lang = c.Ticket.Language
			if ml.To == c.Ticket.Creator {
				ri.RecipientName = c.Ticket.CreatorName
			}
		}
		if carriesFiles(ml) {
			ri.Files, ri.Withheld = filesFor(c.Message, files, agent)
			ri.FileRefs = true
		}
		rm, err := r.rend.RenderMail(ri)
		if err != nil {
			return nil, err
		}
		o := store.Outgoing{ID: outbound.NewID(), Kind: ml.Kind, TicketID: c.Ticket.ID, To: ml.To,
			EnvelopeFrom: c.Ticket.Queue, Subject: rm.Subject, MessageID: rm.MsgID, Raw: rm.Raw, Text: rm.Text, Files: rm.Files}
		if !agent {
			o.CapLimit = r.cfg.Outbound.MaxAutoRepliesPerSenderPerHour
		}
		if n, per := r.cfg.NoticeBurst(); n > 0 && ml.Kind == threading.MailNotice {
			o.Burst = &store.Burst{Limit: n, Per: per}
		}
		out = append(out, o)
	}
	return out, nil
}

// carriesFiles reports whether a mail passes on the message's attachments: the notice to
// agents, and the updates (and follow mails) that carry the message's text.
func carriesFiles(ml threading.Mail) bool {
	return ml.Kind == threading.MailNotice || (ml.Kind == threading.MailUpdate && (ml.Template == "" || ml.Template == "follow"))
}

// filesFor picks the files one recipient gets: agents get all, anyone else only those not
// sensitive, and the count of the others, whose names are not shown.
func filesFor(m ticket.Message, files []mail.Attachment, agent bool) (out []mail.Attachment, withheld int) {
	if agent {
		return files, 0
	}
	for i, f := range files {
		if i < len(m.Attachments) && m.Attachments[i].Sensitive {
			withheld++
			continue
		}
		out = append(out, f)
	}
	return out, withheld
}

// bounce tells an agent that the ticket their tag names does not exist; nothing else is
// stored, and no ticket is opened in the agent's name.
func (in *Ingester) bounce(ctx context.Context, r *rules, msg *mail.Message, a threading.Action) error {
	queue := a.Queue
	if queue == "" {
		queue = r.cfg.Support.Addresses[0]
	}
	now := in.now()
	c := threading.Change{
		Ticket:  ticket.Ticket{ID: a.RelatedTo, Queue: queue, Subject: a.Subject, Language: "en"},
		Message: ticket.Message{MessageID: msg.MessageID, Author: msg.From, Role: ticket.RoleAgent},
		Mails:   []threading.Mail{{Kind: threading.MailErrorReply, Template: "unknown_ticket", To: msg.From, ToAgent: true}},
	}
	mails, err := r.render(c, msg.FromName, nil, now)
	if err != nil {
		return err
	}
	if err := in.st.Notify(ctx, "bounce:"+msg.Dedupe, mails, now); err != nil && !errors.Is(err, store.ErrDuplicate) {
		return err
	}
	in.kick()
	return nil
}

// people reads the accounts of the addresses a customer's message names (mentions, #follow,
// #unfollow), so that the decision can tell colleagues from strangers. Agents' messages and
// messages that name nobody cost no round trip.
func (in *Ingester) people(ctx context.Context, r *rules, msg *mail.Message) (map[string]threading.Person, error) {
	if r.cfg.IsAgent(msg.From) || msg.Auto || !strings.Contains(msg.Text, "@") {
		return nil, nil // names nobody: neither a mention nor #follow can be without an '@'
	}
	text := mail.StripQuotes(msg.Text)
	cmds, _ := ticket.ParseCommands(text)
	cc := ticket.ParseCustomerCommands(cmds)
	addrs := append(append([]string{}, cc.Follow...), cc.Unfollow...)
	dom := ticket.Organization(msg.From)
	for _, m := range ticket.Mentions(ticket.WithoutLines(text, cc.Lines)) {
		if a := ticket.MentionAddress(m, dom); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	accts, err := in.st.People(ctx, addrs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]threading.Person, len(accts))
	for a, acct := range accts {
		out[a] = threading.Person{Organization: acct.Organization, Active: acct.Active}
	}
	return out, nil
}

// write commits and accounts for the mails the hourly cap held back.
func (in *Ingester) write(ctx context.Context, cm *store.Commit) error {
	firstResponse := in.clock(cm)
	res, err := in.st.Commit(ctx, cm)
	if err != nil {
		return err
	}
	if firstResponse >= 0 {
		in.m.SLAFirstResponse.Observe(firstResponse.Seconds())
	}
	if len(res.Capped) > 0 {
		in.m.CappedAutoMails.Add(float64(len(res.Capped)))
		in.log.Warn("automatic mail held back by the hourly cap", "ticket", cm.Ticket.ID, "count", len(res.Capped))
	}
	return nil
}

// quarantine keeps a message we cannot parse and tells the agents; the sender gets 250, since
// a 4xx would have the MTA retry a poison message for days.
func (in *Ingester) quarantine(ctx context.Context, r *rules, envFrom string, raw []byte, cause error) (Result, error) {
	sum := sha256.Sum256(raw)
	q := store.Quarantined{ID: hex.EncodeToString(sum[:12]), ReceivedAt: in.now(), EnvelopeFrom: envFrom,
		Reason: mail.OneLine(cause.Error()), Size: len(raw), Raw: raw,
		Keep: r.cfg.Storage.KeepQuarantine.D(), NoticeCap: r.cfg.Outbound.MaxAutoRepliesPerSenderPerHour}
	var mails []store.Outgoing
	for _, n := range r.cfg.Agents.Notify {
		b, mid, subj := r.rend.RenderQuarantine(n, r.cfg.Support.Addresses[0], q.ID, q.Reason, envFrom, q.ReceivedAt)
		mails = append(mails, store.Outgoing{ID: outbound.NewID(), Kind: threading.MailNotice, To: n,
			EnvelopeFrom: r.cfg.Support.Addresses[0], Subject: subj, MessageID: mid, Raw: b})
	}
	capped, err := in.st.Quarantine(ctx, q, mails)
	if err != nil {
		return Result{}, err
	}
	in.m.Quarantined.Inc()
	if capped {
		in.m.CappedAutoMails.Add(float64(len(mails)))
	} else {
		in.kick()
	}
	in.log.Warn("message quarantined", "quarantine_id", q.ID, "reason", q.Reason, "envelope_from", envFrom, "agents_notified", !capped)
	in.m.Messages.WithLabelValues(threading.OutcomeIgnored).Inc()
	return Result{Outcome: threading.OutcomeIgnored, Reason: reason.Quarantined}, nil
}
