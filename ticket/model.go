package ticket

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Status classes: the life cycle works on these, whatever the desk calls its statuses.
const (
	ClassNew             = "new"
	ClassOpen            = "open"
	ClassWaitingCustomer = "waiting_customer"
	ClassWaitingOther    = "waiting_other"
	ClassResolved        = "resolved"
	ClassClosed          = "closed"
)

// Classes lists every status class, in life-cycle order.
var Classes = []string{ClassNew, ClassOpen, ClassWaitingCustomer, ClassWaitingOther, ClassResolved, ClassClosed}

// StatusDef is one configured status: its name, its class and its labels by language.
type StatusDef struct {
	Name   string
	Class  string
	Labels map[string]string // language -> label shown to customers; may be empty
}

// Spec is the desk's ticket model as configured (tickets.statuses and the keys beside it).
// An empty list or string keeps the default of that key.
type Spec struct {
	Statuses              []StatusDef
	FirstAgentReplyStatus string
	ReopenStatus          string
	Priorities            []string
	DefaultPriority       string
	Types                 []string
	Fields                []string
	URL                   string
}

// Model is a validated ticket model. It is immutable: a configuration reload builds a new one,
// and every message is handled with the one current when it arrived.
type Model struct {
	statuses        []StatusDef
	byKey           map[string]int // NormalizeName(status) -> index in statuses
	firstAgentReply string
	reopen          string
	priorities      []string
	defaultPriority string
	types           []string
	fields          []string
	url             string
}

// DefaultSpec is the model of a desk with no tickets.statuses configured: the six statuses of
// the built-in life cycle, one per class.
func DefaultSpec() Spec {
	return Spec{
		Statuses: []StatusDef{
			{Name: StatusNew, Class: ClassNew},
			{Name: StatusOpen, Class: ClassOpen},
			{Name: StatusWaitingOnCustomer, Class: ClassWaitingCustomer},
			{Name: StatusWaitingOnThirdParty, Class: ClassWaitingOther},
			{Name: StatusResolved, Class: ClassResolved},
			{Name: StatusClosed, Class: ClassClosed},
		},
		Priorities: []string{"low", "normal", "high", "urgent"},
	}
}

// DefaultModel returns the built-in model. A Model is not changed once made, so all callers
// share one: building it anew cost 8% of rendering a mail (profiled), and store, threading
// and commands ask for it per message.
func DefaultModel() *Model { return defaultModel() }

var defaultModel = sync.OnceValue(func() *Model {
	m, err := NewModel(Spec{})
	if err != nil {
		panic(err) // the defaults are valid by construction
	}
	return m
})

// NormalizeName is the form in which status, priority, type and field names are compared:
// lower case, with spaces, '-' and '_' equivalent ("Waiting on customer" = "waiting_on_customer").
func NormalizeName(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == '-' || r == '_' || r == '\t' })
	return strings.Join(f, "_")
}

