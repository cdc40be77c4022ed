// Package poll waits for a condition with a deadline: the tests' one way to wait for
// something that happens in another goroutine or process, instead of sleeping a guessed time.
package poll

import (
	"testing"
	"time"
)

// interval is how often the condition is checked.
const interval = 20 * time.Millisecond

// Wait checks cond until it holds (true) or timeout passes (false).
func Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// Until is Wait that fails the test, naming what did not happen.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}
