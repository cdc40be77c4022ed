package outbound

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/ticket"
)

// labels are the words of one language that mail shows instead of identifiers and addresses
// (templates/<lang>/labels.yaml).
type labels struct {
	Statuses map[string]string `yaml:"statuses"`
	Authors  map[string]string `yaml:"authors"`
}

// loadLabels reads the built-in labels of lang, then dir/<lang>/labels.yaml over them.
func loadLabels(dir, lang string) (labels, error) {
	l := labels{Statuses: map[string]string{}, Authors: map[string]string{}}
	b, err := fs.ReadFile(templateFS, "templates/"+lang+"/labels.yaml")
	if err != nil {
		return l, fmt.Errorf("built-in labels %s: %w", lang, err)
	}
	if err := yaml.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("built-in labels %s: %w", lang, err)
	}
	if dir == "" {
		return l, nil
	}
	f := filepath.Join(dir, lang, "labels.yaml")
	b, err = os.ReadFile(f)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("labels %s: %w", f, err)
	}
	var over labels
	if err := yaml.Unmarshal(b, &over); err != nil {
		return l, fmt.Errorf("labels %s: %w", f, err)
	}
	for k, v := range over.Statuses {
		l.Statuses[ticket.NormalizeName(k)] = v
	}
	for k, v := range over.Authors {
		l.Authors[k] = v
	}
	return l, nil
}

// statusLabel is what a customer reads for status: the configured label in lang, the built-in
// one, the English one, else the name made readable ("to_deploy" -> "To deploy").
func (r *Renderer) statusLabel(m *ticket.Model, status, lang string) string {
	if m != nil {
		if l := m.Label(status, lang); l != "" {
			return l
		}
		if l := m.Label(status, "en"); l != "" && r.labels[lang].Statuses[status] == "" {
			return l
		}
	}
	if l := r.labels[lang].Statuses[status]; l != "" {
		return l
	}
	if l := r.labels["en"].Statuses[status]; l != "" {
		return l
	}
	s := strings.ReplaceAll(ticket.NormalizeName(status), "_", " ")
	if s == "" {
		return status
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// authorWord names a message's author to someone who may not see their address.
func (r *Renderer) authorWord(role, lang string) string {
	if w := r.labels[lang].Authors[role]; w != "" {
		return w
	}
	return r.labels["en"].Authors[role]
}
