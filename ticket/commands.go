package ticket

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Command is one `#word args` line from the top of a message (SPEC §3).
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
	Events   []Event
}

// ApplyAgentCommands validates every command first and changes t only if all are valid: a
// wrong command changes nothing of that message's commands (SPEC §3).
func ApplyAgentCommands(t *Ticket, cmds []Command, agent string, isAgent func(string) bool, now time.Time) (Effect, []CommandError) {
	var errs []CommandError
	bad := func(c Command, format string, a ...any) {
		errs = append(errs, CommandError{Line: c.Line, Raw: c.Raw, Reason: fmt.Sprintf(format, a...)})
	}
	for _, c := range cmds {
		switch c.Word {
		case "status":
			if !ValidStatus(c.Arg) {
				bad(c, "unknown status; valid values: %s", strings.Join(Statuses, ", "))
			}
		case "priority":
			if !in(Priorities, c.Arg) {
				bad(c, "unknown priority; valid values: %s", strings.Join(Priorities, ", "))
			}
		case "type":
			if c.Arg == "" || strings.ContainsAny(c.Arg, " \t") || len(c.Arg) > 64 {
				bad(c, "a type is one word of at most 64 characters")
			}
		case "assign":
			if a := resolveMe(c.Arg, agent); a == "" || !isAgent(a) {
				bad(c, "assign takes \"me\" or an agent's address")
			}
		case "follow", "unfollow":
			a := plainAddress(c.Arg)
			if a == "" {
				bad(c, "%s takes one email address", c.Word)
			} else if c.Word == "unfollow" && a == t.Creator {
				bad(c, "the creator of a ticket cannot be removed from its followers")
			}
		case "note":
			if c.Arg != "" {
				bad(c, "#note takes no argument")
			}
		default:
			bad(c, "unknown command; valid commands: #status, #priority, #type, #assign, #follow, #unfollow, #note")
		}
	}
	if len(errs) > 0 {
		return Effect{}, errs
	}
	var eff Effect
	ev := func(kind, detail string) {
		eff.Events = append(eff.Events, Event{At: now, By: agent, Kind: kind, Detail: detail})
	}
	for _, c := range cmds {
		switch c.Word {
		case "status":
			if t.Status != c.Arg {
				ev("status", t.Status+" -> "+c.Arg)
				t.Status = c.Arg
			}
		case "priority":
			if t.Priority != c.Arg {
				ev("priority", t.Priority+" -> "+c.Arg)
				t.Priority = c.Arg
			}
		case "type":
			ev("type", c.Arg)
			t.Type = c.Arg
		case "assign":
			a := resolveMe(c.Arg, agent)
			t.Assignee = a
			t.AddFollower(a)
			ev("assign", a)
		case "follow":
			a := plainAddress(c.Arg)
			if t.AddFollower(a) {
				ev("follow", a)
			}
		case "unfollow":
			a := plainAddress(c.Arg)
			if t.RemoveFollower(a) {
				ev("unfollow", a)
			}
		case "note":
			eff.Internal = true
		}
	}
	return eff, nil
}

// CustomerCloses reports whether a customer's leading commands ask to close the ticket; any
// other `#` line from a customer is plain text (SPEC §3).
func CustomerCloses(cmds []Command) bool {
	for _, c := range cmds {
		if c.Word == "close" && c.Arg == "" {
			return true
		}
	}
	return false
}

func resolveMe(arg, agent string) string {
	if strings.EqualFold(arg, "me") {
		return agent
	}
	return plainAddress(arg)
}

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
