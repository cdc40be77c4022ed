package sla

import (
	"testing"
	"time"
)

// TestWorkedExample is the example of docs/service-levels.md: a Paris desk, a normal ticket
// opened on the Friday evening before Whit Monday.
func TestWorkedExample(t *testing.T) {
	loc := zone(t, "Europe/Paris")
	c := cal(t, "Europe/Paris", paris, "2026-05-25", "2026-12-25", "2027-01-01")
	p := &Policy{Calendar: c, Targets: map[string]Target{
		"normal": {FirstResponse: Duration{Days: 1}, Resolution: Duration{Days: 5}},
		"urgent": {FirstResponse: Duration{Rest: time.Hour}, Resolution: Duration{Rest: 4 * time.Hour}},
	}}
	show := func(tp *time.Time) string {
		if tp == nil {
			return "-"
		}
		return tp.In(loc).Format("Mon 2 Jan 15:04")
	}
	when := func(d, h int) time.Time { return time.Date(2026, 5, d, h, 0, 0, 0, loc) }
	created := when(22, 19)
	steps := []struct {
		ch           Change
		first, resol string
	}{
		{Change{Now: created, Priority: "normal", Class: ClassNew}, "Tue 26 May 15:00", "Mon 1 Jun 12:00"},
		{Change{Now: when(26, 10), Priority: "normal", PrevClass: ClassNew, Class: ClassWaitingCustomer, AgentReply: true}, "-", "-"},
		{Change{Now: when(28, 14), Priority: "normal", PrevClass: ClassWaitingCustomer, Class: ClassOpen, CustomerReply: true}, "-", "Wed 3 Jun 16:00"},
		{Change{Now: when(28, 15), Priority: "urgent", PrevClass: ClassOpen, Class: ClassOpen}, "-", "Tue 26 May 09:00"},
	}
	var s *State
	for i, st := range steps {
		st.ch.Created = created
		next := p.Next(s, st.ch)
		s = &next
		if f, r := show(s.FirstResponseDue), show(s.ResolutionDue); f != st.first || r != st.resol {
			t.Fatalf("step %d: first response %s, resolution %s; want %s, %s", i, f, r, st.first, st.resol)
		}
	}
	if got := p.Elapsed(created, s.FirstResponseAt, s.Pauses); got != 5*time.Hour {
		t.Fatalf("first response after %v of business time, want 5h", got)
	}
	if m := Pending(s, when(28, 15), 30*time.Minute); len(m) != 1 || m[0].Target != Resolution || m[0].Kind != Breach {
		t.Fatalf("pending after the priority change: %+v", m)
	}
}
