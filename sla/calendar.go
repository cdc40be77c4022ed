// Package sla counts service-level clocks in business time: a calendar of opening hours,
// holidays and a time zone, targets per priority, pauses while a ticket waits on someone
// else. Pure functions over plain values; no I/O. The ticket's status class and priority
// are plain strings given by the caller, so this package knows nothing of the ticket model.
package sla

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Range is one opening range of a day in minutes after local midnight, [Start, End); End
// may be 1440 (midnight at the end of the day).
type Range struct{ Start, End int }

// Calendar says when the desk is open. Opening hours are local wall-clock times in the
// calendar's zone, so a day with a daylight-saving change still opens at 08:00 local; a
// "24h" day counts the real hours it has (23 or 25 on the change days).
type Calendar struct {
	loc      *time.Location
	hours    [7][]Range // by time.Weekday
	holidays map[civil]bool
	dayLen   time.Duration
}

type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil { y, m, d := t.Date(); return civil{y, m, d} }

// maxDays bounds the walk over days: a calendar open less than once in ten years (every
// open day a holiday) has no due time.
const maxDays = 3660

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// NewCalendar builds a calendar. hours maps day specs ("mon-fri", "sat", "mon,wed") to
// ranges ("08:00-18:00", "08:00-12:00,14:00-18:00", "24h"); a day named nowhere is closed.
// holidays are dates (2026-12-25) in the calendar's zone: closed all day.
func NewCalendar(loc *time.Location, hours map[string]string, holidays []string) (*Calendar, error) {
	if loc == nil {
		loc = time.UTC
	}
	c := &Calendar{loc: loc, holidays: map[civil]bool{}}
	seen := [7]bool{}
	for spec, rs := range hours {
		days, err := parseDays(spec)
		if err != nil {
			return nil, err
		}
		ranges, err := parseRanges(rs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		for _, d := range days {
			if seen[d] {
				return nil, fmt.Errorf("%s: %s is named twice", spec, strings.ToLower(d.String()[:3]))
			}
			seen[d] = true
			c.hours[d] = ranges
		}
	}
	for _, h := range holidays {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(h), loc)
		if err != nil {
			return nil, fmt.Errorf("holiday %q is not a date like 2026-12-25", h)
		}
		c.holidays[civilOf(d)] = true
	}
	for _, rs := range c.hours {
		var n time.Duration
		for _, r := range rs {
			n += time.Duration(r.End-r.Start) * time.Minute
		}
		c.dayLen = max(c.dayLen, n)
	}
	if c.dayLen == 0 {
		return nil, errors.New("no day has business hours")
	}
	return c, nil
}

// AllDay is a calendar open at every moment in UTC: business time is real time.
func AllDay() *Calendar {
	c, _ := NewCalendar(time.UTC, map[string]string{"mon-sun": "24h"}, nil)
	return c
}

func parseDays(spec string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(strings.ToLower(spec), ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[strings.TrimSpace(from)]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun, or a range like mon-fri)", part)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := dayNames[strings.TrimSpace(to)]
		if !ok {
			return nil, fmt.Errorf("%q is not a day (mon, tue, wed, thu, fri, sat, sun, or a range like mon-fri)", part)
		}
		// Weeks start on Monday here: mon-sun is the whole week, fri-mon wraps the weekend.
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseRanges(s string) ([]Range, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "24h" {
		return []Range{{0, 1440}}, nil
	}
	var out []Range
	for _, part := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("%q is not a range like 08:00-18:00 (or 24h)", part)
		}
		start, err1 := parseClock(a)
		end, err2 := parseClock(b)
		if err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("%q is not a range like 08:00-18:00 (or 24h)", part)
		}
		if len(out) > 0 && start < out[len(out)-1].End {
			return nil, fmt.Errorf("%q overlaps or precedes the range before it", part)
		}
		out = append(out, Range{start, end})
	}
	return out, nil
}

// parseClock reads HH:MM (00:00 to 24:00) as minutes after midnight.
func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 1440 {
		return 0, fmt.Errorf("%q is not a time like 08:30", s)
	}
	return hh*60 + mm, nil
}

