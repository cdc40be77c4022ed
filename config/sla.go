package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/sla"
)

// SLA is the service-level section: business hours, targets per priority, warnings, digest.
// With no targets the clocks are off.
type SLA struct {
	Timezone string `yaml:"timezone"`
	// BusinessHours maps days ("mon-fri", "sat") to ranges ("08:00-18:00", "24h"); a day named
	// nowhere is closed. Empty: open at every hour of every day.
	BusinessHours map[string]string `yaml:"business_hours"`
	Holidays      []string          `yaml:"holidays"`
	// Targets by priority; durations count business time, "d" is a business day.
	Targets map[string]SLATarget `yaml:"targets"`
	// WarnBefore is how long before a due time the warning mail goes out; 0: no warnings.
	WarnBefore Duration `yaml:"warn_before"`
	// CheckInterval bounds how late a warning, breach, digest or summary mail may be.
	CheckInterval     Duration `yaml:"check_interval"`
	PauseOnThirdParty bool     `yaml:"pause_on_third_party"`
	// Digest is the local time (HH:MM) of the daily mail to each queue's notify list; "" is off.
	Digest string `yaml:"digest"`
}

// SLATarget is one priority's promise; an empty value is no promise for that clock.
type SLATarget struct {
	FirstResponse string `yaml:"first_response,omitempty"`
	Resolution    string `yaml:"resolution,omitempty"`
}

// UnmarshalYAML refuses unknown keys, which yaml.v3 would silently drop inside a map value.
func (t *SLATarget) UnmarshalYAML(n *yaml.Node) error {
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return errors.New("expected {first_response: DURATION, resolution: DURATION}")
	}
	for k, v := range m {
		switch k {
		case "first_response":
			t.FirstResponse = v
		case "resolution":
			t.Resolution = v
		default:
			return fmt.Errorf("unknown key %q (first_response, resolution)", k)
		}
	}
	return nil
}

func defaultSLA() SLA {
	return SLA{Timezone: "UTC", WarnBefore: Duration(30 * time.Minute), CheckInterval: Duration(30 * time.Second)}
}

// slaPriorities are the priorities a target may name: the ticket model's.
func (c *Config) slaPriorities() []string { return c.TicketModel().Priorities() }

// SLAEnabled reports whether any priority has a target.
func (c *Config) SLAEnabled() bool { return len(c.SLA.Targets) > 0 }

// SLAPolicy builds the clocks' policy from the sla section (nil when no target is set).
func (c *Config) SLAPolicy() (*sla.Policy, error) {
	if !c.SLAEnabled() && c.SLA.Digest == "" {
		return nil, nil
	}
	loc, err := time.LoadLocation(c.SLA.Timezone)
	if err != nil {
		return nil, fmt.Errorf("sla.timezone: %q is not a time zone (e.g. Europe/Paris, America/New_York)", c.SLA.Timezone)
	}
	hours := c.SLA.BusinessHours
	if len(hours) == 0 {
		hours = map[string]string{"mon-sun": "24h"}
	}
	// Built without holidays first so that an error names the key at fault.
	if _, err := sla.NewCalendar(loc, hours, nil); err != nil {
		return nil, fmt.Errorf("sla.business_hours: %w", err)
	}
	cal, err := sla.NewCalendar(loc, hours, c.SLA.Holidays)
	if err != nil {
		return nil, fmt.Errorf("sla.holidays: %w", err)
	}
	p := &sla.Policy{Calendar: cal, Targets: map[string]sla.Target{}, PauseOnThirdParty: c.SLA.PauseOnThirdParty}
	for prio, t := range c.SLA.Targets {
		if !slices.Contains(c.slaPriorities(), prio) {
			return nil, fmt.Errorf("sla.targets: %q is not a priority (%s)", prio, strings.Join(c.slaPriorities(), ", "))
		}
		var st sla.Target
		for _, f := range []struct {
			name string
			in   string
			out  *sla.Duration
		}{{"first_response", t.FirstResponse, &st.FirstResponse}, {"resolution", t.Resolution, &st.Resolution}} {
			if f.in == "" {
				continue
			}
			d, err := sla.ParseDuration(f.in)
			if err != nil {
				return nil, fmt.Errorf("sla.targets.%s.%s: %w", prio, f.name, err)
			}
			*f.out = d
		}
		p.Targets[prio] = st
	}
	return p, nil
}

// DigestAt returns the digest's local hour and minute; ok is false when it is off.
func (c *Config) DigestAt() (hour, minute int, ok bool) {
	if c.SLA.Digest == "" {
		return 0, 0, false
	}
	h, m, err := sla.ParseClock(c.SLA.Digest)
	return h, m, err == nil
}

// NoticeBurst returns agents.notice_burst: at most n new-ticket notices per address per
// interval; past it they are gathered into one summary. n is 0 when it is off.
func (c *Config) NoticeBurst() (n int, per time.Duration) {
	n, per, _ = parseBurst(c.Agents.NoticeBurst)
	return n, per
}

// parseBurst reads "30/5m".
func parseBurst(s string) (int, time.Duration, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	n, err1 := strconv.Atoi(strings.TrimSpace(a))
	d, err2 := time.ParseDuration(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || d < time.Second {
		return 0, 0, fmt.Errorf("agents.notice_burst: %q is not COUNT/INTERVAL like 30/5m (at least 1 per 1s)", s)
	}
	return n, d, nil
}

// validateSLA checks the sla section and agents.notice_burst.
func (c *Config) validateSLA() []error {
	var errs []error
	if _, err := c.SLAPolicy(); err != nil {
		errs = append(errs, err)
	}
	if c.SLA.WarnBefore.D() < 0 {
		errs = append(errs, errors.New("sla.warn_before: must not be negative"))
	}
	if c.SLA.CheckInterval.D() < 10*time.Millisecond {
		errs = append(errs, errors.New("sla.check_interval: must be at least 10ms"))
	}
	if c.SLA.Digest != "" {
		if _, _, err := sla.ParseClock(c.SLA.Digest); err != nil {
			errs = append(errs, fmt.Errorf("sla.digest: %w", err))
		}
	}
	if _, _, err := parseBurst(c.Agents.NoticeBurst); err != nil {
		errs = append(errs, err)
	}
	return errs
}
