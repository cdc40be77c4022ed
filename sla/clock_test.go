package sla

import (
	"testing"
	"time"
)

// step is one change in a ticket's life, at a local Paris time on 2026-11-23 (a Monday).
type step struct {
	at       string // "10:30"
	class    string
	priority string
	customer bool
	agent    bool
}

func desk(t *testing.T, thirdParty bool) *Policy {
	return &Policy{
		Calendar: cal(t, "Europe/Paris", paris, "2026-12-25"),
		Targets: map[string]Target{
			"urgent": {FirstResponse: Duration{Rest: time.Hour}, Resolution: Duration{Rest: 4 * time.Hour}},
			"high":   {FirstResponse: Duration{Rest: 4 * time.Hour}, Resolution: Duration{Days: 2}},
		},
		PauseOnThirdParty: thirdParty,
	}
}

func monday(t *testing.T, hhmm string) time.Time {
	return at(t, "2026-11-23T"+hhmm+":00+01:00")
}

// play runs the steps from a ticket created at the first one.
func play(t *testing.T, p *Policy, steps []step) State {
	t.Helper()
	created := monday(t, steps[0].at)
	var s *State
	prev := ""
	for _, st := range steps {
		next := p.Next(s, Change{Now: monday(t, st.at), Created: created, Priority: st.priority, PrevClass: prev,
			Class: st.class, CustomerReply: st.customer, AgentReply: st.agent})
		s, prev = &next, st.class
	}
	return *s
}

func local(p *Policy, tp *time.Time) string {
	if tp == nil {
		return "-"
	}
	return tp.In(p.Calendar.Location()).Format("Mon 15:04")
}

func TestClock(t *testing.T) {
	tests := []struct {
		name             string
		thirdParty       bool
		steps            []step
		firstDue, resDue string
		paused           bool
	}{
		{"opened on a Monday morning", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}},
			"Mon 11:00", "Mon 14:00", false},
		{"business days: 2d is 20 business hours", false,
			[]step{{at: "10:00", class: "new", priority: "high"}},
			"Mon 14:00", "Wed 10:00", false},
		{"no target for the priority: no due time", false,
			[]step{{at: "10:00", class: "new", priority: "low"}},
			"-", "-", false},
		{"waiting on the customer pauses both clocks", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:30", class: "waiting_customer", priority: "urgent", agent: true}},
			"-", "-", true},
		{"the customer's reply resumes them", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:30", class: "waiting_customer", priority: "urgent"},
				{at: "13:00", class: "open", priority: "urgent", customer: true}},
			"Mon 13:30", "Mon 16:30", false},
		{"the customer's reply resumes even when the status stays waiting", true,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:30", class: "waiting_other", priority: "urgent"},
				{at: "13:00", class: "waiting_other", priority: "urgent", customer: true}},
			"Mon 13:30", "Mon 16:30", false},
		{"waiting on a third party runs without pause_on_third_party", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:30", class: "waiting_other", priority: "urgent"}},
			"Mon 11:00", "Mon 14:00", false},
		{"waiting on a third party pauses with pause_on_third_party", true,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:30", class: "waiting_other", priority: "urgent"}},
			"-", "-", true},
		{"an internal change while waiting keeps the pause", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:30", class: "waiting_customer", priority: "urgent"},
				{at: "11:00", class: "waiting_customer", priority: "urgent"}, {at: "12:00", class: "open", priority: "urgent"}},
			"Mon 12:30", "Mon 15:30", false},
		{"the first public agent reply meets first response", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:20", class: "open", priority: "urgent", agent: true}},
			"-", "Mon 14:00", false},
		{"a priority change recomputes from the creation time", false,
			[]step{{at: "10:00", class: "new", priority: "high"}, {at: "12:00", class: "open", priority: "urgent"}},
			"Mon 11:00", "Mon 14:00", false},
		{"lowering the priority pushes the due times back", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:10", class: "open", priority: "high"}},
			"Mon 14:00", "Wed 10:00", false},
		{"resolved stops the resolution clock", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:10", class: "open", priority: "urgent", agent: true},
				{at: "11:00", class: "resolved", priority: "urgent"}},
			"-", "-", false},
		{"a reopened ticket's resolution clock resumes where it stopped", false,
			[]step{{at: "10:00", class: "new", priority: "urgent"}, {at: "10:10", class: "open", priority: "urgent", agent: true},
				{at: "11:00", class: "resolved", priority: "urgent"}, {at: "11:30", class: "closed", priority: "urgent"},
				{at: "16:00", class: "open", priority: "urgent", customer: true}},
			"-", "Tue 09:00", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := desk(t, tc.thirdParty)
			s := play(t, p, tc.steps)
			if f, r := local(p, s.FirstResponseDue), local(p, s.ResolutionDue); f != tc.firstDue || r != tc.resDue || s.Paused != tc.paused {
				t.Fatalf("first response due %s, resolution due %s, paused %v; want %s, %s, %v (pauses %+v)",
					f, r, s.Paused, tc.firstDue, tc.resDue, tc.paused, s.Pauses)
			}
		})
	}
}

