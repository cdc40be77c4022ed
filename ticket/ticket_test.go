package ticket

import (
	"strings"
	"testing"
	"time"
)

func TestFindTag(t *testing.T) {
	tests := []struct {
		subject string
		want    int64
		ok      bool
	}{
		{"[#TID30001] Printer on fire", 30001, true},
		{"Re: [#tid30001] Printer on fire", 30001, true},
		{"Printer #TID42 again", 42, true},
		{"AW: Re: [#Tid30001]", 30001, true},
		{"No tag here", 0, false},
		{"#TID", 0, false},
		{"#TID0", 0, false},
		{"#TID99999999999999999999", 0, false},
	}
	for _, tc := range tests {
		got, ok := FindTag(tc.subject)
		if got != tc.want || ok != tc.ok {
			t.Errorf("FindTag(%q) = %d, %v; want %d, %v", tc.subject, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBaseSubject(t *testing.T) {
	tests := map[string]string{
		"Re: [#TID30001] Printer on fire": "Printer on fire",
		"RE: AW: Fwd: Invoice":            "Invoice",
		"TR: [#tid1] Facture":             "Facture",
		"   ":                             "(no subject)",
		"Printer #TID5 smoking":           "Printer smoking",
	}
	for in, want := range tests {
		if got := BaseSubject(in); got != want {
			t.Errorf("BaseSubject(%q) = %q, want %q", in, got, want)
		}
	}
	if got := OutboundSubject(30001, "Printer on fire"); got != "[#TID30001] Printer on fire" {
		t.Errorf("OutboundSubject = %q", got)
	}
}

func TestParseCommands(t *testing.T) {
	cmds, rest := ParseCommands("#status resolved\n#Priority high\n\nThanks, fixed.\n#note not a command here")
	if len(cmds) != 2 || cmds[0].Word != "status" || cmds[0].Arg != "resolved" || cmds[1].Word != "priority" || cmds[1].Line != 2 {
		t.Fatalf("cmds = %+v", cmds)
	}
	if rest != "Thanks, fixed.\n#note not a command here" {
		t.Fatalf("rest = %q", rest)
	}
	if cmds, rest := ParseCommands("Hello\n#status closed"); cmds != nil || rest != "Hello\n#status closed" {
		t.Fatalf("a command after text is text: %+v %q", cmds, rest)
	}
	if cmds, _ := ParseCommands("#1 priority for us"); cmds != nil {
		t.Fatalf("#1 is not a command: %+v", cmds)
	}
}

func isAgent(a string) bool { return strings.HasSuffix(a, "@example.com") }

func TestApplyAgentCommands(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	newT := func() *Ticket {
		return &Ticket{ID: 1, Status: StatusNew, Priority: "normal", Creator: "c@customer.example", Followers: []string{"c@customer.example"}}
	}
	t.Run("all valid", func(t *testing.T) {
		tk := newT()
		cmds, _ := ParseCommands("#status waiting_on_customer\n#priority urgent\n#type billing\n#assign me\n#follow boss@customer.example\n#note\nbody")
		eff, errs := ApplyAgentCommands(tk, cmds, Env{Author: "agent@example.com", IsAgent: isAgent, Now: now})
		if errs != nil {
			t.Fatal(errs)
		}
		if tk.Status != StatusWaitingOnCustomer || tk.Priority != "urgent" || tk.Type != "billing" || tk.Assignee != "agent@example.com" {
			t.Fatalf("ticket = %+v", tk)
		}
		if !tk.IsFollower("boss@customer.example") || !tk.IsFollower("agent@example.com") || !eff.Internal {
			t.Fatalf("followers %v internal %v", tk.Followers, eff.Internal)
		}
		if len(eff.Events) < 5 {
			t.Fatalf("events = %+v", eff.Events)
		}
	})
	t.Run("one bad line changes nothing", func(t *testing.T) {
		tk := newT()
		cmds, _ := ParseCommands("#priority high\n#status done\nbody")
		_, errs := ApplyAgentCommands(tk, cmds, Env{Author: "agent@example.com", IsAgent: isAgent, Now: now})
		if len(errs) != 1 || errs[0].Line != 2 || !strings.Contains(errs[0].Reason, "waiting_on_customer") {
			t.Fatalf("errs = %+v", errs)
		}
		if tk.Priority != "normal" || tk.Status != StatusNew {
			t.Fatalf("a wrong command must change nothing: %+v", tk)
		}
	})
	for _, bad := range []string{"#assign stranger@else.example", "#unfollow c@customer.example", "#frobnicate", "#follow", "#priority"} {
		t.Run(bad, func(t *testing.T) {
			tk := newT()
			cmds, _ := ParseCommands(bad)
			if _, errs := ApplyAgentCommands(tk, cmds, Env{Author: "agent@example.com", IsAgent: isAgent, Now: now}); len(errs) != 1 {
				t.Fatalf("errs = %+v", errs)
			}
		})
	}
}

func TestCreatorNeverRemoved(t *testing.T) {
	tk := &Ticket{Creator: "c@x", Followers: []string{"c@x", "d@x"}}
	if tk.RemoveFollower("c@x") || !tk.RemoveFollower("d@x") || len(tk.Followers) != 1 {
		t.Fatalf("followers = %v", tk.Followers)
	}
}

func FuzzFindTag(f *testing.F) {
	for _, s := range []string{"[#TID30001] x", "#tid1", "#TID", "Re: #TID999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, ok := FindTag(s); ok && id <= 0 {
			t.Fatalf("FindTag(%q) = %d", s, id)
		}
		if _, ok := FindTag(StripTags(s)); ok {
			t.Fatalf("StripTags(%q) left a tag", s)
		}
	})
}

func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{"#status open\nbody", "#note\n\n#priority high\ntext", "#\n#x y z", "text\n#status x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cmds, _ := ParseCommands(s)
		tk := &Ticket{Status: StatusNew, Priority: "normal", Creator: "c@x"}
		_, _ = ApplyAgentCommands(tk, cmds, Env{Author: "a@example.com", IsAgent: isAgent, Now: time.Time{}})
		if !ValidStatus(tk.Status) {
			t.Fatalf("status %q after %q", tk.Status, s)
		}
	})
}
