package threading

import (
	"testing"
	"time"
)

func BenchmarkDecideAndApply(b *testing.B) {
	p := policy()
	now := time.Now()
	b.Run("new ticket", func(b *testing.B) {
		m := msg("alice@customer.example")
		for b.Loop() {
			a := Decide(m, Facts{EnvelopeFrom: "a"}, p)
			_ = Apply(a, m, p, []string{"team@example.com"}, Facts{SenderOrg: "customer.example"}, now)
		}
	})
	b.Run("agent reply with commands", func(b *testing.B) {
		m := msg("bob@example.com")
		m.Text = "#status resolved\n#priority high\n\nDone.\n\nOn Sun, Nov 22, 2026 Alice wrote:\n> fire"
		tk := existing()
		for b.Loop() {
			a := Decide(m, Facts{EnvelopeFrom: "a", TagID: 30001, Tagged: tk}, p)
			_ = Apply(a, m, p, nil, Facts{}, now)
		}
	})
}