func TestClockReopenedLateRunsIntoTuesday(t *testing.T) {
	// 1h used before the resolution, 3h left at 16:00: 2h on Monday (closing 18:00), 1h on
	// Tuesday from 08:00.
	p := desk(t, false)
	s := play(t, p, []step{{at: "10:00", class: "new", priority: "urgent"}, {at: "11:00", class: "resolved", priority: "urgent"},
		{at: "16:00", class: "open", priority: "urgent", customer: true}})
	if got := s.ResolutionDue.In(p.Calendar.Location()).Format("Mon 02 15:04"); got != "Tue 24 09:00" {
		t.Fatalf("resolution due %s, want Tue 24 09:00", got)
	}
}

func TestPendingOncePerTargetAndKind(t *testing.T) {
	p := desk(t, false)
	s := play(t, p, []step{{at: "10:00", class: "new", priority: "urgent"}})
	warn := 30 * time.Minute
	if m := Pending(&s, monday(t, "10:29"), warn); len(m) != 0 {
		t.Fatalf("before warn_before: %+v", m)
	}
	m := Pending(&s, monday(t, "10:30"), warn)
	if len(m) != 1 || m[0].Target != FirstResponse || m[0].Kind != Warning {
		t.Fatalf("at warn_before: %+v", m)
	}
	Record(&s, m)
	if m := Pending(&s, monday(t, "10:45"), warn); len(m) != 0 {
		t.Fatalf("a second warning: %+v", m)
	}
	m = Pending(&s, monday(t, "11:00"), warn)
	if len(m) != 1 || m[0].Kind != Breach {
		t.Fatalf("at the due time: %+v", m)
	}
	Record(&s, m)
	if m := Pending(&s, monday(t, "12:00"), warn); len(m) != 0 {
		t.Fatalf("a second breach: %+v", m)
	}
	// Past both due times at once (the scheduler was down): breaches only, no late warnings.
	s2 := play(t, p, []step{{at: "10:00", class: "new", priority: "urgent"}})
	m = Pending(&s2, monday(t, "17:00"), warn)
	if len(m) != 2 || m[0].Kind != Breach || m[1].Kind != Breach {
		t.Fatalf("late scheduler: %+v", m)
	}
	// A breach stays recorded through a priority change that moves the due time back.
	Record(&s2, m)
	s3 := p.Next(&s2, Change{Now: monday(t, "17:00"), Created: monday(t, "10:00"), Priority: "high", PrevClass: "open", Class: "open"})
	if !Has(s3.Breached, FirstResponse) || len(Pending(&s3, monday(t, "17:00"), warn)) != 0 {
		t.Fatalf("after a priority change: %+v", s3)
	}
}

func TestElapsed(t *testing.T) {
	p := desk(t, false)
	pauses := []Interval{{Start: monday(t, "10:30"), End: monday(t, "13:00")}}
	if got := p.Elapsed(monday(t, "10:00"), monday(t, "14:00"), pauses); got != 90*time.Minute {
		t.Fatalf("elapsed = %v, want 1h30m", got)
	}
	if got := p.Elapsed(monday(t, "10:00"), monday(t, "11:00"), []Interval{{Start: monday(t, "10:30")}}); got != 30*time.Minute {
		t.Fatalf("elapsed in an open pause = %v, want 30m", got)
	}
}
