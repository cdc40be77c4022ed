package metrics

import (
	"testing"

	"github.com/mailgate/mailgate/reason"
)

// Every refusal's label exists from the first scrape, so a rate() over it is never empty, and
// no label exists that no reason stands for.
func TestEveryRefusalIsPrecreated(t *testing.T) {
	m := New()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "mailgate_rejections_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			got[s.GetLabel()[0].GetValue()] = true
		}
	}
	for _, r := range reason.Refusals() {
		if !got[string(r)] {
			t.Errorf("no series for reason %q", r)
		}
		delete(got, string(r))
	}
	for l := range got {
		t.Errorf("series %q stands for no reason", l)
	}
}
