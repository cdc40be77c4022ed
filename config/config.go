// Package config loads mailgate's YAML configuration, applies MAILGATE_<SECTION>_<KEY>
// environment overrides and validates every value, naming the key at fault.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as a Go duration string ("48h") in YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("not a duration (e.g. 48h, 90s): %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole configuration file (docs/configuration.md).
type Config struct {
	SMTP        SMTP        `yaml:"smtp"`
	LMTP        LMTP        `yaml:"lmtp"`
	Redis       Redis       `yaml:"redis"`
	Support     Support     `yaml:"support"`
	Tickets     Tickets     `yaml:"tickets"`
	Threading   Threading   `yaml:"threading"`
	Agents      Agents      `yaml:"agents"`
	Accounts    Accounts    `yaml:"accounts"`
	Auth        Auth        `yaml:"auth"`
	Attachments Attachments `yaml:"attachments"`
	Outbound    Outbound    `yaml:"outbound"`
	Storage     Storage     `yaml:"storage"`
	Metrics     Metrics     `yaml:"metrics"`
	SLA         SLA         `yaml:"sla"`
	Log         Log         `yaml:"log"`

	// DevMode is set when no config file was given; it is not a YAML key.
	DevMode bool `yaml:"-"`
}

type SMTP struct {
	Listen          string `yaml:"listen"`
	Hostname        string `yaml:"hostname"`
	MaxMessageBytes int64  `yaml:"max_message_bytes"`
	MaxRecipients   int    `yaml:"max_recipients"`
	MaxSessions     int    `yaml:"max_sessions"`
	// MaxSessionsPerIP bounds the sessions one client address may hold open at once.
	MaxSessionsPerIP int `yaml:"max_sessions_per_ip"`
	// MaxErrors closes a session after this many refused commands (Postfix's
	// smtpd_hard_error_limit), so that a prober cannot go on forever.
	MaxErrors   int      `yaml:"max_errors"`
	MaxReceived int      `yaml:"max_received"`
	ReadTimeout Duration `yaml:"read_timeout"`
	TLS         TLS      `yaml:"tls"`
}

type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type LMTP struct {
	Listen string `yaml:"listen"`
	// SocketMode and SocketGroup set the permissions of a unix: socket (see lmtp.go).
	SocketMode  string `yaml:"socket_mode"`
	SocketGroup string `yaml:"socket_group"`
}

type Redis struct {
	URL       string `yaml:"url" secret:"true"`
	KeyPrefix string `yaml:"key_prefix"`
	// WaitReplicas > 0: 250 only after that many replicas have the write (WAIT).
	WaitReplicas int `yaml:"wait_replicas"`
	// WaitAOF: 250 only after the write is fsynced to the AOF (WAITAOF, Redis 7.2+).
	WaitAOF bool `yaml:"wait_aof"`
	// WaitTimeout bounds both waits; past it the message is answered 451.
	WaitTimeout Duration `yaml:"wait_timeout"`
}

type Support struct {
	Addresses []string `yaml:"addresses"`
	Aliases   []string `yaml:"aliases"`
	FromName  string   `yaml:"from_name"`
	// CommentAddresses take agents' internal notes (e.g. support-comment@example.com): mail
	// an agent sends there is stored internal and never reaches the customer.
	CommentAddresses []string `yaml:"comment_addresses"`
}

type Tickets struct {
	FirstID        int64    `yaml:"first_id"`
	ReplyPolicy    string   `yaml:"reply_policy"`
	CcPolicy       string   `yaml:"cc_policy"`
	NotInTo        string   `yaml:"not_in_to"`
	AutoCloseAfter Duration `yaml:"auto_close_after"`
	// TicketModel: statuses, priorities, types, fields, url (config/tickets.go).
	TicketModel `yaml:",inline"`
}

// Threading decides how replies find their ticket.
type Threading struct {
	// UseReferences threads replies that lost the tag through In-Reply-To/References onto a
	// ticket whose mail we sent, with the same sender rules as a tagged reply.
	UseReferences bool `yaml:"use_references"`
}

type Agents struct {
	Addresses []string `yaml:"addresses"`
	Domains   []string `yaml:"domains"`
	Notify    []string `yaml:"notify"`
	// NotifyByQueue replaces Notify for the tickets of one queue (support address).
	NotifyByQueue map[string][]string `yaml:"notify_by_queue"`
	// NoticeBurst ("30/5m") gathers new-ticket notices past COUNT per INTERVAL per address
	// into one summary mail per interval; "" sends every notice.
	NoticeBurst string `yaml:"notice_burst"`
}

