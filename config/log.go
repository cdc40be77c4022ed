package config

import (
	"log/slog"
	"strings"
)

// Log is the log section: the format of every line mailgate writes and the lowest level kept.
type Log struct {
	Format string `yaml:"format"` // text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// SlogLevel returns the configured level; Validate has checked it.
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(l.Level))
	return lv
}

func defaultLog() Log { return Log{Format: "text", Level: "info"} }

func (l *Log) normalize() {
	l.Format = strings.ToLower(strings.TrimSpace(l.Format))
	l.Level = strings.ToLower(strings.TrimSpace(l.Level))
	if l.Level == "warning" {
		l.Level = "warn"
	}
}

func validateLog(l Log) error {
	if err := oneOf("log.format", l.Format, "text", "json"); err != nil {
		return err
	}
	return oneOf("log.level", l.Level, "debug", "info", "warn", "error")
}
