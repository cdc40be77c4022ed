package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/mailgate/mailgate/config"
	"github.com/mailgate/mailgate/internal/smtpcapture"
	"github.com/mailgate/mailgate/outbound"
	"github.com/mailgate/mailgate/ticket"
)

// The desk's own ticket model, over real SMTP and a real Redis.

// deskStatuses is a Freshdesk-style desk: nine statuses in the six classes.
func deskStatuses() config.StatusList {
	return config.StatusList{
		{Name: "new", Class: ticket.ClassNew},
		{Name: "pending", Class: ticket.ClassOpen},
		{Name: "waiting_on_customer", Class: ticket.ClassWaitingCustomer},
		{Name: "waiting_on_third_party", Class: ticket.ClassWaitingOther},
		{Name: "to_deploy", Class: ticket.ClassWaitingOther},
		{Name: "under_observation", Class: ticket.ClassWaitingOther},
		{Name: "standby", Class: ticket.ClassWaitingOther},
		{Name: "resolved", Class: ticket.ClassResolved},
		{Name: "closed", Class: ticket.ClassClosed},
	}
}

func withDesk(c *config.Config) {
	c.Tickets.Statuses = deskStatuses()
	c.Tickets.FirstAgentReplyStatus = "pending"
	c.Tickets.ReopenStatus = "pending"
	c.Tickets.Priorities = []string{"low", "medium", "high", "urgent"}
	c.Tickets.DefaultPriority = "medium"
	c.Tickets.Types = []string{"incident", "question", "change_request"}
	c.Tickets.Fields = []string{"ref_client", "platform"}
	c.Tickets.URL = "https://support.example.com/tickets/{id}"
}

// mailText is the decoded text/plain part of a captured mail, and its attachment names.
func mailText(t testing.TB, data string) (text string, files []string) {
	t.Helper()
	mr, err := gomail.CreateReader(strings.NewReader(data))
	if err != nil {
		t.Fatalf("read mail: %v\n%s", err, data)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		switch h := p.Header.(type) {
		case *gomail.InlineHeader:
			if ct, _, _ := h.ContentType(); ct == "text/plain" && text == "" {
				b, _ := io.ReadAll(p.Body)
				text = string(b)
			}
		case *gomail.AttachmentHeader:
			name, _ := h.Filename()
			files = append(files, name)
		}
	}
	return text, files
}

// waitText waits for a mail to rcpt whose decoded text contains marker.
func (e *env) waitText(rcpt, marker string) (text string, files []string, m smtpcapture.Mail) {
	e.t.Helper()
	e.relay.WaitFor(e.t, fmt.Sprintf("a mail to %s saying %q", rcpt, marker), func(ms []smtpcapture.Mail) bool {
		for _, x := range smtpcapture.To(ms, rcpt) {
			if tx, fs := mailText(e.t, x.Data); strings.Contains(tx, marker) {
				text, files, m = tx, fs, x
				return true
			}
		}
		return false
	})
	return text, files, m
}

func (e *env) show(id int64) string {
	e.t.Helper()
	out, errOut, code := cli(e.t, "ticket", "show", fmt.Sprint(id), "--config", e.configFile())
	if code != 0 {
		e.t.Fatalf("ticket show: %d %s", code, errOut)
	}
	return out
}

// withFile is a message body with one attachment.
func withFile(from, subject, text, filename string) string {
	data := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 " + filename))
	return "From: " + from + "\r\nTo: support@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" + outbound.NewID() + "@client.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(text, "\n", "\r\n") + "\r\n" +
		"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=" + filename + "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + data + "\r\n" +
		"--XX--\r\n"
}

func (e *env) deliverRaw(envFrom, raw string) {
	e.t.Helper()
	if r := send(e.t, e.d.SMTPAddr, envFrom, []string{"support@example.com"}, raw); r.Code != 250 {
		e.t.Fatalf("send from %s: %s", envFrom, r)
	}
}

const re1 = "Re: [#TID30001] Printer on fire"

