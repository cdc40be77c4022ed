package reason

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every refusal carries a code, an RFC 3463 code of the same class and a one-line ASCII
// sentence; every label is a valid, distinct Prometheus label value.
func TestEveryReasonIsComplete(t *testing.T) {
	label := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[Reason]bool{}
	for _, r := range All() {
		if seen[r] {
			t.Errorf("%q listed twice", r)
		}
		seen[r] = true
		if !label.MatchString(string(r)) {
			t.Errorf("%q is not a metric label", r)
		}
		rp := r.Reply()
		if rp.Code == 0 || rp.Text == "" {
			t.Errorf("%q has no reply", r)
			continue
		}
		if rp.Code/100 != rp.Enhanced[0] {
			t.Errorf("%q: code %d with enhanced class %d", r, rp.Code, rp.Enhanced[0])
		}
		for _, c := range rp.Text {
			if c < ' ' || c > '~' {
				t.Errorf("%q: text %q is not one line of printable ASCII", r, rp.Text)
				break
			}
		}
	}
	if None.Refuses() || !NotSupportAddress.Refuses() || Auto.Refuses() {
		t.Error("Refuses")
	}
	for _, r := range Refusals() {
		if !r.Refuses() {
			t.Errorf("%q in Refusals", r)
		}
	}
}

// docs/smtp.md lists every refusal with its label, reply and sentence.
func TestDocsListEveryRefusal(t *testing.T) {
	b, err := os.ReadFile("../docs/smtp.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range All() {
		rp := r.Reply()
		row := fmt.Sprintf("| `%s` | `%d %d.%d.%d` | %s |", r, rp.Code, rp.Enhanced[0], rp.Enhanced[1], rp.Enhanced[2], rp.Text)
		if r.Refuses() && !strings.Contains(doc, row) {
			t.Errorf("docs/smtp.md has no row %s", row)
		}
		if !r.Refuses() && !strings.Contains(doc, "| `"+string(r)+"` |") {
			t.Errorf("docs/smtp.md does not name %q", r)
		}
	}
}

// TestRepliesAreDocumented: docs/reply-codes.md has a row with each reason's code.
func TestRepliesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/reply-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range All() {
		rp := r.Reply()
		row := fmt.Sprintf("| %d %d.%d.%d | `%s` |", rp.Code, rp.Enhanced[0], rp.Enhanced[1], rp.Enhanced[2], r)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/reply-codes.md lacks %q", row)
		}
	}
}