type Accounts struct {
	RequireActive bool `yaml:"require_active"`
}

type Auth struct {
	RequireForReplies  string   `yaml:"require_for_replies"`
	TrustedAuthservIDs []string `yaml:"trusted_authserv_ids"`
	VerifyDKIM         bool     `yaml:"verify_dkim"`
}

type Attachments struct {
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxTotalBytes bounds the kept attachments of one message together.
	MaxTotalBytes     int64    `yaml:"max_total_bytes"`
	AllowedExtensions []string `yaml:"allowed_extensions"`
}

type Outbound struct {
	Transport string       `yaml:"transport"`
	SMTP      OutboundSMTP `yaml:"smtp"`
	FileDir   string       `yaml:"file_dir"`
	// TemplatesDir holds <lang>/<name>.txt files overriding the built-in mail templates.
	TemplatesDir                   string   `yaml:"templates_dir"`
	MaxAge                         Duration `yaml:"max_age"`
	MaxAutoRepliesPerSenderPerHour int      `yaml:"max_auto_replies_per_sender_per_hour"`
	// Lease is how long a process owns a claimed mail; a crashed process's mails are sent by
	// another after it. It must exceed a relay transaction.
	Lease Duration `yaml:"lease"`
	DKIM  DKIM     `yaml:"dkim"`
}

type OutboundSMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	Password string `yaml:"password" secret:"true"`
}

// Storage bounds what is kept.
type Storage struct {
	// KeepRaw is how long the raw bytes of each inbound message are kept; 0 keeps them forever.
	KeepRaw Duration `yaml:"keep_raw"`
	// KeepQuarantine bounds how long a quarantined message is kept (config/storage.go).
	KeepQuarantine Duration `yaml:"keep_quarantine"`
}

type Metrics struct {
	Listen string `yaml:"listen"`
}

// Default returns the configuration every file is laid over.
func Default() Config {
	return Config{
		SMTP: SMTP{
			Listen:           "127.0.0.1:2525",
			Hostname:         "localhost",
			MaxMessageBytes:  26214400,
			MaxRecipients:    50,
			MaxSessions:      500,
			MaxSessionsPerIP: 50,
			MaxErrors:        20,
			MaxReceived:      50,
			ReadTimeout:      Duration(60 * time.Second),
		},
		Redis:   Redis{KeyPrefix: "mailgate:", WaitTimeout: Duration(time.Second)},
		Support: Support{FromName: "Support"},
		Tickets: Tickets{
			FirstID:        30001,
			ReplyPolicy:    "creator",
			CcPolicy:       "ignore",
			NotInTo:        "reject",
			AutoCloseAfter: Duration(168 * time.Hour),
		},
		Threading: Threading{UseReferences: true},
		Auth:      Auth{RequireForReplies: "none"},
		Attachments: Attachments{
			MaxFileBytes:  15728640,
			MaxTotalBytes: 26214400,
			AllowedExtensions: []string{".doc", ".docx", ".xls", ".xlsx", ".csv", ".txt", ".pdf",
				".bmp", ".jpg", ".jpeg", ".png", ".tar", ".zip"},
		},
		Outbound: Outbound{
			Transport:                      "smtp",
			SMTP:                           OutboundSMTP{Host: "127.0.0.1", Port: 25, TLS: "none"},
			FileDir:                        "./data/outbox",
			MaxAge:                         Duration(48 * time.Hour),
			MaxAutoRepliesPerSenderPerHour: 10,
			Lease:                          Duration(5 * time.Minute),
		},
		Storage: Storage{KeepRaw: 0, KeepQuarantine: DefaultKeepQuarantine},
		Metrics: Metrics{Listen: "127.0.0.1:9325"},
		SLA:     defaultSLA(),
		Log:     defaultLog(),
		LMTP:    defaultLMTP(),
	}
}

// Dev returns the dev-mode configuration: no file, embedded store, Maildir outbox.
func Dev() Config {
	c := Default()
	c.DevMode = true
	c.Support.Addresses = []string{"support@localhost"}
	c.Agents.Domains = []string{"agents.localhost"}
	c.Agents.Notify = []string{"team@agents.localhost"}
	c.Outbound.Transport = "file"
	return c
}

// DevFromEnv is Dev with the MAILGATE_* environment overrides applied, so that dev mode can
// listen elsewhere (MAILGATE_SMTP_LISTEN=127.0.0.1:2526) without a file.
func DevFromEnv(environ []string) (Config, error) {
	return finish(Dev(), environ)
}

// Load reads the file at path (strict: unknown keys are errors), applies env overrides from
// environ and validates.
func Load(path string, environ []string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	return Parse(f, environ)
}

