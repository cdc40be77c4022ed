package ticket

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Command is one `#word args` line from the top of a message.
type Command struct {
	Line int    // 1-based line number in the stored text
	Word string // lower-case, without '#'
	Arg  string
	Raw  string
}

// CommandError names the line an agent got wrong and why.
type CommandError struct {
	Line   int
	Raw    string
	Reason string
}

func (e CommandError) Error() string { return fmt.Sprintf("line %d %q: %s", e.Line, e.Raw, e.Reason) }

// ParseCommands splits the leading `#word args` lines (blank lines between them allowed) from
// the rest of text. Parsing stops at the first line that is not a command, so a `#` further
// down is ordinary text. A line like "#1 priority" (a number) is not a command.
func ParseCommands(text string) (cmds []Command, rest string) {
	lines := strings.Split(text, "\n")
	i := 0
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(strings.TrimRight(lines[i], "\r"))
		if l == "" {
			continue
		}
		if len(l) < 2 || l[0] != '#' || !isLetter(l[1]) {
			break
		}
		word, arg, _ := strings.Cut(l[1:], " ")
		cmds = append(cmds, Command{Line: i + 1, Word: strings.ToLower(word), Arg: strings.TrimSpace(arg), Raw: l})
	}
	if len(cmds) == 0 {
		return nil, text
	}
	return cmds, strings.TrimLeft(strings.Join(lines[i:], "\n"), "\r\n")
}

func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// Effect is what a message's commands do to a ticket.
type Effect struct {
	Internal bool
	// Sensitive is set when this message marked the ticket sensitive.
	Sensitive bool
	Events    []Event
}

// Env is what applying commands needs besides the ticket: the desk's model, who writes, and
// how to tell an agent.
type Env struct {
	Model   *Model
	Author  string
	IsAgent func(string) bool
	Now     time.Time
}

func (e Env) model() *Model {
	if e.Model == nil {
		return DefaultModel()
	}
	return e.Model
}

// agentCommands is the list an agent is shown after an unknown command.
const agentCommands = "#status, #priority, #type, #assign, #follow, #unfollow, #set, #sensitive, #note"

// ApplyAgentCommands validates every command first and changes t only if all are valid: a
// wrong command changes nothing of that message's commands.
func ApplyAgentCommands(t *Ticket, cmds []Command, env Env) (Effect, []CommandError) {
	m := env.model()
	var errs []CommandError
	bad := func(c Command, format string, a ...any) {
		errs = append(errs, CommandError{Line: c.Line, Raw: c.Raw, Reason: fmt.Sprintf(format, a...)})
	}
	for _, c := range cmds {
		switch c.Word {
		case "status":
			if _, ok := m.Status(c.Arg); !ok {
				bad(c, "unknown status; valid values: %s", strings.Join(m.Statuses(), ", "))
			}
		case "priority":
			if _, ok := m.Priority(c.Arg); !ok {
				bad(c, "unknown priority; valid values: %s", strings.Join(m.Priorities(), ", "))
			}
		case "type":
			if _, ok := m.Type(c.Arg); !ok {
				if types := m.Types(); len(types) > 0 {
					bad(c, "unknown type; valid values: %s", strings.Join(types, ", "))
				} else {
					bad(c, "a type is one word of at most 64 characters")
				}
			}
		case "set":
			name, value, _ := strings.Cut(c.Arg, " ")
			if _, ok := m.Field(name); !ok {
				if fields := m.Fields(); len(fields) > 0 {
					bad(c, "unknown field; valid fields: %s", strings.Join(fields, ", "))
				} else {
					bad(c, "no fields are configured (tickets.fields)")
				}
			} else if len(strings.TrimSpace(value)) > 1000 {
				bad(c, "a field value is at most 1000 characters")
			}
		case "assign":
			if a := resolveMe(c.Arg, env.Author); a == "" || !env.IsAgent(a) {
				bad(c, "assign takes \"me\" or an agent's address")
			}
		case "follow", "unfollow":
			a := plainAddress(c.Arg)
			if a == "" {
				bad(c, "%s takes one email address", c.Word)
			} else if c.Word == "unfollow" && a == t.Creator {
				bad(c, "the creator of a ticket cannot be removed from its followers")
			}
		case "note", "sensitive":
			if c.Arg != "" {
				bad(c, "#%s takes no argument", c.Word)
			}
		default:
			bad(c, "unknown command; valid commands: %s", agentCommands)
		}
	}
	if len(errs) > 0 {
		return Effect{}, errs
	}
	var eff Effect
	ev := func(kind, detail string) {
		eff.Events = append(eff.Events, Event{At: env.Now, By: env.Author, Kind: kind, Detail: detail})
	}
	for _, c := range cmds {
		switch c.Word {
		case "status":
			st, _ := m.Status(c.Arg)
			if t.Status != st {
				ev("status", t.Status+" -> "+st)
			}
			m.SetStatus(t, st)
		case "priority":
			p, _ := m.Priority(c.Arg)
			if t.Priority != p {
				ev("priority", t.Priority+" -> "+p)
				t.Priority = p
			}
		case "type":
			ty, _ := m.Type(c.Arg)
			ev("type", ty)
			t.Type = ty
		case "set":
			name, value, _ := strings.Cut(c.Arg, " ")
			f, _ := m.Field(name)
			value = strings.TrimSpace(value)
			if t.SetField(f, value) {
				ev("set", f+" = "+value)
			}
		case "assign":
			a := resolveMe(c.Arg, env.Author)
			t.Assignee = a
			t.AddFollower(a)
			ev("assign", a)
		case "follow":
			a := plainAddress(c.Arg)
			if t.AddFollowerBy(a, FollowerAddedByAgent) {
				ev("follow", a)
			}
		case "unfollow":
			a := plainAddress(c.Arg)
			if t.RemoveFollower(a) {
				ev("unfollow", a)
			}
		case "sensitive":
			if !t.Sensitive {
				t.Sensitive = true
				eff.Sensitive = true
				ev("sensitive", "marked sensitive")
			}
		case "note":
			eff.Internal = true
		}
	}
	return eff, nil
}

