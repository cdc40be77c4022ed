package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/sla"
	"github.com/mailgate/mailgate/store"
)

// TestFaultSLATwoProcessesOneKilled: two `mailgate serve` processes on one Redis send the
// service-level mails of 40 tickets; one is killed (kill -9) while the breaches fall due. Every
// ticket gets exactly one breach mail (one Message-ID), none is missing, and at most one
// warning.
func TestFaultSLATwoProcessesOneKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection")
	}
	red := durableRedis(t)
	relay := smtpcapture.Start(t)
	base := faultConfig(t, red.URL(), relay)
	base.Agents.Notify = []string{"team@example.com"}
	base.SLA.Targets = map[string]config.SLATarget{"normal": {FirstResponse: "4s"}}
	base.SLA.WarnBefore = config.Duration(2 * time.Second)
	base.SLA.CheckInterval = config.Duration(100 * time.Millisecond)
	a := startProc(t, base)
	cfgB := base
	cfgB.SMTP.Listen = "127.0.0.1:" + freePort(t)
	b := startProc(t, cfgB)

	const n = 40
	open := func(from, to int, procs ...*proc) {
		for i := from; i < to; i++ {
			p := procs[i%len(procs)]
			sender := fmt.Sprintf("c%d@customer.example", i)
			if r := send(t, p.addr, sender, []string{"support@example.com"}, msg(sender, "support@example.com", fmt.Sprint("Down ", i), "x")); r.Code != 250 {
				t.Fatalf("ticket %d: %s", i, r)
			}
		}
	}
	rdb, err := store.Dial(red.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{KeyPrefix: base.Redis.KeyPrefix, FirstID: 30001})
	ctx := context.Background()
	breached := func() int { ids, _ := st.Breached(ctx, 1000); return len(ids) }
	// Half the tickets; A is killed at their first breach, while the others fall due.
	open(0, n/2, a, b)
	eventually(t, "the first breach", func() bool { return breached() >= 1 })
	a.kill()
	before := breached()
	// A comes back (across a restart) and the other half opens on both.
	a = startProc(t, base)
	open(n/2, n, a, b)
	eventually(t, "every ticket breached", func() bool { return breached() == n })
	// Every breach mail delivered: distinct Message-IDs per ticket, counted from what the relay got.
	type count struct{ breach, breachIDs, warning int }
	var per map[string]*count
	tally := func() {
		per = map[string]*count{}
		seenID := map[string]bool{}
		for _, m := range smtpcapture.To(relay.Mails(), "team@example.com") {
			tag := headerOf(m.Data, "X-Mailgate-Ticket")
			c := per[tag]
			if c == nil {
				c = &count{}
				per[tag] = c
			}
			switch subj := headerOf(m.Data, "Subject"); {
			case len(subj) > 10 && subj[:10] == "SLA breach":
				c.breach++
				if id := headerOf(m.Data, "Message-ID"); !seenID[id] {
					seenID[id] = true
					c.breachIDs++
				}
			case len(subj) > 11 && subj[:11] == "SLA warning":
				c.warning++
			}
		}
	}
	poll := func() bool {
		tally()
		for i := range n {
			if c := per[fmt.Sprintf("#TID%d", 30001+i)]; c == nil || c.breachIDs == 0 {
				return false
			}
		}
		return true
	}
	eventually(t, "a breach mail for every ticket", poll)
	redelivered := 0
	for i := range n {
		id := int64(30001 + i)
		c := per[fmt.Sprintf("#TID%d", id)]
		if c.breachIDs != 1 || c.warning > 1 {
			t.Fatalf("#TID%d: %d breach mails (%d deliveries), %d warnings; want exactly one breach, at most one warning", id, c.breachIDs, c.breach, c.warning)
		}
		redelivered += c.breach - c.breachIDs
		tk, err := st.Ticket(ctx, id, true)
		if err != nil {
			t.Fatal(err)
		}
		events := 0
		for _, ev := range tk.Events {
			if ev.Kind == "sla_breach" {
				events++
			}
		}
		if events != 1 || !sla.Has(tk.SLA.Breached, sla.FirstResponse) {
			t.Fatalf("#TID%d: %d breach events, breached %v", id, events, tk.SLA.Breached)
		}
	}
	t.Logf("2 processes, one killed at the first breach (%d of %d breached then) and restarted: %d tickets, one breach mail each; %d SMTP re-deliveries of a mail the killed process had leased (same Message-ID)", before, n/2, n, redelivered)
}
