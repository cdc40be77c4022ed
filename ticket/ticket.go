// Package ticket is the domain of mailgate: tickets, their messages, the status machine, the
// subject tag and the commands agents give by mail. It does no I/O.
package ticket

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mailgate/mailgate/sla"
)

// Status values of the built-in model.
const (
	StatusNew                 = "new"
	StatusOpen                = "open"
	StatusWaitingOnCustomer   = "waiting_on_customer"
	StatusWaitingOnThirdParty = "waiting_on_third_party"
	StatusResolved            = "resolved"
	StatusClosed              = "closed"
)

// Statuses lists every status, in life-cycle order.
var Statuses = []string{StatusNew, StatusOpen, StatusWaitingOnCustomer, StatusWaitingOnThirdParty, StatusResolved, StatusClosed}

// Priorities lists every priority.
var Priorities = []string{"low", "normal", "high", "urgent"}

// Roles of a message's author.
const (
	RoleCustomer = "customer"
	RoleAgent    = "agent"
	// RoleFollower is a follower added by an agent or by the customer (within the
	// organisation) writing to the ticket.
	RoleFollower = "follower"
)

// Who added a follower (Ticket.FollowersAddedBy).
const (
	FollowerAddedByAgent    = "added_by_agent"
	FollowerAddedByCustomer = "added_by_customer"
)

// Ticket is what `mailgate ticket show --json` prints (docs/json.md).
type Ticket struct {
	ID      int64  `json:"id"`
	Tag     string `json:"tag"`
	Queue   string `json:"queue"`
	Subject string `json:"subject"`
	Status  string `json:"status"`
	// StatusClass is the class of Status when it was set: the life cycle follows it even after
	// a reload removed the status from the configuration.
	StatusClass  string   `json:"status_class,omitempty"`
	Priority     string   `json:"priority"`
	Type         string   `json:"type"`
	Creator      string   `json:"creator"`
	Organization string   `json:"organization"`
	Assignee     string   `json:"assignee"`
	Followers    []string `json:"followers"`
	// FollowersAddedBy says who added a follower who is neither the creator nor an agent
	// (FollowerAddedByAgent, FollowerAddedByCustomer). Such a follower may add to the ticket.
	FollowersAddedBy map[string]string `json:"followers_added_by,omitempty"`
	// Fields are the configured free-text fields set with #set.
	Fields map[string]string `json:"fields"`
	// Sensitive: from the message that marked it on, attachments are mailed to agents only.
	Sensitive bool `json:"sensitive"`
	// CreatorName is the display name of the creator's first mail, to greet them by.
	CreatorName string    `json:"creator_name,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// RelatedTo is the ticket whose tag a stranger used (inbound rule 11); agents see it.
	RelatedTo int64 `json:"related_to,omitempty"`
	// Forged marks a ticket opened by mail whose From failed a trusted authentication check.
	Forged bool `json:"forged,omitempty"`
	// RootMessageID is the Message-ID of the opening mail; every mail we send references it so
	// mail clients keep the ticket one thread.
	RootMessageID string `json:"root_message_id,omitempty"`
	// Language of the customer's mail (one of mail.Languages): the language of mail sent to customers.
	Language string `json:"language,omitempty"`
	// SLA is the service-level record (due times, pauses, warnings and breaches sent); nil
	// when no target applies.
	SLA *sla.State `json:"sla,omitempty"`
	// Version increases with every change; the store refuses a write based on an older version.
	Version  int64     `json:"-"`
	Messages []Message `json:"messages,omitempty"`
	Events   []Event   `json:"events,omitempty"`
}

// Message is one inbound mail stored on a ticket.
type Message struct {
	MessageID   string       `json:"message_id"`
	Author      string       `json:"author"`
	Role        string       `json:"role"`
	Internal    bool         `json:"internal"`
	Auto        bool         `json:"auto"`
	ReceivedAt  time.Time    `json:"received_at"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
	// Refused lists the attachments that were not kept, with the reason.
	Refused []Refused `json:"refused,omitempty"`
	// RawKey names the stored raw message (may have expired, see storage.keep_raw).
	RawKey string `json:"raw_key,omitempty"`
}

// Attachment describes a kept file; its bytes stay in the raw message.
type Attachment struct {
	Filename string `json:"filename"`
	// GeneratedName: the sender gave the file no usable name (a pasted image), Filename is ours.
	GeneratedName bool   `json:"generated_name,omitempty"`
	ContentType   string `json:"content_type"`
	Size          int    `json:"size"`
	SHA256        string `json:"sha256"`
	// Sensitive files are mailed to agents only (the ticket was marked sensitive).
	Sensitive bool `json:"sensitive"`
}

