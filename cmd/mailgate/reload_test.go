package main

import (
	"testing"
)

// TestReloadReachesRCPT: a reload (what SIGHUP does) applies the support addresses to RCPT
// at once: an added address is accepted, a removed one is refused at RCPT with 550 5.1.1,
// not accepted there and refused later with another code.
func TestReloadReachesRCPT(t *testing.T) {
	e := startEnv(t, nil)
	addr := e.d.SMTPAddr
	sales := msg("alice@customer.example", "sales@example.com", "quote", "How much?")
	billing := msg("alice@customer.example", "billing@example.com", "invoice", "Where is it?")
	if r := send(t, addr, "alice@customer.example", []string{"sales@example.com"}, sales); r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Fatalf("sales@ before the reload: %s", r)
	}
	cfg := e.cfg
	cfg.Support.Addresses = []string{"support@example.com", "sales@example.com"}
	if _, err := e.d.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if r := send(t, addr, "alice@customer.example", []string{"sales@example.com"}, sales); r.Code != 250 {
		t.Fatalf("sales@ after the reload: %s", r)
	}
	if ts := e.tickets(); len(ts) != 1 || ts[0].Queue != "sales@example.com" {
		t.Fatalf("tickets after the reload: %+v", ts)
	}
	if r := send(t, addr, "alice@customer.example", []string{"billing@example.com"}, billing); r.Code != 550 || r.Enhanced != "5.1.1" {
		t.Fatalf("removed billing@ after the reload: %s, want 550 5.1.1 at RCPT", r)
	}
}
