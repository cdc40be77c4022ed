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
	"sync/atomic"
	"time"

	"github.com/mailgate/mailgate/auth"
	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/mail"
	"github.com/mailgate/mailgate/metrics"
	"github.com/mailgate/mailgate/outbound"
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
	Quarantine(ctx context.Context, q store.Quarantined, mails []store.Outgoing) error
}

// Result is how a message was handled; smtpd turns it into a reply.
type Result struct {
	Reject   bool
	Reason   string // one of metrics.Reasons when rejected; the threading reason otherwise
	Detail   string // a sentence for the sender
	Outcome  string
	TicketID int64
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
	in.rules.Store(&rules{
		cfg:    cfg,
		policy: PolicyFrom(&cfg),
		parser: mail.NewParser(mail.Policy{MaxFileBytes: cfg.Attachments.MaxFileBytes, MaxTotalBytes: cfg.Attachments.MaxTotalBytes, AllowedExtensions: cfg.Attachments.AllowedExtensions}),
		rend:   rend,
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
	}
}

// maxConflicts bounds how often a message is decided again because its ticket changed.
const maxConflicts = 8

// Deliver handles one message. An error means the store failed: answer 4xx, nothing written.
func (in *Ingester) Deliver(ctx context.Context, envFrom string, raw []byte) (Result, error) {
	r := in.rules.Load()
	msg, err := r.parser.Parse(raw)
	switch {
	case errors.Is(err, mail.ErrHeaderTooLarge):
		return in.rejectIfStoreUp(ctx, "header_too_big", "the message header is larger than we accept")
	case errors.Is(err, mail.ErrNoFrom):
		return in.rejectIfStoreUp(ctx, "no_from", err.Error())
	case err != nil:
		return in.quarantine(ctx, r, envFrom, raw, err)
	}
	log := in.log.With("msgid", msg.MessageID, "from", msg.From)
	if a := threading.Precheck(msg, r.policy); a != nil {
		// SPEC §2 puts rule 3 (store down: 451) before rules 4 and 5: the MTA keeps the mail.
		if err := in.st.Ping(ctx); err != nil {
			return Result{}, err
		}
		return in.finish(log, *a, 0), nil
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
			Referenced: lk.Referenced, SenderOrg: ticket.Organization(msg.From), Verdict: verdict,
		}
		if lk.Account != nil {
			facts.SenderActive = lk.Account.Active
			if lk.Account.Organization != "" {
				facts.SenderOrg = lk.Account.Organization
			}
		}
		a := threading.Decide(msg, facts, r.policy)
		if a.Kind != threading.Create && a.Kind != threading.Append {
			return in.finish(log, a, 0), nil
		}
		id, err := in.commit(ctx, r, msg, raw, a, facts.SenderOrg, newID)
		switch {
		case errors.Is(err, store.ErrConflict):
			continue
		case errors.Is(err, store.ErrDuplicate):
			return in.finish(log, threading.Action{Kind: threading.Duplicate, Outcome: threading.OutcomeDuplicate}, 0), nil
		case err != nil:
			return Result{}, err
		}
		if a.Kind == threading.Create {
			in.m.TicketsCreated.Inc()
		}
		in.kick()
		return in.finish(log, a, id), nil
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

// rejectIfStoreUp refuses a message for reason unless the store is down, which SPEC §2's
// rule 3 answers first (451).
func (in *Ingester) rejectIfStoreUp(ctx context.Context, reason, detail string) (Result, error) {
	if err := in.st.Ping(ctx); err != nil {
		return Result{}, err
	}
	return in.reject(reason, detail), nil
}

func (in *Ingester) reject(reason, detail string) Result {
	in.m.Messages.WithLabelValues(threading.OutcomeRejected).Inc()
	in.m.Rejections.WithLabelValues(reason).Inc()
	return Result{Reject: true, Reason: reason, Detail: detail, Outcome: threading.OutcomeRejected}
}

func (in *Ingester) finish(log *slog.Logger, a threading.Action, id int64) Result {
	r := Result{Outcome: a.Outcome, Reason: string(a.Reason), TicketID: id}
	if a.Kind == threading.Reject {
		r.Reject = true
		in.m.Rejections.WithLabelValues(string(a.Reason)).Inc()
	}
	in.m.Messages.WithLabelValues(a.Outcome).Inc()
	log.Info("message handled", "outcome", a.Outcome, "reason", a.Reason, "ticket", id)
	return r
}

// commit applies the action, renders the mails it causes and writes it all in one step.
func (in *Ingester) commit(ctx context.Context, r *rules, msg *mail.Message, raw []byte, a threading.Action, org string, newID int64) (int64, error) {
	now := in.now()
	queue := a.Queue
	if a.Ticket != nil {
		queue = a.Ticket.Queue
	}
	c := threading.Apply(a, msg, r.policy, r.cfg.NotifyFor(queue), org, now)
	prev := ""
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
		prev = a.Ticket.Status
	}
	cm := &store.Commit{
		Dedupe: msg.Dedupe, New: c.New, Ticket: c.Ticket, PrevStatus: prev, Message: &c.Message,
		Raw: raw, Events: c.Events, Now: now,
	}
	if !c.New {
		cm.Before = a.Ticket
	}
	if msg.MessageID != "" {
		cm.Refs = []string{msg.MessageID}
	}
	var err error
	if cm.Mails, err = r.render(c, msg.FromName, msg.Attachments, now); err != nil {
		return 0, err
	}
	if err := in.write(ctx, cm); err != nil {
		return 0, err
	}
	return c.Ticket.ID, nil
}

// render turns the mails of a change into queued outbound mail.
func (r *rules) render(c threading.Change, authorName string, files []mail.Attachment, now time.Time) ([]store.Outgoing, error) {
	var out []store.Outgoing
	for _, ml := range c.Mails {
		ri := outbound.Input{
			Kind: ml.Kind, Template: ml.Template, To: ml.To, Ticket: c.Ticket, Message: c.Message, AuthorName: authorName,
			StatusChanged: c.StatusChanged, CommandErrors: c.CommandErrors, Now: now, Lang: "en",
		}
		agent := ml.ToAgent || r.cfg.IsAgent(ml.To)
		if !agent {
			// Customers read mail in the language they wrote in; agents get English.
			ri.Lang = c.Ticket.Language
		}
		if ml.Kind == threading.MailNotice {
			ri.Files = files
		}
		b, mid, subj, err := r.rend.Render(ri)
		if err != nil {
			return nil, err
		}
		o := store.Outgoing{ID: outbound.NewID(), Kind: ml.Kind, TicketID: c.Ticket.ID, To: ml.To,
			EnvelopeFrom: c.Ticket.Queue, Subject: subj, MessageID: mid, Raw: b}
		if !agent {
			o.CapLimit = r.cfg.Outbound.MaxAutoRepliesPerSenderPerHour
		}
		out = append(out, o)
	}
	return out, nil
}

// write commits and accounts for the mails the hourly cap held back.
func (in *Ingester) write(ctx context.Context, cm *store.Commit) error {
	res, err := in.st.Commit(ctx, cm)
	if err != nil {
		return err
	}
	if len(res.Capped) > 0 {
		in.m.CappedAutoMails.Add(float64(len(res.Capped)))
		in.log.Warn("automatic mail held back by the hourly cap", "ticket", cm.Ticket.ID, "count", len(res.Capped))
	}
	return nil
}

// quarantine keeps a message we cannot parse and tells the agents; the sender gets 250, since
// a 4xx would have the MTA retry a poison message for days (SPEC §2).
func (in *Ingester) quarantine(ctx context.Context, r *rules, envFrom string, raw []byte, cause error) (Result, error) {
	sum := sha256.Sum256(raw)
	q := store.Quarantined{ID: hex.EncodeToString(sum[:12]), ReceivedAt: in.now(), EnvelopeFrom: envFrom,
		Reason: mail.OneLine(cause.Error()), Size: len(raw), Raw: raw}
	var mails []store.Outgoing
	for _, n := range r.cfg.Agents.Notify {
		b, mid, subj := r.rend.RenderQuarantine(n, r.cfg.Support.Addresses[0], q.ID, q.Reason, envFrom, q.ReceivedAt)
		mails = append(mails, store.Outgoing{ID: outbound.NewID(), Kind: threading.MailNotice, To: n,
			EnvelopeFrom: r.cfg.Support.Addresses[0], Subject: subj, MessageID: mid, Raw: b})
	}
	if err := in.st.Quarantine(ctx, q, mails); err != nil {
		return Result{}, err
	}
	in.m.Quarantined.Inc()
	in.kick()
	in.log.Warn("message quarantined", "quarantine_id", q.ID, "reason", q.Reason, "envelope_from", envFrom)
	in.m.Messages.WithLabelValues(threading.OutcomeIgnored).Inc()
	return Result{Outcome: threading.OutcomeIgnored, Reason: "quarantined"}, nil
}
