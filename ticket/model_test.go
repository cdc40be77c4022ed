package ticket

import (
	"strings"
	"testing"
	"time"
)

// freshdesk is the kind of desk the configurable model was designed from.
func freshdesk(t *testing.T) *Model {
	t.Helper()
	m, err := NewModel(Spec{
		Statuses: []StatusDef{
			{Name: "new", Class: ClassNew},
			{Name: "pending", Class: ClassOpen},
			{Name: "waiting_on_customer", Class: ClassWaitingCustomer},
			{Name: "waiting_on_third_party", Class: ClassWaitingOther},
			{Name: "to_deploy", Class: ClassWaitingOther},
			{Name: "under_observation", Class: ClassWaitingOther},
			{Name: "standby", Class: ClassWaitingOther},
			{Name: "resolved", Class: ClassResolved},
			{Name: "closed", Class: ClassClosed},
		},
		FirstAgentReplyStatus: "pending", ReopenStatus: "Pending",
		Priorities:      []string{"low", "medium", "high", "urgent"},
		DefaultPriority: "medium",
		Types:           []string{"incident", "error", "configuration", "problem", "question", "change_request", "technical_assistance"},
		Fields:          []string{"ref_client", "platform", "product"},
		URL:             "https://support.example.com/tickets/{id}",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDefaultModelIsTheBuiltInDesk(t *testing.T) {
	m := DefaultModel()
	if strings.Join(m.Statuses(), " ") != strings.Join(Statuses, " ") {
		t.Fatalf("statuses = %v", m.Statuses())
	}
	if strings.Join(m.Priorities(), " ") != strings.Join(Priorities, " ") || m.DefaultPriority() != "normal" {
		t.Fatalf("priorities = %v default %s", m.Priorities(), m.DefaultPriority())
	}
	if m.Initial() != StatusNew || m.FirstAgentReply() != StatusOpen || m.Reopen() != StatusOpen || m.Closed() != StatusClosed {
		t.Fatalf("life cycle: %s %s %s %s", m.Initial(), m.FirstAgentReply(), m.Reopen(), m.Closed())
	}
	if ty, ok := m.Type("hardware"); !ok || ty != "hardware" {
		t.Fatal("with no types configured, any one word is a type")
	}
	if _, ok := m.Type("two words"); ok {
		t.Fatal("a type is one word")
	}
	if m.URL(30001) != "" || len(m.Fields()) != 0 {
		t.Fatal("no link and no fields by default")
	}
}

func TestStatusNamesMatchLoosely(t *testing.T) {
	m := DefaultModel()
	for _, in := range []string{"Waiting on customer", "waiting-on-customer", "WAITING_ON_CUSTOMER", "  waiting  on_customer "} {
		if st, ok := m.Status(in); !ok || st != StatusWaitingOnCustomer {
			t.Errorf("Status(%q) = %q, %v", in, st, ok)
		}
		if m.Class(in) != ClassWaitingCustomer {
			t.Errorf("Class(%q) = %q", in, m.Class(in))
		}
	}
	if _, ok := m.Status("waitingoncustomer"); ok {
		t.Error("words must still be separated")
	}
}

func TestConfiguredModel(t *testing.T) {
	m := freshdesk(t)
	tests := []struct{ status, class string }{
		{"pending", ClassOpen}, {"To deploy", ClassWaitingOther}, {"standby", ClassWaitingOther},
		{"under-observation", ClassWaitingOther}, {"open", ""},
	}
	for _, tc := range tests {
		if got := m.Class(tc.status); got != tc.class {
			t.Errorf("Class(%q) = %q, want %q", tc.status, got, tc.class)
		}
	}
	if m.FirstAgentReply() != "pending" || m.Reopen() != "pending" || m.DefaultPriority() != "medium" {
		t.Fatalf("first reply %s reopen %s default %s", m.FirstAgentReply(), m.Reopen(), m.DefaultPriority())
	}
	if m.PriorityRank("urgent") != 3 || m.PriorityRank("normal") != -1 {
		t.Fatal("priorities are ordered, lowest first")
	}
	if ty, ok := m.Type("Change request"); !ok || ty != "change_request" {
		t.Fatalf("Type = %q %v", ty, ok)
	}
	if _, ok := m.Type("hardware"); ok {
		t.Fatal("a configured type list is closed")
	}
	if f, ok := m.Field("Ref-Client"); !ok || f != "ref_client" {
		t.Fatalf("Field = %q %v", f, ok)
	}
	if m.URL(42) != "https://support.example.com/tickets/42" {
		t.Fatalf("URL = %s", m.URL(42))
	}
}

func TestRemovedStatusKeepsItsClass(t *testing.T) {
	m := freshdesk(t)
	tk := &Ticket{}
	m.SetStatus(tk, "standby")
	if tk.StatusClass != ClassWaitingOther {
		t.Fatalf("class not recorded: %+v", tk)
	}
	// A reload removes standby: the ticket keeps its status and its class.
	spec := DefaultSpec()
	smaller, err := NewModel(spec)
	if err != nil {
		t.Fatal(err)
	}
	if smaller.Known(tk.Status) || smaller.ClassOf(tk) != ClassWaitingOther {
		t.Fatalf("known %v class %q", smaller.Known(tk.Status), smaller.ClassOf(tk))
	}
	// Tickets stored before classes were recorded fall back to the built-in classes.
	if smaller.ClassOf(&Ticket{Status: "resolved"}) != ClassResolved {
		t.Fatal("old tickets")
	}
}

func TestModelValidation(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"unknown class", Spec{Statuses: []StatusDef{{Name: "x", Class: "pending"}}}, "class \"pending\""},
		{"no closed status", Spec{Statuses: []StatusDef{{Name: "a", Class: ClassOpen}}}, "class closed"},
		{"duplicate after normalisation", Spec{Statuses: []StatusDef{{Name: "to deploy", Class: ClassOpen}, {Name: "to-deploy", Class: ClassOpen}, {Name: "c", Class: ClassClosed}}}, "twice"},
		{"first reply not a status", Spec{FirstAgentReplyStatus: "working"}, "first_agent_reply_status"},
		{"reopen not a status", Spec{ReopenStatus: "working"}, "reopen_status"},
		{"default priority not listed", Spec{Priorities: []string{"p1", "p2"}, DefaultPriority: "p3"}, "default_priority"},
		{"url scheme", Spec{URL: "ftp://x/{id}"}, "url"},
		{"blank field", Spec{Fields: []string{" "}}, "fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewModel(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	m, err := NewModel(Spec{Priorities: []string{"p1", "p2"}})
	if err != nil || m.DefaultPriority() != "p1" {
		t.Fatalf("without normal the default is the lowest: %v %v", m, err)
	}
}

func TestCommandsFollowTheModel(t *testing.T) {
	m := freshdesk(t)
	isAgent := func(a string) bool { return strings.HasSuffix(a, "@example.com") }
	env := Env{Model: m, Author: "bob@example.com", IsAgent: isAgent, Now: time.Now()}
	tk := &Ticket{Creator: "alice@customer.example", Followers: []string{"alice@customer.example"}, Status: "new"}
	cmds, rest := ParseCommands("#status To deploy\n#priority Medium\n#type Change request\n#set ref-client PO-1234\n#set platform linux 6\n#sensitive\n\nDeploying.")
	eff, errs := ApplyAgentCommands(tk, cmds, env)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if tk.Status != "to_deploy" || tk.StatusClass != ClassWaitingOther || tk.Priority != "medium" || tk.Type != "change_request" {
		t.Fatalf("ticket = %+v", tk)
	}
	if tk.Fields["ref_client"] != "PO-1234" || tk.Fields["platform"] != "linux 6" || !tk.Sensitive || !eff.Sensitive || rest != "Deploying." {
		t.Fatalf("fields %v sensitive %v rest %q", tk.Fields, tk.Sensitive, rest)
	}
	cmds, _ = ParseCommands("#set ref_client\nok")
	if _, errs := ApplyAgentCommands(tk, cmds, env); len(errs) > 0 || tk.Fields["ref_client"] != "" {
		t.Fatalf("#set with no value clears: %v %v", errs, tk.Fields)
	}
	for _, line := range []string{"#status open", "#priority normal", "#type hardware", "#set colour red", "#sensitive yes"} {
		cmds, _ := ParseCommands(line + "\nx")
		_, errs := ApplyAgentCommands(tk, cmds, env)
		if len(errs) != 1 {
			t.Errorf("%s: errs = %v", line, errs)
		}
	}
	cmds, _ = ParseCommands("#status open\nx")
	_, errs = ApplyAgentCommands(tk, cmds, env)
	if !strings.Contains(errs[0].Reason, "pending, waiting_on_customer") {
		t.Fatalf("the error lists the valid statuses: %s", errs[0].Reason)
	}
}

func TestCustomerCommands(t *testing.T) {
	cmds, _ := ParseCommands("#sensitive\n#follow lee@customer.example\n#unfollow kim@customer.example\n#status closed\n\nHello")
	cc := ParseCustomerCommands(cmds)
	if !cc.Sensitive || cc.Close || strings.Join(cc.Follow, ",") != "lee@customer.example" || strings.Join(cc.Unfollow, ",") != "kim@customer.example" {
		t.Fatalf("cc = %+v", cc)
	}
	text := "#sensitive\n#follow lee@customer.example\n#unfollow kim@customer.example\n#status closed\n\nHello"
	if got := WithoutLines(text, cc.Lines); got != "#status closed\n\nHello" {
		t.Fatalf("a customer's other # lines stay text: %q", got)
	}
}

func TestFollowersAddedBy(t *testing.T) {
	tk := &Ticket{Creator: "a@c.example", Followers: []string{"a@c.example"}}
	orig := tk.FollowersAddedBy
	if !tk.AddFollowerBy("x@vendor.example", FollowerAddedByAgent) || !tk.MayAddAsFollower("x@vendor.example") {
		t.Fatal("added by an agent")
	}
	if orig != nil {
		t.Fatal("maps are copied on write: a ticket read once is shared")
	}
	if tk.MayAddAsFollower("a@c.example") || tk.MayAddAsFollower("y@vendor.example") {
		t.Fatal("the creator replies as customer; strangers may not")
	}
	tk.RemoveFollower("x@vendor.example")
	if tk.MayAddAsFollower("x@vendor.example") {
		t.Fatal("an unfollowed person may no longer add")
	}
	if tk.RemoveFollower("a@c.example") {
		t.Fatal("nobody removes the creator")
	}
}

func TestMentions(t *testing.T) {
	tests := []struct{ text, want string }{
		{"@carol please look", "carol"},
		{"Thanks (@Lee.Kim) and @bob@customer.example.", "lee.kim bob@customer.example"},
		{"write to bob@customer.example", ""},
		{"@ alone, @@x, @a@b, @carol @carol", "carol"},
		{"line one\n@dave: over to you", "dave"},
	}
	for _, tc := range tests {
		if got := strings.Join(Mentions(tc.text), " "); got != tc.want {
			t.Errorf("Mentions(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	if MentionAddress("lee", "customer.example") != "lee@customer.example" || MentionAddress("x=?utf-8?q?a?=@b.example", "") != "" {
		t.Fatal("MentionAddress")
	}
}

// FuzzMentions: any text yields mentions that are lower-case, without spaces, and at most one
// '@' each; a mention never panics the address builder.
func FuzzMentions(f *testing.F) {
	for _, s := range []string{"@carol hi", "(@a.b@c.example)", "x@y @@ @", "@é@ü.example", "@" + strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ms := Mentions(text)
		if len(ms) > maxMentions {
			t.Fatalf("%d mentions", len(ms))
		}
		for _, m := range ms {
			if m == "" || m != strings.ToLower(m) || strings.ContainsAny(m, " \t\r\n") || strings.Count(m, "@") > 1 {
				t.Fatalf("bad mention %q", m)
			}
			_ = MentionAddress(m, "customer.example")
		}
	})
}