// ParseClock reads a local time of day (HH:MM), e.g. the digest's hour.
func ParseClock(s string) (hour, minute int, err error) {
	n, err := parseClock(s)
	if err != nil || n >= 1440 {
		return 0, 0, fmt.Errorf("%q is not a time like 08:30", s)
	}
	return n / 60, n % 60, nil
}

// Location is the calendar's zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// DayLength is one business day ("d" in targets): the longest opening of any weekday, 10h
// for 08:00-18:00, 24h for "24h".
func (c *Calendar) DayLength() time.Duration { return c.dayLen }

// Open reports whether the desk is open on t's local date (a business day, not a holiday).
func (c *Calendar) Open(t time.Time) bool {
	t = t.In(c.loc)
	return len(c.hours[t.Weekday()]) > 0 && !c.holidays[civilOf(t)]
}

// openings returns the opening intervals of the local day that starts at midnight.
func (c *Calendar) openings(midnight time.Time) [][2]time.Time {
	if !c.Open(midnight) {
		return nil
	}
	y, m, d := midnight.Date()
	var out [][2]time.Time
	for _, r := range c.hours[midnight.Weekday()] {
		// time.Date normalises 24:00 to the next midnight and a wall time that a DST change
		// skips to one of the instants around it.
		a := time.Date(y, m, d, r.Start/60, r.Start%60, 0, 0, c.loc)
		b := time.Date(y, m, d, r.End/60, r.End%60, 0, 0, c.loc)
		if b.After(a) {
			out = append(out, [2]time.Time{a, b})
		}
	}
	return out
}

func (c *Calendar) midnight(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc)
}

func nextMidnight(mid time.Time) time.Time {
	y, m, d := mid.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, mid.Location())
}

// Add returns the instant at which d of business time has passed since start. ok is false
// when the calendar has no such instant within ten years.
func (c *Calendar) Add(start time.Time, d time.Duration) (time.Time, bool) {
	mid := c.midnight(start)
	for range maxDays {
		for _, o := range c.openings(mid) {
			if !o[1].After(start) {
				continue
			}
			from := o[0]
			if start.After(from) {
				from = start
			}
			if avail := o[1].Sub(from); d <= avail {
				return from.Add(d).UTC(), true
			} else {
				d -= avail
			}
		}
		mid = nextMidnight(mid)
	}
	return time.Time{}, false
}

// Between is the business time from a to b (0 when b is not after a).
func (c *Calendar) Between(a, b time.Time) time.Duration {
	var n time.Duration
	for mid := c.midnight(a); mid.Before(b); mid = nextMidnight(mid) {
		for _, o := range c.openings(mid) {
			from, to := o[0], o[1]
			if a.After(from) {
				from = a
			}
			if b.Before(to) {
				to = b
			}
			if to.After(from) {
				n += to.Sub(from)
			}
		}
	}
	return n
}

// Duration is a target: whole business days and business time ("2d", "4h", "1d4h").
type Duration struct {
	Days int
	Rest time.Duration
}

// ParseDuration reads a target: an optional number of business days ("2d") followed by a Go
// duration ("4h", "90m").
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var out Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return Duration{}, fmt.Errorf("%q is not a duration like 4h, 30m or 2d (business days)", s)
		}
		out.Days, s = n, s[i+1:]
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Duration{}, fmt.Errorf("%q is not a duration like 4h, 30m or 2d (business days)", s)
		}
		out.Rest = d
	}
	if out.Days == 0 && out.Rest == 0 {
		return Duration{}, errors.New("a target must be longer than zero")
	}
	return out, nil
}

func (d Duration) String() string {
	switch {
	case d.Days == 0:
		return d.Rest.String()
	case d.Rest == 0:
		return strconv.Itoa(d.Days) + "d"
	}
	return strconv.Itoa(d.Days) + "d" + d.Rest.String()
}

// Span is d in business time on c: a day is c.DayLength().
func (c *Calendar) Span(d Duration) time.Duration {
	return time.Duration(d.Days)*c.dayLen + d.Rest
}
