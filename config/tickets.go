package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mailgate/mailgate/ticket"
)

// TicketModel is the desk's own ticket model under `tickets:`. Every key left out keeps the
// built-in model (six statuses, low/normal/high/urgent, any one-word type, no fields, no link).
type TicketModel struct {
	// Statuses maps each status name to its class, in order; a status may also carry labels
	// per language: `pending: {class: open, label: {en: In progress, fr: En cours}}`.
	Statuses              StatusList `yaml:"statuses,omitempty"`
	FirstAgentReplyStatus string     `yaml:"first_agent_reply_status,omitempty"`
	ReopenStatus          string     `yaml:"reopen_status,omitempty"`
	Priorities            []string   `yaml:"priorities,omitempty"`
	DefaultPriority       string     `yaml:"default_priority,omitempty"`
	Types                 []string   `yaml:"types,omitempty"`
	Fields                []string   `yaml:"fields,omitempty"`
	// URL is the ticket's link, "{id}" replaced by its number; every mail carries it when set.
	URL string `yaml:"url,omitempty"`
}

// StatusList is tickets.statuses: an ordered mapping (the order decides "the first status of
// class open"), which a Go map would lose.
type StatusList []ticket.StatusDef

type statusValue struct {
	Class string            `yaml:"class"`
	Label map[string]string `yaml:"label"`
}

// UnmarshalYAML reads `name: class` or `name: {class: C, label: {lang: text}}` pairs.
func (l *StatusList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping of status name to class (e.g. pending: open)")
	}
	out := StatusList{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		def := ticket.StatusDef{Name: k.Value}
		switch v.Kind {
		case yaml.ScalarNode:
			def.Class = v.Value
		case yaml.MappingNode:
			var sv statusValue
			if err := v.Decode(&sv); err != nil {
				return fmt.Errorf("status %s: %w", k.Value, err)
			}
			def.Class, def.Labels = sv.Class, sv.Label
		default:
			return fmt.Errorf("status %s: expected a class or {class, label}", k.Value)
		}
		out = append(out, def)
	}
	*l = out
	return nil
}

// MarshalYAML writes the list back in its order (config check prints it).
func (l StatusList) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range l {
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: s.Name}
		var v yaml.Node
		if len(s.Labels) == 0 {
			v = yaml.Node{Kind: yaml.ScalarNode, Value: s.Class}
		} else if err := v.Encode(statusValue{Class: s.Class, Label: s.Labels}); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, k, &v)
	}
	return n, nil
}

func (m TicketModel) spec() ticket.Spec {
	return ticket.Spec{
		Statuses: m.Statuses, FirstAgentReplyStatus: m.FirstAgentReplyStatus, ReopenStatus: m.ReopenStatus,
		Priorities: m.Priorities, DefaultPriority: m.DefaultPriority, Types: m.Types, Fields: m.Fields, URL: m.URL,
	}
}

// validateTicketModel checks the model keys, naming each as tickets.<key>.
func (c *Config) validateTicketModel() error {
	_, err := ticket.NewModel(c.Tickets.TicketModel.spec())
	if err == nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		lines = append(lines, "tickets."+l)
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// TicketModel builds the desk's ticket model. Validate has checked it; should it still fail,
// the built-in model is returned so that mail keeps flowing.
func (c *Config) TicketModel() *ticket.Model {
	m, err := ticket.NewModel(c.Tickets.TicketModel.spec())
	if err != nil {
		return ticket.DefaultModel()
	}
	return m
}

// AgentMention turns an agent's `@local-part` into an agent's address: a listed agent with that
// local part, else the address in the writer's domain, else in the first agents domain.
func (c *Config) AgentMention(local, author string) string {
	local = strings.ToLower(local)
	for _, a := range c.Agents.Addresses {
		if l, _, _ := strings.Cut(a, "@"); l == local {
			return a
		}
	}
	if _, dom, ok := strings.Cut(author, "@"); ok && c.IsAgent(local+"@"+dom) {
		return local + "@" + dom
	}
	if len(c.Agents.Domains) > 0 {
		return local + "@" + c.Agents.Domains[0]
	}
	return ""
}
