package outbound

import (
	"bytes"
	"io"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"

	"github.com/mailgate/mailgate/ticket"
)

// parts returns the text and HTML parts of a rendered mail.
func parts(t *testing.T, raw []byte) (text, html string) {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		if h, ok := p.Header.(*gomail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/html" {
				html = string(b)
				continue
			}
			if text == "" {
				text = string(b)
			}
		}
	}
	return text, html
}

func render(t *testing.T, in Input) (text, html string) {
	t.Helper()
	raw, _, _, err := MustRenderer("mx.support.example", "Example Support").Render(in)
	if err != nil {
		t.Fatal(err)
	}
	return parts(t, raw)
}

func TestAuthorAddressOnlyForAgents(t *testing.T) {
	in := sample()
	in.Message = ticket.Message{Author: "kim@customer.example", Role: ticket.RoleCustomer, Text: "Hi"}
	in.AuthorName = ""
	in.To = "lee@customer.example"
	text, html := render(t, in)
	if strings.Contains(text+html, "kim@") || !strings.Contains(text, "The customer wrote on ticket") {
		t.Fatalf("a follower reads another follower's address:\n%s", text)
	}
	in.AuthorName = "Kim Lee"
	if text, _ = render(t, in); !strings.Contains(text, "Kim Lee wrote") || strings.Contains(text, "kim@") {
		t.Fatalf("display name expected:\n%s", text)
	}
	in.ToAgent, in.To = true, "bob@example.com"
	if text, _ = render(t, in); !strings.Contains(text, "Kim Lee <kim@customer.example> wrote") {
		t.Fatalf("agents see the address:\n%s", text)
	}
	in = sample()
	in.AuthorName = ""
	if text, _ = render(t, in); !strings.Contains(text, "Support wrote") || strings.Contains(text, "bob@") {
		t.Fatalf("an agent without a display name is Support:\n%s", text)
	}
}

func TestStatusLabelsLinkAndSubject(t *testing.T) {
	spec := ticket.DefaultSpec()
	spec.Statuses = append(spec.Statuses, ticket.StatusDef{Name: "to_deploy", Class: ticket.ClassWaitingOther,
		Labels: map[string]string{"fr": "Livraison prévue"}})
	spec.URL = "https://support.example.com/tickets/{id}"
	m, err := ticket.NewModel(spec)
	if err != nil {
		t.Fatal(err)
	}
	in := sample()
	in.Model = m
	in.Ticket.Status = "waiting_on_customer"
	text, _ := render(t, in)
	for _, want := range []string{"Status is now: Waiting for your reply", "https://support.example.com/tickets/30001", "Imprimante en feu"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q:\n%s", want, text)
		}
	}
	in.Lang = "fr"
	if text, _ = render(t, in); !strings.Contains(text, "Nouveau statut : En attente de votre réponse") {
		t.Errorf("French label:\n%s", text)
	}
	in.Ticket.Status = "to_deploy"
	if text, _ = render(t, in); !strings.Contains(text, "Livraison prévue") {
		t.Errorf("configured label:\n%s", text)
	}
	in.Lang = "ja"
	if text, _ = render(t, in); !strings.Contains(text, "To deploy") {
		t.Errorf("a status without label reads as words:\n%s", text)
	}
	in.ToAgent, in.Lang = true, "en"
	if text, _ = render(t, in); !strings.Contains(text, "Status is now: to_deploy") {
		t.Errorf("agents see the status name:\n%s", text)
	}
}

func TestGreetingAndWithheld(t *testing.T) {
	in := sample()
	in.Kind, in.RecipientName = "ack", "Alice Martin"
	if text, _ := render(t, in); !strings.HasPrefix(text, "Hello Alice Martin,") {
		t.Fatalf("greeting:\n%s", text)
	}
	in = sample()
	in.Withheld = 2
	text, _ := render(t, in)
	if !strings.Contains(text, "2 attached file(s) were not sent to you") {
		t.Fatalf("withheld:\n%s", text)
	}
}

func TestHTMLHasNoStrayWhitespace(t *testing.T) {
	in := sample()
	in.Kind = "ack"
	_, html := render(t, in)
	for _, l := range strings.Split(strings.ReplaceAll(html, "\r\n", "\n"), "\n") {
		if l != strings.TrimSpace(l) || strings.Contains(l, "<p> ") || strings.Contains(l, " </p>") || strings.Contains(l, " <br>") {
			t.Fatalf("stray whitespace in %q:\n%s", l, html)
		}
	}
}