// NewModel validates s and fills in the defaults of the keys it leaves empty.
func NewModel(s Spec) (*Model, error) {
	def := DefaultSpec()
	if len(s.Statuses) == 0 {
		s.Statuses = def.Statuses
	}
	if len(s.Priorities) == 0 {
		s.Priorities = def.Priorities
	}
	m := &Model{byKey: map[string]int{}, url: strings.TrimSpace(s.URL)}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, st := range s.Statuses {
		key := NormalizeName(st.Name)
		switch {
		case key == "":
			bad("statuses: a status needs a name")
			continue
		case !in(Classes, st.Class):
			bad("statuses: %s: class %q is not one of %s", st.Name, st.Class, strings.Join(Classes, ", "))
			continue
		}
		if _, dup := m.byKey[key]; dup {
			bad("statuses: %s is listed twice (names match case-insensitively, with spaces, - and _ equivalent)", st.Name)
			continue
		}
		m.byKey[key] = len(m.statuses)
		m.statuses = append(m.statuses, StatusDef{Name: key, Class: st.Class, Labels: st.Labels})
	}
	for _, c := range []string{ClassOpen, ClassClosed} {
		if len(m.statuses) > 0 && m.firstOf(c) == "" {
			bad("statuses: at least one status of class %s is required", c)
		}
	}
	var err error
	if m.firstAgentReply, err = m.statusOr("first_agent_reply_status", s.FirstAgentReplyStatus, m.firstOf(ClassOpen)); err != nil {
		errs = append(errs, err)
	}
	if m.reopen, err = m.statusOr("reopen_status", s.ReopenStatus, m.firstOf(ClassOpen)); err != nil {
		errs = append(errs, err)
	}
	if m.priorities, err = nameList("priorities", s.Priorities); err != nil {
		errs = append(errs, err)
	}
	if m.types, err = nameList("types", s.Types); err != nil {
		errs = append(errs, err)
	}
	if m.fields, err = nameList("fields", s.Fields); err != nil {
		errs = append(errs, err)
	}
	m.defaultPriority = defaultPriority(m.priorities)
	if s.DefaultPriority != "" {
		p, ok := m.Priority(s.DefaultPriority)
		if !ok {
			bad("default_priority: %q is not one of the priorities (%s)", s.DefaultPriority, strings.Join(m.priorities, ", "))
		}
		m.defaultPriority = p
	}
	if m.url != "" && !strings.HasPrefix(m.url, "https://") && !strings.HasPrefix(m.url, "http://") {
		bad("url: %q must start with https:// or http://", m.url)
	}
	if strings.ContainsAny(m.url, " \r\n\t") {
		bad("url: must not contain spaces")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// defaultPriority is "normal" when the list has it (the built-in default), else the lowest.
func defaultPriority(list []string) string {
	if in(list, "normal") {
		return "normal"
	}
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

func (m *Model) statusOr(key, name, def string) (string, error) {
	if name == "" {
		return def, nil
	}
	st, ok := m.Status(name)
	if !ok {
		return "", fmt.Errorf("%s: %q is not one of the statuses (%s)", key, name, strings.Join(m.Statuses(), ", "))
	}
	return st, nil
}

// nameList normalises a configured list of names and refuses duplicates and blanks.
func nameList(key string, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		n := NormalizeName(s)
		if n == "" {
			return nil, fmt.Errorf("%s: empty name", key)
		}
		if seen[n] {
			return nil, fmt.Errorf("%s: %s is listed twice", key, s)
		}
		if len(n) > 64 {
			return nil, fmt.Errorf("%s: %s is longer than 64 characters", key, s)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

func (m *Model) firstOf(class string) string {
	for _, s := range m.statuses {
		if s.Class == class {
			return s.Name
		}
	}
	return ""
}

// Status returns the configured status a name means, matched case-insensitively with spaces,
// '-' and '_' equivalent, and whether there is one.
func (m *Model) Status(name string) (string, bool) {
	i, ok := m.byKey[NormalizeName(name)]
	if !ok {
		return "", false
	}
	return m.statuses[i].Name, true
}

// Class returns the class of a configured status, or "" for a name that is not configured
// (any spelling Status accepts works).
func (m *Model) Class(status string) string {
	i, ok := m.byKey[NormalizeName(status)]
	if !ok {
		return ""
	}
	return m.statuses[i].Class
}

// ClassOf is the class a ticket's life cycle follows: its status's class in this model, or,
// for a status that left the configuration since (a reload), the class it was stored with.
func (m *Model) ClassOf(t *Ticket) string {
	if c := m.Class(t.Status); c != "" {
		return c
	}
	if t.StatusClass != "" {
		return t.StatusClass
	}
	// A ticket written before classes were stored, with a built-in status name.
	return DefaultModel().Class(t.Status)
}

// Known reports whether a ticket's status is one this model configures; a ticket whose status
// was removed from the list keeps it until someone moves it to a valid one.
func (m *Model) Known(status string) bool { return m.Class(status) != "" }

// SetStatus moves t to status (a configured name) and records its class with it.
func (m *Model) SetStatus(t *Ticket, status string) {
	t.Status = status
	t.StatusClass = m.Class(status)
}

// Statuses lists the configured status names, in configuration order.
func (m *Model) Statuses() []string {
	out := make([]string, len(m.statuses))
	for i, s := range m.statuses {
		out[i] = s.Name
	}
	return out
}

// StatusesOfClass lists the configured statuses of class, in configuration order.
func (m *Model) StatusesOfClass(class string) []string {
	var out []string
	for _, s := range m.statuses {
		if s.Class == class {
			out = append(out, s.Name)
		}
	}
	return out
}

// Initial is the status of a new ticket: the first of class new, else the first open one.
func (m *Model) Initial() string {
	if s := m.firstOf(ClassNew); s != "" {
		return s
	}
	return m.firstOf(ClassOpen)
}

// FirstAgentReply is the status a ticket of class new moves to on an agent's first public reply.
func (m *Model) FirstAgentReply() string { return m.firstAgentReply }

// Reopen is the status a customer's reply moves a waiting_customer, resolved or closed ticket to.
func (m *Model) Reopen() string { return m.reopen }

// Closed is the status a customer's #close and the auto-close move a ticket to.
func (m *Model) Closed() string { return m.firstOf(ClassClosed) }

// Label returns the configured label of status in lang, or "" when none is configured.
func (m *Model) Label(status, lang string) string {
	i, ok := m.byKey[NormalizeName(status)]
	if !ok {
		return ""
	}
	return m.statuses[i].Labels[lang]
}

// Priorities lists the priorities, lowest first. The slice is a copy.
func (m *Model) Priorities() []string { return append([]string(nil), m.priorities...) }

// DefaultPriority is the priority of a new ticket.
func (m *Model) DefaultPriority() string { return m.defaultPriority }

// Priority returns the configured priority a name means, and whether there is one.
func (m *Model) Priority(name string) (string, bool) { return match(m.priorities, name) }

// PriorityRank is the position of p in Priorities (0 = lowest), or -1.
func (m *Model) PriorityRank(p string) int {
	for i, x := range m.priorities {
		if x == p {
			return i
		}
	}
	return -1
}

// Types lists the configured types; empty means any one word is a type.
func (m *Model) Types() []string { return append([]string(nil), m.types...) }

// Type returns the type a name means: a configured type, or with no list, the word itself.
func (m *Model) Type(name string) (string, bool) {
	if len(m.types) == 0 {
		name = strings.TrimSpace(name)
		if name == "" || strings.ContainsAny(name, " \t") || len(name) > 64 {
			return "", false
		}
		return name, true
	}
	return match(m.types, name)
}

// Fields lists the configured free-text fields.
func (m *Model) Fields() []string { return append([]string(nil), m.fields...) }

// Field returns the configured field a name means, and whether there is one.
func (m *Model) Field(name string) (string, bool) { return match(m.fields, name) }

// URL is the ticket's link (tickets.url with {id} replaced), or "" when none is configured.
func (m *Model) URL(id int64) string {
	if m.url == "" {
		return ""
	}
	return strings.ReplaceAll(m.url, "{id}", strconv.FormatInt(id, 10))
}

func match(list []string, name string) (string, bool) {
	n := NormalizeName(name)
	for _, x := range list {
		if x == n {
			return x, true
		}
	}
	return "", false
}