// Refused is an attachment that was not kept, and why.
type Refused struct {
	Filename string `json:"filename"`
	Reason   string `json:"reason"`
}

// Event is a change in the ticket's timeline (status, assignment, follow).
type Event struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail"`
}

// Tag formats a ticket ID as its subject tag.
func Tag(id int64) string { return "#TID" + strconv.FormatInt(id, 10) }

// tagRE matches a tag anywhere in a subject, case-insensitively, not glued to a longer word.
var tagRE = regexp.MustCompile(`(?i)\[?#TID([0-9]{1,18})\b\]?`)

// FindTag returns the first ticket ID tagged in subject.
func FindTag(subject string) (int64, bool) {
	m := tagRE.FindStringSubmatch(subject)
	if m == nil {
		return 0, false
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// StripTags removes every ticket tag from subject and tidies the spaces left behind.
func StripTags(subject string) string {
	// Repeat: removing one tag can join its neighbours into another ("#TI#TID1D2").
	for i := 0; i < 10 && tagRE.MatchString(subject); i++ {
		subject = tagRE.ReplaceAllString(subject, " ")
	}
	return strings.Join(strings.Fields(subject), " ")
}

var replyPrefixRE = regexp.MustCompile(`(?i)^\s*((re|fwd?|aw|sv|vs|wg|tr|antw|réf|rif)\s*(\[[0-9]+\])?\s*:\s*)+`)

// BaseSubject is the subject a new ticket is filed under: tags and reply prefixes removed.
func BaseSubject(subject string) string {
	s := StripTags(subject)
	s = replyPrefixRE.ReplaceAllString(s, "")
	s = strings.TrimSpace(s)
	if s == "" {
		return "(no subject)"
	}
	return s
}

// OutboundSubject is the subject of every mail sent about a ticket.
func OutboundSubject(id int64, subject string) string {
	return fmt.Sprintf("[%s] %s", Tag(id), subject)
}

// Organization is the organisation of an address when no account names one: its domain.
func Organization(addr string) string {
	_, dom, _ := strings.Cut(addr, "@")
	return dom
}

// IsFollower reports whether addr follows t.
func (t *Ticket) IsFollower(addr string) bool {
	for _, f := range t.Followers {
		if f == addr {
			return true
		}
	}
	return false
}

// AddFollower adds addr once; it reports whether it was added.
func (t *Ticket) AddFollower(addr string) bool {
	if addr == "" || t.IsFollower(addr) {
		return false
	}
	t.Followers = append(t.Followers, addr)
	return true
}

// AddFollowerBy adds addr as a follower added by someone (FollowerAddedByAgent or
// FollowerAddedByCustomer), which lets them add to the ticket; it reports whether addr is new.
func (t *Ticket) AddFollowerBy(addr, by string) bool {
	added := t.AddFollower(addr)
	if addr == "" || addr == t.Creator {
		return added
	}
	if _, ok := t.FollowersAddedBy[addr]; !ok || added {
		m := make(map[string]string, len(t.FollowersAddedBy)+1)
		for k, v := range t.FollowersAddedBy {
			m[k] = v
		}
		m[addr] = by
		t.FollowersAddedBy = m
	}
	return added
}

// MayAddAsFollower reports whether addr follows t because an agent or the customer added them:
// such a follower's mail is added to the ticket (role follower) instead of opening a new one.
func (t *Ticket) MayAddAsFollower(addr string) bool {
	return t.IsFollower(addr) && t.FollowersAddedBy[addr] != ""
}

// RemoveFollower removes addr unless it is the creator, who is never removed.
func (t *Ticket) RemoveFollower(addr string) bool {
	if addr == t.Creator {
		return false
	}
	for i, f := range t.Followers {
		if f == addr {
			t.Followers = append(t.Followers[:i:i], t.Followers[i+1:]...)
			if _, ok := t.FollowersAddedBy[addr]; ok {
				m := make(map[string]string, len(t.FollowersAddedBy))
				for k, v := range t.FollowersAddedBy {
					if k != addr {
						m[k] = v
					}
				}
				t.FollowersAddedBy = m
			}
			return true
		}
	}
	return false
}

// SetField sets a free-text field, or clears it when value is empty; it reports a change.
func (t *Ticket) SetField(name, value string) bool {
	if t.Fields[name] == value {
		return false
	}
	m := make(map[string]string, len(t.Fields)+1)
	for k, v := range t.Fields {
		m[k] = v
	}
	if value == "" {
		delete(m, name)
	} else {
		m[name] = value
	}
	t.Fields = m
	return true
}

// ValidStatus reports whether s is a status.
func ValidStatus(s string) bool { return in(Statuses, s) }

func in(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
