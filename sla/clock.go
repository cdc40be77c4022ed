package sla

import (
	"slices"
	"time"
)

// Targets, also the label values of mailgate_sla_breaches_total{target}.
const (
	FirstResponse = "first_response"
	Resolution    = "resolution"
)

// Names lists the targets in the order they are reported.
var Names = []string{FirstResponse, Resolution}

// Status classes of the ticket model, as plain strings.
const (
	ClassNew             = "new"
	ClassOpen            = "open"
	ClassWaitingCustomer = "waiting_customer"
	ClassWaitingOther    = "waiting_other"
	ClassResolved        = "resolved"
	ClassClosed          = "closed"
)

// Kinds of mail per target: one warning at warn_before, one breach at the due time.
const (
	Warning = "warning"
	Breach  = "breach"
)

// Target is one priority's promise; a zero Duration means no promise for that clock.
type Target struct {
	FirstResponse Duration
	Resolution    Duration
}

// Policy is the configuration the clocks read.
type Policy struct {
	Calendar *Calendar
	Targets  map[string]Target // by priority
	// PauseOnThirdParty also stops the clocks while the ticket waits on someone else.
	PauseOnThirdParty bool
}

// Interval is a stretch of time the clocks stood still; End is zero while it lasts.
type Interval struct {
	Start time.Time `json:"from"`
	End   time.Time `json:"to,omitzero"`
}

// State is a ticket's service-level record, stored with the ticket and shown in its JSON.
// The due times are those of clocks still running toward them: absent once the target is
// met, while the clock is paused, and when the priority has no such target.
type State struct {
	FirstResponseDue *time.Time `json:"first_response_due,omitempty"`
	ResolutionDue    *time.Time `json:"resolution_due,omitempty"`
	Paused           bool       `json:"paused"`
	// Breached lists the targets whose due time passed first (the breach mail went out).
	Breached []string `json:"breached"`
	// Warned lists the targets whose warning mail went out.
	Warned          []string   `json:"warned,omitempty"`
	FirstResponseAt time.Time  `json:"first_response_at,omitzero"`
	Pauses          []Interval `json:"pauses,omitempty"`
	// Stopped is set while the ticket is resolved or closed: nothing is due. Not stored; every
	// change computes it again.
	Stopped bool `json:"-"`
}

// Clone returns a copy that shares no slice with s.
func (s *State) Clone() State {
	if s == nil {
		return State{Breached: []string{}}
	}
	c := *s
	c.Breached = append([]string{}, s.Breached...)
	c.Warned = slices.Clone(s.Warned)
	c.Pauses = slices.Clone(s.Pauses)
	return c
}

// Due returns target's due time while its clock runs.
func (s *State) Due(target string) (time.Time, bool) {
	p := s.FirstResponseDue
	if target == Resolution {
		p = s.ResolutionDue
	}
	if p == nil {
		return time.Time{}, false
	}
	return *p, true
}

// Has reports whether list holds target.
func Has(list []string, target string) bool { return slices.Contains(list, target) }

// Change is what happened to a ticket, as the clocks see it.
type Change struct {
	Now      time.Time
	Created  time.Time
	Priority string
	// PrevClass is the status class before the change, "" for a new ticket.
	PrevClass, Class string
	// CustomerReply is a public, non-automatic message from the customer: it resumes the
	// clocks even when the status stays a waiting one.
	CustomerReply bool
	// AgentReply is a public, non-automatic message from an agent: the first response.
	AgentReply bool
}

// pauses reports whether class stops the clocks.
func (p *Policy) pauses(class string) bool {
	switch class {
	case ClassWaitingCustomer, ClassResolved, ClassClosed:
		return true
	case ClassWaitingOther:
		return p.PauseOnThirdParty
	}
	return false
}

