package sla

import (
	"testing"
	"time"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func cal(t *testing.T, tz string, hours map[string]string, holidays ...string) *Calendar {
	t.Helper()
	c, err := NewCalendar(zone(t, tz), hours, holidays)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// at reads a local time with its offset, e.g. "2026-03-29T05:30:00+02:00".
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	allDay   = map[string]string{"mon-sun": "24h"}
	every    = map[string]string{"mon-sun": "08:00-18:00"}
	weekdays = map[string]string{"mon-fri": "09:00-17:00"}
	paris    = map[string]string{"mon-fri": "08:00-18:00", "sat": "09:00-12:00"}
)

func TestCalendarAdd(t *testing.T) {
	tests := []struct {
		name     string
		tz       string
		hours    map[string]string
		holidays []string
		start    string
		add      time.Duration
		want     string // local time with the offset in force then
	}{
		{"Paris March change, 24h: the skipped hour does not count", "Europe/Paris", allDay, nil,
			"2026-03-29T00:30:00+01:00", 4 * time.Hour, "2026-03-29T05:30:00+02:00"},
		{"Paris March change, opening hours stay local", "Europe/Paris", every, nil,
			"2026-03-28T17:00:00+01:00", 2 * time.Hour, "2026-03-29T09:00:00+02:00"},
		{"Paris October change, 24h: the repeated hour counts", "Europe/Paris", allDay, nil,
			"2026-10-25T01:30:00+02:00", 4 * time.Hour, "2026-10-25T04:30:00+01:00"},
		{"Paris October change, opening hours stay local", "Europe/Paris", every, nil,
			"2026-10-24T17:30:00+02:00", time.Hour, "2026-10-25T08:30:00+01:00"},
		{"New York March change, 24h", "America/New_York", allDay, nil,
			"2026-03-08T00:30:00-05:00", 4 * time.Hour, "2026-03-08T05:30:00-04:00"},
		{"New York March change, weekend closed", "America/New_York", weekdays, nil,
			"2026-03-06T16:00:00-05:00", 2 * time.Hour, "2026-03-09T10:00:00-04:00"},
		{"New York November change, 24h", "America/New_York", allDay, nil,
			"2026-11-01T00:30:00-04:00", 4 * time.Hour, "2026-11-01T03:30:00-05:00"},
		{"New York November change, weekend closed", "America/New_York", weekdays, nil,
			"2026-10-30T16:00:00-04:00", 2 * time.Hour, "2026-11-02T10:00:00-05:00"},
		{"Friday evening before a holiday Monday: Saturday morning, then Tuesday", "Europe/Paris", paris, []string{"2026-05-25"},
			"2026-05-22T19:00:00+02:00", 4 * time.Hour, "2026-05-26T09:00:00+02:00"},
		{"Friday evening before a holiday Monday, 2 business days", "Europe/Paris", paris, []string{"2026-05-25"},
			"2026-05-22T19:00:00+02:00", 20 * time.Hour, "2026-05-27T15:00:00+02:00"},
		{"before opening starts at opening", "Europe/Paris", paris, nil,
			"2026-11-23T06:00:00+01:00", time.Hour, "2026-11-23T09:00:00+01:00"},
		{"exactly used up at closing stays at closing", "Europe/Paris", paris, nil,
			"2026-11-23T17:00:00+01:00", time.Hour, "2026-11-23T18:00:00+01:00"},
		{"two ranges a day skip lunch", "Europe/Paris", map[string]string{"mon-fri": "08:00-12:00,14:00-18:00"}, nil,
			"2026-11-23T11:00:00+01:00", 2 * time.Hour, "2026-11-23T15:00:00+01:00"},
		{"Christmas and New Year closed", "Europe/Paris", paris, []string{"2026-12-25", "2027-01-01"},
			"2026-12-24T17:00:00+01:00", 2 * time.Hour, "2026-12-26T10:00:00+01:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cal(t, tc.tz, tc.hours, tc.holidays...)
			start := at(t, tc.start)
			got, ok := c.Add(start, tc.add)
			want := at(t, tc.want)
			if !ok || !got.Equal(want) {
				t.Fatalf("Add(%s, %v) = %s, want %s", tc.start, tc.add, got.In(c.Location()).Format(time.RFC3339), tc.want)
			}
			// Between is Add's inverse.
			if b := c.Between(start, got); b != tc.add {
				t.Fatalf("Between(%s, %s) = %v, want %v", tc.start, tc.want, b, tc.add)
			}
		})
	}
}

func TestCalendarDSTDayLengths(t *testing.T) {
	c := cal(t, "Europe/Paris", allDay)
	if got := c.Between(at(t, "2026-03-29T00:00:00+01:00"), at(t, "2026-03-30T00:00:00+02:00")); got != 23*time.Hour {
		t.Fatalf("the March change day has %v of business time, want 23h", got)
	}
	if got := c.Between(at(t, "2026-10-25T00:00:00+02:00"), at(t, "2026-10-26T00:00:00+01:00")); got != 25*time.Hour {
		t.Fatalf("the October change day has %v of business time, want 25h", got)
	}
	ny := cal(t, "America/New_York", weekdays)
	// A week of 9-17 is 40 business hours whatever the offset did on the Sunday.
	if got := ny.Between(at(t, "2026-03-06T00:00:00-05:00"), at(t, "2026-03-13T00:00:00-04:00")); got != 40*time.Hour {
		t.Fatalf("business week across the change = %v, want 40h", got)
	}
}

func TestCalendarParse(t *testing.T) {
	bad := []map[string]string{
		{"mon-fri": "18:00-08:00"},
		{"mon-fri": "8-18"},
		{"funday": "08:00-18:00"},
		{"mon-fri": "08:00-12:00", "fri": "13:00-14:00"},
		{"mon": "08:00-12:00,11:00-13:00"},
		{"mon": "08:00-25:00"},
		{},
	}
	for _, h := range bad {
		if _, err := NewCalendar(time.UTC, h, nil); err == nil {
			t.Errorf("%v accepted", h)
		}
	}
	if _, err := NewCalendar(time.UTC, paris, []string{"25/12/2026"}); err == nil {
		t.Error("a holiday that is not a date was accepted")
	}
	c := cal(t, "UTC", map[string]string{"fri-mon": "24h", "wed": "08:00-12:00"})
	for d, want := range map[string]bool{"2026-11-20": true, "2026-11-21": true, "2026-11-22": true, "2026-11-23": true,
		"2026-11-24": false, "2026-11-25": true, "2026-11-26": false} {
		day, _ := time.Parse(time.DateOnly, d)
		if c.Open(day) != want {
			t.Errorf("open on %s (%s) = %v", d, day.Weekday(), !want)
		}
	}
	if c.DayLength() != 24*time.Hour || cal(t, "UTC", paris).DayLength() != 10*time.Hour {
		t.Error("a business day is the longest opening of the week")
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]Duration{"4h": {0, 4 * time.Hour}, "2d": {2, 0}, "1d4h": {1, 4 * time.Hour}, "90m": {0, 90 * time.Minute}} {
		got, err := ParseDuration(in)
		back, _ := ParseDuration(got.String())
		if err != nil || got != want || back != got {
			t.Errorf("ParseDuration(%q) = %v, %v (%s)", in, got, err, got)
		}
	}
	for _, in := range []string{"", "0", "0d", "xd", "2d4", "-1h", "1w"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
	if got := cal(t, "UTC", paris).Span(Duration{Days: 2, Rest: time.Hour}); got != 21*time.Hour {
		t.Errorf("2d1h on 10-hour days = %v", got)
	}
}
