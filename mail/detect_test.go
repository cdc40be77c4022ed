package mail

import "testing"

// The charset detector runs its recognizers concurrently; equal confidences must still give one
// answer, or a redelivered message would be stored differently (found by FuzzFastVsEnmime: an
// encoded word without a charset holding invalid UTF-8).
func TestDetectIsDeterministic(t *testing.T) {
	raw := []byte("From:XcCpcrY@e\nSubject:=??q?af=C3A2?=2!*eYAaBe21C:'11Yc>\r\n\r\n")
	seen := map[string]int{}
	for i := range 200 {
		p := NewParser(testPolicy)
		p.noFast = i%2 == 0
		m, err := p.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Subject]++
	}
	if len(seen) != 1 {
		t.Fatalf("one input, several subjects: %v", seen)
	}
}