// Next is the state after ch. A priority change needs nothing special: the due times are
// always computed from the creation time with the current priority's targets.
func (p *Policy) Next(prev *State, ch Change) State {
	s := prev.Clone()
	open := len(s.Pauses) > 0 && s.Pauses[len(s.Pauses)-1].End.IsZero()
	switch {
	case open && (!p.pauses(ch.Class) || (ch.CustomerReply && !stopped(ch.Class))):
		s.Pauses[len(s.Pauses)-1].End = ch.Now
	case !open && p.pauses(ch.Class) && (ch.Class != ch.PrevClass || stopped(ch.Class)):
		s.Pauses = append(s.Pauses, Interval{Start: ch.Now})
	}
	if ch.AgentReply && s.FirstResponseAt.IsZero() {
		s.FirstResponseAt = ch.Now
	}
	p.Refresh(&s, ch.Created, ch.Priority, ch.Class)
	return s
}

func stopped(class string) bool { return class == ClassResolved || class == ClassClosed }

// Refresh computes the due times and flags of s for the ticket's current priority and class.
func (p *Policy) Refresh(s *State, created time.Time, priority, class string) {
	t := p.Targets[priority]
	open := len(s.Pauses) > 0 && s.Pauses[len(s.Pauses)-1].End.IsZero()
	s.Paused = open && !stopped(class)
	s.Stopped = stopped(class)
	s.FirstResponseDue, s.ResolutionDue = nil, nil
	if t.FirstResponse != (Duration{}) && s.FirstResponseAt.IsZero() {
		if due, ok := p.due(created, p.Calendar.Span(t.FirstResponse), s.Pauses); ok {
			s.FirstResponseDue = &due
		}
	}
	if t.Resolution != (Duration{}) && !s.Stopped {
		if due, ok := p.due(created, p.Calendar.Span(t.Resolution), s.Pauses); ok {
			s.ResolutionDue = &due
		}
	}
}

// due walks the business time from created, skipping the pauses, until target is used up.
// ok is false when the clock is paused before that.
func (p *Policy) due(created time.Time, target time.Duration, pauses []Interval) (time.Time, bool) {
	at := created
	for _, ps := range pauses {
		if ps.Start.Before(at) {
			if !ps.End.IsZero() && ps.End.After(at) {
				at = ps.End
			} else if ps.End.IsZero() {
				return time.Time{}, false
			}
			continue
		}
		cand, ok := p.Calendar.Add(at, target)
		if !ok {
			return time.Time{}, false
		}
		if !cand.After(ps.Start) {
			return cand, true
		}
		target -= p.Calendar.Between(at, ps.Start)
		if ps.End.IsZero() {
			return time.Time{}, false
		}
		at = ps.End
	}
	return p.Calendar.Add(at, target)
}

// Elapsed is the business time from created to at, less the pauses: what a clock has used.
func (p *Policy) Elapsed(created, at time.Time, pauses []Interval) time.Duration {
	n := p.Calendar.Between(created, at)
	for _, ps := range pauses {
		end := ps.End
		if end.IsZero() || end.After(at) {
			end = at
		}
		if ps.Start.Before(end) {
			n -= p.Calendar.Between(maxTime(ps.Start, created), end)
		}
	}
	return max(n, 0)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Mail is one warning or breach mail due for a ticket.
type Mail struct {
	Target string
	Kind   string // Warning or Breach
	Due    time.Time
}

// Pending returns the mails due at now with warnBefore, never one already sent: a breach
// for each running target past its due time, else a warning within warnBefore of it.
func Pending(s *State, now time.Time, warnBefore time.Duration) []Mail {
	var out []Mail
	for _, name := range Names {
		due, ok := s.Due(name)
		if !ok {
			continue
		}
		switch {
		case !now.Before(due) && !Has(s.Breached, name):
			out = append(out, Mail{Target: name, Kind: Breach, Due: due})
		case !now.Before(due.Add(-warnBefore)) && now.Before(due) && !Has(s.Warned, name) && !Has(s.Breached, name):
			out = append(out, Mail{Target: name, Kind: Warning, Due: due})
		}
	}
	return out
}

// Record marks mails as sent on s.
func Record(s *State, mails []Mail) {
	for _, m := range mails {
		switch m.Kind {
		case Breach:
			if !Has(s.Breached, m.Target) {
				s.Breached = append(s.Breached, m.Target)
			}
		case Warning:
			if !Has(s.Warned, m.Target) {
				s.Warned = append(s.Warned, m.Target)
			}
		}
	}
}