// TestCustomStatusesBehaveLikeTheBuiltInDesk: a desk with nine statuses goes through the same
// life cycle as the six-status desk, by class.
func TestCustomStatusesBehaveLikeTheBuiltInDesk(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		withDesk(c)
		c.Tickets.AutoCloseAfter = config.Duration(time.Millisecond)
	})
	e.deliver("Alice Martin <alice@customer.example>", "Printer on fire", "It is on fire.")
	ack, _, _ := e.waitText("alice@customer.example", "filed as ticket")
	if !strings.HasPrefix(ack, "Hello Alice Martin,") || !strings.Contains(ack, "https://support.example.com/tickets/30001") {
		t.Fatalf("ack greets by name and carries the link:\n%s", ack)
	}
	status := func(want string) {
		t.Helper()
		if tk := e.ticket(30001); tk.Status != want || tk.StatusClass != ticket.NormalizeName(e.cfg.TicketModel().Class(want)) {
			t.Fatalf("status = %s (%s), want %s", tk.Status, tk.StatusClass, want)
		}
	}
	status("new")
	if tk := e.ticket(30001); tk.Priority != "medium" {
		t.Fatalf("default_priority: %s", tk.Priority)
	}
	e.deliver("bob@example.com", re1, "#priority Urgent\n#type Change request\nLooking.")
	status("pending") // first_agent_reply_status
	e.deliver("bob@example.com", re1, "#status Waiting on customer\nWhich model?")
	status("waiting_on_customer")
	text, _, _ := e.waitText("alice@customer.example", "Which model?")
	for _, want := range []string{"Waiting for your reply", "Printer on fire", "https://support.example.com/tickets/30001"} {
		if !strings.Contains(text, want) {
			t.Fatalf("status update lacks %q:\n%s", want, text)
		}
	}
	e.deliver("alice@customer.example", re1, "An HP 4000.")
	status("pending") // reopen_status
	e.deliver("bob@example.com", re1, "#status to-deploy\nA fix ships tonight.")
	e.deliver("alice@customer.example", re1, "Thanks.")
	status("to_deploy") // waiting_other: a customer reply leaves it
	e.deliver("bob@example.com", re1, "#status resolved\nDeployed.")
	eventually(t, "auto-close of the resolved ticket", func() bool { return e.ticket(30001).Status == "closed" })
	e.deliver("alice@customer.example", re1, "It burns again.")
	status("pending")
	tk := e.ticket(30001)
	if tk.Priority != "urgent" || tk.Type != "change_request" {
		t.Fatalf("priority %s type %s", tk.Priority, tk.Type)
	}
	out, _, _ := cli(t, "ticket", "show", "30001", "--json", "--config", e.configFile())
	js := decodeJSON[map[string]any](t, out)
	if js["status"] != "pending" || js["status_class"] != "open" || js["sensitive"] != false {
		t.Fatalf("json: %s", out)
	}
	if _, ok := js["fields"].(map[string]any); !ok {
		t.Fatalf("fields is an object: %s", out)
	}
}