// Parse is Load on a reader.
func Parse(r io.Reader, environ []string) (Config, error) {
	c := Default()
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return Config{}, fmt.Errorf("config: %s", cleanYAMLError(err))
		}
		if len(doc.Content) > 0 {
			if err := decodeNode(doc.Content[0], reflect.ValueOf(&c).Elem(), ""); err != nil {
				return Config{}, err
			}
		}
	}
	return finish(c, environ)
}

// finish applies the environment overrides, normalises and validates: the same last steps for
// a file and for dev mode.
func finish(c Config, environ []string) (Config, error) {
	if err := applyEnv(&c, environ); err != nil {
		return Config{}, err
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeNode decodes n into v key by key, so that an unknown key or a bad value is reported
// with its full name (smtp.max_recipients), which yaml.v3's own errors do not give.
func decodeNode(n *yaml.Node, v reflect.Value, path string) error {
	if v.Kind() == reflect.Struct && v.Type() != reflect.TypeOf(Duration(0)) {
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: line %d: expected a mapping of keys", strings.TrimSuffix(path, "."), n.Line)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if first, dup := seen[k.Value]; dup {
				// yaml.v3 keeps the last of two equal keys when decoding into a Node: one
				// section would silently replace the other.
				return fmt.Errorf("%s%s: line %d: key given twice (first on line %d)", path, k.Value, k.Line, first)
			}
			seen[k.Value] = k.Line
			f, ok := fieldByTag(v, k.Value)
			if !ok {
				return fmt.Errorf("%s%s: line %d: unknown config key", path, k.Value, k.Line)
			}
			if err := decodeNode(val, f, path+k.Value+"."); err != nil {
				return err
			}
		}
		return nil
	}
	if err := val(n, v); err != nil {
		// yaml.v3's own text already starts "line N: "; say the line once.
		msg := cleanYAMLError(err)
		if _, rest, ok := strings.Cut(msg, fmt.Sprintf("line %d: ", n.Line)); ok {
			msg = rest
		}
		return fmt.Errorf("%s: line %d: %s", strings.TrimSuffix(path, "."), n.Line, msg)
	}
	return nil
}

func val(n *yaml.Node, v reflect.Value) error { return n.Decode(v.Addr().Interface()) }

func fieldByTag(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag := yamlName(t.Field(i)); tag != "" && tag == name {
			return v.Field(i), true
		}
		if inline(t.Field(i)) {
			if f, ok := fieldByTag(v.Field(i), name); ok {
				return f, true
			}
		}
	}
	return reflect.Value{}, false
}

// inline reports whether a field is an embedded struct whose keys are its parent's.
func inline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return f.Anonymous && f.Type.Kind() == reflect.Struct && opts == "inline"
}

// yamlName is a field's YAML key, or "" for a field that is not one.
func yamlName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if tag == "-" {
		return ""
	}
	return tag
}

func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	return strings.ReplaceAll(s, "unmarshal errors:\n  ", "")
}

// applyEnv sets fields from MAILGATE_<SECTION>_<KEY>[_<SUBKEY>] variables. The key path is
// matched against the YAML names, so MAILGATE_OUTBOUND_SMTP_HOST reaches outbound.smtp.host.
func applyEnv(c *Config, environ []string) error {
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "MAILGATE_") || name == "MAILGATE_CONFIG" {
			continue
		}
		path := strings.ToLower(strings.TrimPrefix(name, "MAILGATE_"))
		field, key, err := findField(reflect.ValueOf(c).Elem(), path, "")
		if err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
		if err := setFromString(field, val); err != nil {
			return fmt.Errorf("environment %s (%s): %w", name, key, err)
		}
	}
	return nil
}

func findField(v reflect.Value, path, prefix string) (reflect.Value, string, error) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if inline(t.Field(i)) {
			if r, k, err := findField(v.Field(i), path, prefix); err == nil {
				return r, k, nil
			}
			continue
		}
		tag := yamlName(t.Field(i))
		if tag == "" {
			continue
		}
		key := prefix + tag
		f := v.Field(i)
		if path == tag {
			return f, key, nil
		}
		if f.Kind() == reflect.Struct && strings.HasPrefix(path, tag+"_") {
			if r, k, err := findField(f, strings.TrimPrefix(path, tag+"_"), key+"."); err == nil {
				return r, k, nil
			}
		}
	}
	return reflect.Value{}, "", fmt.Errorf("unknown config key %q", strings.ReplaceAll(prefix+path, "_", "."))
}

