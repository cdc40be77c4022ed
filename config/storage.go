package config

import (
	"errors"
	"time"
)

// DefaultKeepQuarantine is storage.keep_quarantine's default: a month for an operator to look
// at a message that could not be parsed, then its raw bytes go.
const DefaultKeepQuarantine = Duration(720 * time.Hour)

// validateQuarantine checks storage.keep_quarantine (0 keeps quarantined messages until
// deleted by hand).
func (s Storage) validateQuarantine() error {
	if s.KeepQuarantine.D() < 0 {
		return errors.New("storage.keep_quarantine: must not be negative")
	}
	return nil
}