// TestReloadRemovingAStatus: tickets in a status a reload removed keep it, show it, follow its
// class, and can be moved to a valid one.
func TestReloadRemovingAStatus(t *testing.T) {
	e := startEnv(t, withDesk)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("bob@example.com", re1, "#status standby\nParked.")
	cfg := e.cfg
	cfg.Tickets.Statuses = nil
	for _, s := range deskStatuses() {
		if s.Name != "standby" {
			cfg.Tickets.Statuses = append(cfg.Tickets.Statuses, s)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	e.cfg, e.cfgFile = cfg, ""
	e.deliver("alice@customer.example", re1, "Any news?")
	if tk := e.ticket(30001); tk.Status != "standby" || tk.StatusClass != ticket.ClassWaitingOther {
		t.Fatalf("the ticket keeps its status and class: %s %s", tk.Status, tk.StatusClass)
	}
	if out := e.show(30001); !strings.Contains(out, "status: standby (class waiting_other; no longer configured") {
		t.Fatalf("ticket show:\n%s", out)
	}
	e.deliver("bob@example.com", re1, "#status standby\nStill parked.")
	errText, _, _ := e.waitText("bob@example.com", "NOT applied")
	if !strings.Contains(errText, "unknown status; valid values: new, pending") {
		t.Fatalf("error reply:\n%s", errText)
	}
	e.deliver("bob@example.com", re1, "#status under observation\nWatching.")
	if tk := e.ticket(30001); tk.Status != "under_observation" {
		t.Fatalf("moved to a valid status: %s", tk.Status)
	}
}

func TestSetFields(t *testing.T) {
	e := startEnv(t, withDesk)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("bob@example.com", re1, "#set Ref-Client PO-1234\n#set platform Linux 6.1\nNoted.")
	tk := e.ticket(30001)
	if tk.Fields["ref_client"] != "PO-1234" || tk.Fields["platform"] != "Linux 6.1" {
		t.Fatalf("fields = %v", tk.Fields)
	}
	out, _, _ := cli(t, "ticket", "show", "30001", "--json", "--config", e.configFile())
	if !strings.Contains(out, `"fields": {`) || !strings.Contains(out, `"ref_client": "PO-1234"`) {
		t.Fatalf("json:\n%s", out)
	}
	if show := e.show(30001); !strings.Contains(show, "ref_client: PO-1234") {
		t.Fatalf("ticket show:\n%s", show)
	}
	e.deliver("bob@example.com", re1, "#set ref_client\nCleared.")
	if tk := e.ticket(30001); tk.Fields["ref_client"] != "" || tk.Fields["platform"] == "" {
		t.Fatalf("#set with no value clears one field: %v", tk.Fields)
	}
	e.deliver("bob@example.com", re1, "#set colour red\nHm.")
	if text, _, _ := e.waitText("bob@example.com", "NOT applied"); !strings.Contains(text, "unknown field; valid fields: ref_client, platform") {
		t.Fatalf("error reply:\n%s", text)
	}
}

// TestSensitiveWithholding: after #sensitive, files go to agents only; other followers are
// told how many were withheld, without names.
func TestSensitiveWithholding(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("bob@example.com", re1, "#follow vendor@parts.example\nAsking the vendor.")
	e.waitText("vendor@parts.example", "Asking the vendor.")
	// Before the mark, a file reaches every follower.
	e.deliverRaw("alice@customer.example", withFile("alice@customer.example", re1, "A photo.", "photo.pdf"))
	if _, files, _ := e.waitText("vendor@parts.example", "A photo."); len(files) != 1 {
		t.Fatalf("an ordinary file goes to followers: %v", files)
	}
	e.deliverRaw("alice@customer.example", withFile("alice@customer.example", re1, "#sensitive\nMy passport.", "passport.pdf"))
	text, files, m := e.waitText("vendor@parts.example", "My passport.")
	if len(files) != 0 || strings.Contains(m.Data, "passport.pdf") || !strings.Contains(text, "1 attached file(s) were not sent to you") {
		t.Fatalf("vendor's copy: files %v\n%s", files, text)
	}
	if strings.Contains(text, "#sensitive") {
		t.Fatalf("the command line is not shown:\n%s", text)
	}
	if _, files, _ := e.waitText("bob@example.com", "My passport."); len(files) != 1 || files[0] != "passport.pdf" {
		t.Fatalf("the agent gets the file: %v", files)
	}
	// From then on, every file, an agent's too, goes to agents only.
	e.deliverRaw("bob@example.com", withFile("bob@example.com", re1, "Signed form.", "form.pdf"))
	if text, files, _ := e.waitText("alice@customer.example", "Signed form."); len(files) != 0 || !strings.Contains(text, "1 attached file(s)") {
		t.Fatalf("customer's copy: %v\n%s", files, text)
	}
	tk := e.ticket(30001)
	if !tk.Sensitive || tk.Messages[2].Attachments[0].Sensitive || !tk.Messages[3].Attachments[0].Sensitive || !tk.Messages[4].Attachments[0].Sensitive {
		t.Fatalf("sensitive marks: %+v", tk)
	}
	out, _, _ := cli(t, "ticket", "show", "30001", "--json", "--config", e.configFile())
	if !strings.Contains(out, `"sensitive": true`) || !strings.Contains(out, `"sensitive": false`) {
		t.Fatalf("json:\n%s", out)
	}
	if show := e.show(30001); !strings.Contains(show, "sensitive: yes") || !strings.Contains(show, "passport.pdf (application/pdf, 21 bytes, sensitive") {
		t.Fatalf("ticket show:\n%s", show)
	}
	// An agent may mark a ticket too.
	e.deliver("carol@customer.example", "Other", "Hello.")
	e.deliver("bob@example.com", "Re: [#TID30002] Other", "#sensitive\nNoted.")
	if !e.ticket(30002).Sensitive {
		t.Fatal("agent #sensitive")
	}
}

func TestMentions(t *testing.T) {
	e := startEnv(t, nil)
	ctx := context.Background()
	now := time.Now()
	for _, a := range []string{"alice@customer.example", "lee@customer.example"} {
		if err := e.st.AddAccount(ctx, a, "customer-inc", now); err != nil {
			t.Fatal(err)
		}
	}
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("bob@example.com", re1, "#note\n@carol can you take this one?")
	if text, _, _ := e.waitText("carol@example.com", "added you as a follower"); !strings.Contains(text, "can you take this one?") {
		t.Fatalf("mentioned agent:\n%s", text)
	}
	e.deliver("alice@customer.example", re1, "Adding @lee and @mallory@evil.example to this.")
	if text, _, _ := e.waitText("lee@customer.example", "added you as a follower"); strings.Contains(text, "alice@") {
		t.Fatalf("no follower sees another's address:\n%s", text)
	}
	text, _, _ := e.waitText("alice@customer.example", "could not be added")
	if !strings.Contains(text, "mallory@evil.example: not a person of your organization") {
		t.Fatalf("the customer is told who and why:\n%s", text)
	}
	tk := e.ticket(30001)
	if !tk.IsFollower("carol@example.com") || !tk.IsFollower("lee@customer.example") || tk.IsFollower("mallory@evil.example") {
		t.Fatalf("followers = %v", tk.Followers)
	}
	e.drained()
	if len(smtpcapture.To(e.relay.Mails(), "mallory@evil.example")) != 0 {
		t.Fatal("a stranger was mailed")
	}
}

// TestFollowersMayAnswer: customers add and remove colleagues; people an agent or the customer
// added may add to the ticket (role follower); strangers still open a new ticket.
func TestFollowersMayAnswer(t *testing.T) {
	e := startEnv(t, func(c *config.Config) { c.Tickets.ReplyPolicy = "creator" })
	ctx := context.Background()
	for _, a := range []string{"alice@customer.example", "kim@customer.example"} {
		if err := e.st.AddAccount(ctx, a, "customer-inc", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("alice@customer.example", re1, "#follow kim@customer.example\n#unfollow alice@customer.example\nKim knows more.")
	e.waitText("kim@customer.example", "added you as a follower")
	if text, _, _ := e.waitText("alice@customer.example", "could not be added"); !strings.Contains(text, "always follows it") {
		t.Fatalf("the creator stays:\n%s", text)
	}
	e.deliver("Kim Lee <kim@customer.example>", re1, "It is the HP on floor 2.")
	tk := e.ticket(30001)
	if len(e.tickets()) != 1 || tk.Messages[len(tk.Messages)-1].Role != ticket.RoleFollower {
		t.Fatalf("the colleague's reply belongs to the ticket: %d tickets, %+v", len(e.tickets()), tk.Messages)
	}
	text, _, _ := e.waitText("alice@customer.example", "floor 2")
	if !strings.Contains(text, "Kim Lee wrote") || strings.Contains(text, "kim@") {
		t.Fatalf("display name, never the address:\n%s", text)
	}
	e.deliver("bob@example.com", re1, "#follow vendor@parts.example\nVendor, please confirm.")
	e.deliver("vendor@parts.example", re1, "Confirmed, part ships Monday.")
	if len(e.tickets()) != 1 {
		t.Fatal("a follower an agent added answers on the ticket")
	}
	if text, _, _ := e.waitText("bob@example.com", "part ships Monday"); !strings.Contains(text, "vendor@parts.example (follower) wrote") {
		t.Fatalf("agents see who wrote:\n%s", text)
	}
	out, _, _ := cli(t, "ticket", "show", "30001", "--json", "--config", e.configFile())
	if !strings.Contains(out, `"role": "follower"`) || !strings.Contains(out, `"vendor@parts.example": "added_by_agent"`) {
		t.Fatalf("json:\n%s", out)
	}
	if show := e.show(30001); !strings.Contains(show, "vendor@parts.example (follower, added by agent)") {
		t.Fatalf("ticket show:\n%s", show)
	}
	e.deliver("alice@customer.example", re1, "#unfollow kim@customer.example\nThanks Kim.")
	e.deliver("kim@customer.example", re1, "One more thing.")
	if len(e.tickets()) != 2 {
		t.Fatal("after #unfollow, the colleague is a stranger to the ticket again")
	}
	e.deliver("mallory@evil.example", re1, "Let me in.")
	if len(e.tickets()) != 3 {
		t.Fatal("a stranger opens a new ticket")
	}
}

func TestAgentTagOfNoTicket(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("bob@example.com", "Re: [#TID99999] Printer", "Fixed it.")
	text, _, m := e.waitText("bob@example.com", "does not exist")
	if !strings.Contains(text, "#TID99999") || !strings.Contains(headerOf(m.Data, "Subject"), "Unknown ticket") {
		t.Fatalf("error reply:\n%s", m.Data)
	}
	if n := len(e.tickets()); n != 0 {
		t.Fatalf("%d tickets opened in the agent's name", n)
	}
	// The same message again (an MTA retry) is not answered twice.
	e.drained()
	before := len(smtpcapture.To(e.relay.Mails(), "bob@example.com"))
	raw := msg("bob@example.com", "support@example.com", "Re: [#TID99999] Printer", "Fixed it.", "Message-ID: <retry@example.com>")
	for range 2 {
		if r := send(t, e.d.SMTPAddr, "bob@example.com", []string{"support@example.com"}, raw); r.Code != 250 {
			t.Fatal(r)
		}
	}
	e.drained()
	if got := len(smtpcapture.To(e.relay.Mails(), "bob@example.com")); got != before+1 {
		t.Fatalf("%d error replies for one message", got-before)
	}
}

// TestUpdatesShowNamesNotAddresses: mail to customers and followers names people by display
// name (or "Support" / "The customer"), never by address; agents still see addresses.
func TestUpdatesShowNamesNotAddresses(t *testing.T) {
	e := startEnv(t, nil)
	e.deliver("alice@customer.example", "Printer on fire", "It is on fire.")
	e.deliver("Bob Smith <bob@example.com>", re1, "#follow kim@other.example\nUnplug it.")
	text, _, _ := e.waitText("alice@customer.example", "Unplug it.")
	if !strings.Contains(text, "Bob Smith wrote") || strings.Contains(text, "bob@example.com") {
		t.Fatalf("customer's copy:\n%s", text)
	}
	e.deliver("alice@customer.example", re1, "Done, thanks.")
	text, _, _ = e.waitText("kim@other.example", "Done, thanks.")
	if !strings.Contains(text, "The customer wrote") || strings.Contains(text, "alice@") {
		t.Fatalf("follower's copy:\n%s", text)
	}
	if text, _, _ := e.waitText("bob@example.com", "Done, thanks."); !strings.Contains(text, "alice@customer.example wrote") {
		t.Fatalf("agent's copy:\n%s", text)
	}
}