func setFromString(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration: %q", s)
		}
		f.Set(reflect.ValueOf(Duration(d)))
		return nil
	case []string:
		f.Set(reflect.ValueOf(strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		f.SetInt(n)
	default:
		return errors.New("cannot be set from the environment")
	}
	return nil
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		out = append(out, strings.ToLower(strings.TrimSpace(s)))
	}
	return out
}

func (c *Config) normalize() {
	c.Support.Addresses = lowerAll(c.Support.Addresses)
	c.Support.Aliases = lowerAll(c.Support.Aliases)
	c.Agents.Addresses = lowerAll(c.Agents.Addresses)
	c.Agents.Domains = lowerAll(c.Agents.Domains)
	c.Agents.Notify = lowerAll(c.Agents.Notify)
	c.Support.CommentAddresses = lowerAll(c.Support.CommentAddresses)
	if len(c.Agents.NotifyByQueue) > 0 {
		m := make(map[string][]string, len(c.Agents.NotifyByQueue))
		for q, list := range c.Agents.NotifyByQueue {
			m[strings.ToLower(q)] = lowerAll(list)
		}
		c.Agents.NotifyByQueue = m
	}
	exts := lowerAll(c.Attachments.AllowedExtensions)
	for i, e := range exts {
		if e != "" && !strings.HasPrefix(e, ".") {
			exts[i] = "." + e
		}
	}
	c.Attachments.AllowedExtensions = exts
	c.Log.normalize()
}

func oneOf(key, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s: %q is not one of %s", key, v, strings.Join(allowed, ", "))
}

func checkAddrs(key string, addrs []string) error {
	for _, a := range addrs {
		p, err := mail.ParseAddress(a)
		if err != nil || p.Address != a || p.Name != "" {
			return fmt.Errorf("%s: %q is not a plain email address", key, a)
		}
	}
	return nil
}

