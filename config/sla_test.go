package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const slaSection = `
redis: {url: redis://127.0.0.1:6379/0}
support: {addresses: [support@example.com]}
agents: {notice_burst: 30/5m}
sla:
  timezone: Europe/Paris
  business_hours: {mon-fri: "08:00-18:00", sat: "09:00-12:00"}
  holidays: [2026-12-25, 2027-01-01]
  targets:
    urgent: {first_response: 1h, resolution: 4h}
    high:   {first_response: 4h, resolution: 2d}
  warn_before: 30m
  pause_on_third_party: true
  digest: "08:30"
`

func TestSLASection(t *testing.T) {
	c, err := Parse(strings.NewReader(slaSection), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.SLAPolicy()
	if err != nil || p == nil {
		t.Fatalf("policy: %v", err)
	}
	if p.Targets["high"].Resolution.Days != 2 || p.Targets["urgent"].FirstResponse.Rest != time.Hour || !p.PauseOnThirdParty {
		t.Fatalf("targets = %+v", p.Targets)
	}
	if p.Calendar.Location().String() != "Europe/Paris" || p.Calendar.DayLength() != 10*time.Hour {
		t.Fatalf("calendar: %s, %v", p.Calendar.Location(), p.Calendar.DayLength())
	}
	if h, m, ok := c.DigestAt(); !ok || h != 8 || m != 30 {
		t.Fatalf("digest %d:%d %v", h, m, ok)
	}
	if n, per := c.NoticeBurst(); n != 30 || per != 5*time.Minute {
		t.Fatalf("notice_burst %d/%v", n, per)
	}
	if c.SLA.CheckInterval.D() != 30*time.Second {
		t.Fatalf("check_interval default = %v", c.SLA.CheckInterval.D())
	}
	// The effective config written back as YAML reads again the same (config check, tests).
	b, _ := yaml.Marshal(c)
	c2, err := Parse(strings.NewReader(string(b)), nil)
	if err != nil || c2.SLA.Targets["high"] != c.SLA.Targets["high"] {
		t.Fatalf("round trip: %v\n%s", err, b)
	}
	// Env overrides reach the section.
	c3, err := Parse(strings.NewReader(slaSection), []string{"MAILGATE_SLA_TIMEZONE=America/New_York", "MAILGATE_SLA_CHECK_INTERVAL=5s"})
	if err != nil || c3.SLA.Timezone != "America/New_York" || c3.SLA.CheckInterval.D() != 5*time.Second {
		t.Fatalf("env: %v %+v", err, c3.SLA)
	}
	// No section: no clocks.
	c4, _ := Parse(strings.NewReader("redis: {url: redis://x}\nsupport: {addresses: [s@example.com]}\n"), nil)
	if p, err := c4.SLAPolicy(); p != nil || err != nil || c4.SLAEnabled() {
		t.Fatal("clocks on without targets")
	}
}

func TestSLASectionErrorsNameTheKey(t *testing.T) {
	for bad, key := range map[string]string{
		"sla: {timezone: Mars/Olympus, targets: {urgent: {first_response: 1h}}}":             "sla.timezone",
		"sla: {business_hours: {mon-fri: 18:00-08:00}, targets: {urgent: {resolution: 4h}}}": "sla.business_hours",
		"sla: {holidays: [christmas], targets: {urgent: {resolution: 4h}}}":                  "sla.holidays",
		"sla: {targets: {critical: {resolution: 4h}}}":                                       "sla.targets",
		"sla: {targets: {urgent: {resolution: 4x}}}":                                         "sla.targets.urgent.resolution",
		"sla: {targets: {urgent: {resolve: 4h}}}":                                            "sla.targets",
		"sla: {digest: '25:00'}":                                                             "sla.digest",
		"sla: {warn_before: -1m}":                                                            "sla.warn_before",
		"sla: {check_interval: 0s}":                                                          "sla.check_interval",
		"agents: {notice_burst: lots}":                                                       "agents.notice_burst",
		"agents: {notice_burst: 0/5m}":                                                       "agents.notice_burst",
	} {
		_, err := Parse(strings.NewReader("redis: {url: redis://x}\nsupport: {addresses: [s@example.com]}\n"+bad+"\n"), nil)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name %s", bad, err, key)
		}
	}
}