// CustomerCloses reports whether a customer's leading commands ask to close the ticket; any
// other `#` line from a customer is plain text.
func CustomerCloses(cmds []Command) bool {
	for _, c := range cmds {
		if c.Word == "close" && c.Arg == "" {
			return true
		}
	}
	return false
}

// CustomerCommands are the leading commands a customer may give: #close, #sensitive,
// #follow and #unfollow with one address. Any other `#` line is plain text.
type CustomerCommands struct {
	Close, Sensitive bool
	Follow, Unfollow []string
	// Lines are the 1-based lines these commands were on, to take out of the stored text.
	Lines []int
}

// ParseCustomerCommands picks the customer's commands out of the leading `#` lines.
func ParseCustomerCommands(cmds []Command) CustomerCommands {
	var cc CustomerCommands
	for _, c := range cmds {
		switch {
		case c.Word == "close" && c.Arg == "":
			cc.Close = true
		case c.Word == "sensitive" && c.Arg == "":
			cc.Sensitive = true
		case c.Word == "follow" && plainAddress(c.Arg) != "":
			cc.Follow = append(cc.Follow, plainAddress(c.Arg))
		case c.Word == "unfollow" && plainAddress(c.Arg) != "":
			cc.Unfollow = append(cc.Unfollow, plainAddress(c.Arg))
		default:
			continue
		}
		cc.Lines = append(cc.Lines, c.Line)
	}
	return cc
}

// WithoutLines returns text without the given 1-based lines, and without the blank lines left
// at its top.
func WithoutLines(text string, lines []int) string {
	if len(lines) == 0 {
		return text
	}
	drop := map[int]bool{}
	for _, l := range lines {
		drop[l] = true
	}
	var keep []string
	for i, l := range strings.Split(text, "\n") {
		if !drop[i+1] {
			keep = append(keep, l)
		}
	}
	return strings.TrimLeft(strings.Join(keep, "\n"), "\r\n")
}

func resolveMe(arg, agent string) string {
	if strings.EqualFold(arg, "me") {
		return agent
	}
	return plainAddress(arg)
}

// PlainAddress returns the lower-cased addr-spec of s, or "" unless s is exactly one plain
// address (an encoded word in it matches nobody).
func PlainAddress(s string) string { return plainAddress(s) }

func plainAddress(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " \t,;") {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || strings.Contains(a.Address, "=?") {
		return ""
	}
	return strings.ToLower(a.Address)
}

// NotAdded is a person a customer named (a mention, #follow, #unfollow) who could not be added
// to or removed from the ticket's followers, and why; the customer is told.
type NotAdded struct {
	Address string
	Reason  string
}