// Validate checks every value and names the first key that is wrong.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.SMTP.Listen == "" {
		add(errors.New("smtp.listen: must be set"))
	} else {
		add(c.checkStartup())
	}
	if c.SMTP.Hostname == "" || strings.ContainsAny(c.SMTP.Hostname, " \r\n\t<>@") {
		add(fmt.Errorf("smtp.hostname: %q is not a host name", c.SMTP.Hostname))
	}
	if c.SMTP.MaxMessageBytes < 1024 {
		add(fmt.Errorf("smtp.max_message_bytes: %d is too small (at least 1024)", c.SMTP.MaxMessageBytes))
	}
	if c.SMTP.MaxRecipients < 1 {
		add(fmt.Errorf("smtp.max_recipients: must be at least 1"))
	}
	if c.SMTP.MaxSessions < 1 {
		add(fmt.Errorf("smtp.max_sessions: must be at least 1"))
	}
	if c.SMTP.MaxSessionsPerIP < 1 {
		add(fmt.Errorf("smtp.max_sessions_per_ip: must be at least 1"))
	}
	if c.SMTP.MaxErrors < 1 {
		add(fmt.Errorf("smtp.max_errors: must be at least 1"))
	}
	if c.SMTP.MaxReceived < 1 {
		add(fmt.Errorf("smtp.max_received: must be at least 1"))
	}
	if c.SMTP.ReadTimeout.D() <= 0 {
		add(fmt.Errorf("smtp.read_timeout: must be positive"))
	}
	if (c.SMTP.TLS.CertFile == "") != (c.SMTP.TLS.KeyFile == "") {
		add(errors.New("smtp.tls: cert_file and key_file must be set together"))
	}
	if !c.DevMode && c.Redis.URL == "" {
		add(errors.New("redis.url: required when a config file is used (no fallback to the embedded store)"))
	}
	if c.Redis.WaitReplicas < 0 {
		add(errors.New("redis.wait_replicas: must not be negative"))
	}
	if (c.Redis.WaitAOF || c.Redis.WaitReplicas > 0) && c.Redis.WaitTimeout.D() <= 0 {
		add(errors.New("redis.wait_timeout: must be positive"))
	}
	if len(c.Support.Addresses) == 0 {
		add(errors.New("support.addresses: at least one support address is required"))
	}
	add(checkAddrs("support.addresses", c.Support.Addresses))
	add(checkAddrs("support.aliases", c.Support.Aliases))
	add(checkAddrs("agents.addresses", c.Agents.Addresses))
	add(checkAddrs("agents.notify", c.Agents.Notify))
	add(checkAddrs("support.comment_addresses", c.Support.CommentAddresses))
	for q, list := range c.Agents.NotifyByQueue {
		if !contains(c.Support.Addresses, q) {
			add(fmt.Errorf("agents.notify_by_queue: %q is not one of support.addresses", q))
		}
		add(checkAddrs("agents.notify_by_queue."+q, list))
	}
	if c.Outbound.TemplatesDir != "" {
		if st, err := os.Stat(c.Outbound.TemplatesDir); err != nil || !st.IsDir() {
			add(fmt.Errorf("outbound.templates_dir: %q is not a directory", c.Outbound.TemplatesDir))
		}
	}
	for _, d := range c.Agents.Domains {
		if d == "" || strings.ContainsAny(d, "@ <>") {
			add(fmt.Errorf("agents.domains: %q is not a domain", d))
		}
	}
	if strings.ContainsAny(c.Support.FromName, "\r\n") {
		add(errors.New("support.from_name: must be one line"))
	}
	if c.Tickets.FirstID < 1 {
		add(fmt.Errorf("tickets.first_id: %d must be positive", c.Tickets.FirstID))
	}
	add(oneOf("tickets.reply_policy", c.Tickets.ReplyPolicy, "creator", "organization"))
	add(oneOf("tickets.cc_policy", c.Tickets.CcPolicy, "ignore", "follow"))
	add(oneOf("tickets.not_in_to", c.Tickets.NotInTo, "reject", "ignore"))
	if c.Tickets.AutoCloseAfter.D() < 0 {
		add(errors.New("tickets.auto_close_after: must not be negative"))
	}
	add(c.validateTicketModel())
	add(oneOf("auth.require_for_replies", c.Auth.RequireForReplies, "none", "dkim", "dmarc"))
	if c.Auth.RequireForReplies != "none" && len(c.Auth.TrustedAuthservIDs) == 0 && !c.Auth.VerifyDKIM {
		add(errors.New("auth.trusted_authserv_ids: required when auth.require_for_replies is not none (or set auth.verify_dkim)"))
	}
	if c.Attachments.MaxFileBytes < 1 {
		add(errors.New("attachments.max_file_bytes: must be positive"))
	}
	if c.Attachments.MaxTotalBytes < 1 {
		add(errors.New("attachments.max_total_bytes: must be positive"))
	}
	add(oneOf("outbound.transport", c.Outbound.Transport, "smtp", "file"))
	add(oneOf("outbound.smtp.tls", c.Outbound.SMTP.TLS, "none", "starttls", "implicit"))
	if c.Outbound.Transport == "smtp" && (c.Outbound.SMTP.Host == "" || c.Outbound.SMTP.Port < 1 || c.Outbound.SMTP.Port > 65535) {
		add(errors.New("outbound.smtp: host and a port between 1 and 65535 are required"))
	}
	add(c.Outbound.SMTP.validateAuth(c.Outbound.Transport))
	if c.Outbound.Transport == "file" && c.Outbound.FileDir == "" {
		add(errors.New("outbound.file_dir: required with outbound.transport: file"))
	}
	if c.Outbound.MaxAge.D() <= 0 {
		add(errors.New("outbound.max_age: must be positive"))
	}
	if c.Outbound.Lease.D() < time.Second {
		add(errors.New("outbound.lease: must be at least 1s"))
	}
	if c.Outbound.MaxAutoRepliesPerSenderPerHour < 0 {
		add(errors.New("outbound.max_auto_replies_per_sender_per_hour: must not be negative"))
	}
	add(c.Storage.validateQuarantine())
	if c.Storage.KeepRaw.D() < 0 {
		add(errors.New("storage.keep_raw: must not be negative"))
	}
	errs = append(errs, c.validateSLA()...)
	add(validateDKIM(c.Outbound.DKIM))
	add(validateLog(c.Log))
	add(validateLMTP(c.LMTP))
	return errors.Join(errs...)
}

// IsSupport reports whether addr (lower-case) is one of our addresses: a support address, an
// alias or a comment address.
func (c *Config) IsSupport(addr string) bool {
	return contains(c.Support.Addresses, addr) || contains(c.Support.Aliases, addr) || contains(c.Support.CommentAddresses, addr)
}

// IsComment reports whether addr is a comment address.
func (c *Config) IsComment(addr string) bool { return contains(c.Support.CommentAddresses, addr) }

// NotifyFor returns who hears of new tickets in queue.
func (c *Config) NotifyFor(queue string) []string {
	if list, ok := c.Agents.NotifyByQueue[queue]; ok {
		return list
	}
	return c.Agents.Notify
}

// IsAgent reports whether addr (lower-case) is an agent.
func (c *Config) IsAgent(addr string) bool {
	if contains(c.Agents.Addresses, addr) {
		return true
	}
	_, dom, ok := strings.Cut(addr, "@")
	return ok && contains(c.Agents.Domains, dom)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
