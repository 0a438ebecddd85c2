// Package config reads the plugin's Fluent Bit properties into one typed
// struct, with defaults and validation in one place. It reads through a
// one-method Getter so that every rule is table-tested with a plain map.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// Keys of the plugin (the engine's keys are in detect.SettingKeys).
//
// Fluent Bit consumes some property names before a Go plugin sees them
// (log_level, host, port, tls*, net.*, workers, retry_limit, match, alias):
// the plugin's own level is therefore plugin_log_level, and every delivery
// key starts with alert_.
const (
	KeyRecordKey              = "record_key"
	KeyAlertURL               = "alert_url"
	KeyAlertFormat            = "alert_format"
	KeyAlertHeaders           = "alert_headers"
	KeyAlertHeaderN           = "alert_header_" // alert_header_1 … alert_header_16
	KeyAlertBearerTokenFile   = "alert_bearer_token_file"
	KeyAlertBasicAuthUser     = "alert_basic_auth_user"
	KeyAlertBasicAuthPassword = "alert_basic_auth_password"
	KeyAlertBasicAuthPassFile = "alert_basic_auth_password_file"
	KeyAlertTLSCAFile         = "alert_tls_ca_file"
	KeyAlertTLSCertFile       = "alert_tls_cert_file"
	KeyAlertTLSKeyFile        = "alert_tls_key_file"
	KeyAlertTLSVerify         = "alert_tls_verify"
	KeyAlertTimeout           = "alert_timeout"
	KeyAlertQueueSize         = "alert_queue_size"
	KeyAlertBatchSize         = "alert_batch_size"
	KeyAlertRetryMax          = "alert_retry_max"
	KeyAlertRetryBackoff      = "alert_retry_backoff"
	KeyAlertRetryBackoffMax   = "alert_retry_backoff_max"
	KeyAlertDrainTimeout      = "alert_drain_timeout"
	KeyAlertSpoolDir          = "alert_spool_dir"
	KeyAlertSpoolMaxBytes     = "alert_spool_max_bytes"
	KeyStateFile              = "state_file"
	KeyStateSaveInterval      = "state_save_interval"
	KeyStatsInterval          = "stats_interval"
	KeyLogLevel               = "plugin_log_level"
)

// MaxNumberedHeaders is how many alert_header_N keys are read.
const MaxNumberedHeaders = 16

// Format is the body of an alert request.
type Format string

const (
	FormatJSON      Format = "json"       // a JSON array of alerts per request
	FormatJSONLines Format = "json_lines" // one alert per line
)

// Config is every setting of one plugin instance.
type Config struct {
	Engine    detect.Settings
	RecordKey string

	AlertURL          string
	AlertFormat       Format
	AlertHeaders      http.Header
	BearerTokenFile   string
	BasicAuthUser     string
	BasicAuthPassword string
	TLSCAFile         string
	TLSCertFile       string
	TLSKeyFile        string
	TLSVerify         bool
	Timeout           time.Duration
	QueueSize         int
	BatchSize         int
	// RetryMax is how many times a failed request is retried; -1 retries
	// until the drain timeout at exit (no_limits).
	RetryMax        int
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	DrainTimeout    time.Duration
	SpoolDir        string
	SpoolMaxBytes   int64

	StateFile         string
	StateSaveInterval time.Duration
	StatsInterval     time.Duration
	LogLevel          logging.Level
}

// Profile selects what a caller needs: the plugin needs an alert_url and
// real files; the replay command prints alerts and only checks syntax.
type Profile int

const (
	Plugin Profile = iota
	Replay
)

// Defaults are the values of unset keys.
func Defaults() Config {
	return Config{
		Engine:            detect.DefaultSettings(detect.RapidSecretGet),
		RecordKey:         "log",
		AlertFormat:       FormatJSON,
		AlertHeaders:      http.Header{},
		TLSVerify:         true,
		Timeout:           5 * time.Second,
		QueueSize:         10000,
		BatchSize:         100,
		RetryMax:          10,
		RetryBackoff:      time.Second,
		RetryBackoffMax:   time.Minute,
		DrainTimeout:      5 * time.Second,
		SpoolMaxBytes:     64 << 20,
		StateSaveInterval: time.Minute,
		StatsInterval:     time.Minute,
		LogLevel:          logging.Info,
	}
}

// Keys lists every key the plugin reads, engine keys first.
func Keys() []string {
	keys := detect.SettingKeys(detect.RapidSecretGet)
	keys = append(keys, KeyRecordKey, KeyAlertURL, KeyAlertFormat, KeyAlertHeaders)
	for i := 1; i <= MaxNumberedHeaders; i++ {
		keys = append(keys, KeyAlertHeaderN+strconv.Itoa(i))
	}
	return append(keys, KeyAlertBearerTokenFile, KeyAlertBasicAuthUser, KeyAlertBasicAuthPassword,
		KeyAlertBasicAuthPassFile, KeyAlertTLSCAFile, KeyAlertTLSCertFile, KeyAlertTLSKeyFile, KeyAlertTLSVerify,
		KeyAlertTimeout, KeyAlertQueueSize, KeyAlertBatchSize, KeyAlertRetryMax, KeyAlertRetryBackoff,
		KeyAlertRetryBackoffMax, KeyAlertDrainTimeout, KeyAlertSpoolDir, KeyAlertSpoolMaxBytes,
		KeyStateFile, KeyStateSaveInterval, KeyStatsInterval, KeyLogLevel)
}

// Lister is a Getter that can also list the keys it holds (the replay
// command's -p flags can; Fluent Bit's property API cannot).
type Lister interface {
	detect.Getter
	Keys() []string
}

// MapGetter holds properties in a map, keys compared case-insensitively
// as Fluent Bit does.
type MapGetter map[string]string

func (m MapGetter) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func (m MapGetter) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Parse reads and validates every key. All problems are reported at once
// (errors.Join of *detect.ConfigError), each naming the key, the value and
// what is accepted.
func Parse(g detect.Getter, profile Profile) (Config, error) {
	c := Defaults()
	p := &parser{g: g}
	var err error
	c.Engine, err = detect.ParseSettings(detect.RapidSecretGet, g)
	p.errs = append(p.errs, err)

	p.str(KeyRecordKey, &c.RecordKey)
	p.alertURL(&c, profile)
	if v := p.get(KeyAlertFormat); v != "" {
		switch Format(strings.ToLower(v)) {
		case FormatJSON:
			c.AlertFormat = FormatJSON
		case FormatJSONLines:
			c.AlertFormat = FormatJSONLines
		default:
			p.fail(KeyAlertFormat, v, "accepted: json (a JSON array per request), json_lines (one alert per line)")
		}
	}
	p.headers(&c)
	p.str(KeyAlertBearerTokenFile, &c.BearerTokenFile)
	p.str(KeyAlertBasicAuthUser, &c.BasicAuthUser)
	p.str(KeyAlertBasicAuthPassword, &c.BasicAuthPassword)
	passFile := p.get(KeyAlertBasicAuthPassFile)
	p.str(KeyAlertTLSCAFile, &c.TLSCAFile)
	p.str(KeyAlertTLSCertFile, &c.TLSCertFile)
	p.str(KeyAlertTLSKeyFile, &c.TLSKeyFile)
	p.boolean(KeyAlertTLSVerify, &c.TLSVerify)
	p.duration(KeyAlertTimeout, &c.Timeout, time.Millisecond)
	p.integer(KeyAlertQueueSize, &c.QueueSize, 1, 10_000_000)
	p.integer(KeyAlertBatchSize, &c.BatchSize, 1, 10_000)
	if v := p.get(KeyAlertRetryMax); v != "" {
		if strings.EqualFold(v, "no_limits") || strings.EqualFold(v, "false") {
			c.RetryMax = -1
		} else if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.RetryMax = n
		} else {
			p.fail(KeyAlertRetryMax, v, "accepted: an integer ≥ 0, or no_limits (retry until the drain timeout at exit)")
		}
	}
	p.duration(KeyAlertRetryBackoff, &c.RetryBackoff, time.Millisecond)
	p.duration(KeyAlertRetryBackoffMax, &c.RetryBackoffMax, time.Millisecond)
	p.duration(KeyAlertDrainTimeout, &c.DrainTimeout, 0)
	p.str(KeyAlertSpoolDir, &c.SpoolDir)
	if v := p.get(KeyAlertSpoolMaxBytes); v != "" {
		if n, err := ParseSize(v); err == nil && n >= 4096 {
			c.SpoolMaxBytes = n
		} else {
			p.fail(KeyAlertSpoolMaxBytes, v, `accepted: a size ≥ 4096 bytes such as "4096", "512K", "64M", "1G"`)
		}
	}
	p.str(KeyStateFile, &c.StateFile)
	p.duration(KeyStateSaveInterval, &c.StateSaveInterval, time.Second)
	p.duration(KeyStatsInterval, &c.StatsInterval, 0)
	if v := p.get(KeyLogLevel); v != "" {
		if l, err := logging.ParseLevel(v); err == nil {
			c.LogLevel = l
		} else {
			p.fail(KeyLogLevel, v, "accepted: "+logging.Accepted)
		}
	} else if v := os.Getenv("FLB_LOG_LEVEL"); v != "" {
		if l, err := logging.ParseLevel(v); err == nil {
			c.LogLevel = l
		}
	}

	p.validate(&c, passFile, profile)
	p.unknownKeys(g)
	return c, errors.Join(p.errs...)
}

func (p *parser) alertURL(c *Config, profile Profile) {
	v := p.get(KeyAlertURL)
	if v == "" {
		if profile == Plugin {
			p.fail(KeyAlertURL, "", "required: the http:// or https:// URL alerts are POSTed to")
		}
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(KeyAlertURL, v, "accepted: an absolute http:// or https:// URL")
		return
	}
	if u.User != nil {
		p.fail(KeyAlertURL, redactURL(u), "credentials in the URL would be logged; use alert_basic_auth_user and alert_basic_auth_password")
		return
	}
	c.AlertURL = u.String()
}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// headerSplit finds the commas that separate two "Name: value" pairs: a
// comma inside a value (Accept: a, b) is not followed by "Name:".
var headerSplit = regexp.MustCompile(",\\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\\s*:")

// Headers the sender sets itself.
var reservedHeaders = map[string]bool{"Host": true, "Content-Length": true, "Content-Type": true,
	"Transfer-Encoding": true, "Connection": true}

func (p *parser) headers(c *Config) {
	add := func(key, name, value, raw string) {
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		switch {
		case !headerName.MatchString(name):
			p.fail(key, raw, fmt.Sprintf("%q is not a valid header name", name))
		case reservedHeaders[textproto.CanonicalMIMEHeaderKey(name)]:
			p.fail(key, raw, fmt.Sprintf("%s is set by the plugin and cannot be overridden", textproto.CanonicalMIMEHeaderKey(name)))
		case strings.ContainsAny(value, "\r\n"):
			p.fail(key, raw, "header values cannot contain line breaks")
		default:
			c.AlertHeaders.Add(name, value)
		}
	}
	pair := func(key, s, raw string) {
		name, value, ok := strings.Cut(s, ":")
		if !ok {
			p.fail(key, raw, `accepted: "Name: value" pairs separated by commas, or a JSON object {"Name": "value"}`)
			return
		}
		add(key, name, value, raw)
	}
	if v := p.get(KeyAlertHeaders); v != "" {
		if strings.HasPrefix(v, "{") {
			var m map[string]string
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				p.fail(KeyAlertHeaders, "<redacted>", `accepted: a JSON object of strings {"Name": "value"}: `+err.Error())
			} else {
				names := make([]string, 0, len(m))
				for n := range m {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					add(KeyAlertHeaders, n, m[n], "<redacted>")
				}
			}
		} else {
			start := 0
			for _, loc := range headerSplit.FindAllStringIndex(v, -1) {
				pair(KeyAlertHeaders, v[start:loc[0]], redactHeaders(v))
				start = loc[0] + 1
			}
			pair(KeyAlertHeaders, v[start:], redactHeaders(v))
		}
	}
	for i := 1; i <= MaxNumberedHeaders; i++ {
		key := KeyAlertHeaderN + strconv.Itoa(i)
		if v := p.get(key); v != "" {
			pair(key, v, redactHeaders(v))
		}
	}
}

// redactHeaders keeps the header names of a value for error messages:
// header values often are credentials.
func redactHeaders(v string) string {
	var names []string
	for _, part := range strings.Split(v, ",") {
		if name, _, ok := strings.Cut(part, ":"); ok {
			names = append(names, strings.TrimSpace(name)+": <redacted>")
		}
	}
	if len(names) == 0 {
		return "<redacted>"
	}
	return strings.Join(names, ", ")
}

func (p *parser) validate(c *Config, passFile string, profile Profile) {
	checkFiles := profile == Plugin
	if passFile != "" {
		if c.BasicAuthPassword != "" {
			p.fail(KeyAlertBasicAuthPassFile, passFile, "set either alert_basic_auth_password or alert_basic_auth_password_file, not both")
		} else if checkFiles {
			b, err := os.ReadFile(passFile)
			if err != nil {
				p.fail(KeyAlertBasicAuthPassFile, passFile, "cannot read the file: "+err.Error())
			}
			c.BasicAuthPassword = strings.TrimSpace(string(b))
		} else {
			c.BasicAuthPassword = "<from file>"
		}
	}
	if (c.BasicAuthUser == "") != (c.BasicAuthPassword == "") {
		p.fail(KeyAlertBasicAuthUser, c.BasicAuthUser, "alert_basic_auth_user and a password (alert_basic_auth_password or _file) go together")
	}
	if c.BearerTokenFile != "" {
		if c.BasicAuthUser != "" {
			p.fail(KeyAlertBearerTokenFile, c.BearerTokenFile, "use either a bearer token or basic auth, not both")
		}
		if checkFiles {
			if _, err := os.ReadFile(c.BearerTokenFile); err != nil {
				p.fail(KeyAlertBearerTokenFile, c.BearerTokenFile, "cannot read the file: "+err.Error())
			}
		}
	}
	if (c.BearerTokenFile != "" || c.BasicAuthUser != "") && c.AlertHeaders.Get("Authorization") != "" {
		p.fail(KeyAlertHeaders, "Authorization: <redacted>", "an Authorization header conflicts with alert_bearer_token_file / alert_basic_auth_user")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.fail(KeyAlertTLSCertFile, c.TLSCertFile, "alert_tls_cert_file and alert_tls_key_file go together")
	}
	tlsSet := c.TLSCAFile != "" || c.TLSCertFile != ""
	if tlsSet && c.AlertURL != "" && strings.HasPrefix(c.AlertURL, "http://") {
		p.fail(KeyAlertURL, c.AlertURL, "alert_tls_* settings need an https:// URL")
	}
	if checkFiles && c.TLSCAFile != "" {
		if b, err := os.ReadFile(c.TLSCAFile); err != nil {
			p.fail(KeyAlertTLSCAFile, c.TLSCAFile, "cannot read the file: "+err.Error())
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			p.fail(KeyAlertTLSCAFile, c.TLSCAFile, "no PEM certificate found in the file")
		}
	}
	if checkFiles && c.TLSCertFile != "" && c.TLSKeyFile != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
			p.fail(KeyAlertTLSCertFile, c.TLSCertFile, "cannot load the certificate and key: "+err.Error())
		}
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		p.fail(KeyAlertRetryBackoffMax, c.RetryBackoffMax.String(), "must be at least alert_retry_backoff ("+c.RetryBackoff.String()+")")
	}
	if c.RecordKey == "" {
		c.RecordKey = "log"
	}
}

// Misspellings Fluent Bit would accept silently (it has no list of a Go
// plugin's keys): hyphenated forms of our keys and names other outputs use.
var aliases = map[string]string{
	"url": KeyAlertURL, "uri": KeyAlertURL, "endpoint": KeyAlertURL, "webhook_url": KeyAlertURL,
	"alert_uri": KeyAlertURL, "alert_endpoint": KeyAlertURL, "format": KeyAlertFormat,
	"headers": KeyAlertHeaders, "header": KeyAlertHeaders, "alert_header": KeyAlertHeaders,
	"bearer_token_file": KeyAlertBearerTokenFile, "http_user": KeyAlertBasicAuthUser,
	"http_passwd": KeyAlertBasicAuthPassword, "timeout": KeyAlertTimeout, "batch_size": KeyAlertBatchSize,
	"queue_size": KeyAlertQueueSize, "spool_dir": KeyAlertSpoolDir, "exclude_user": "exclude_users",
	"exclude_name": "exclude_names", "exclude_source_ip": "exclude_source_ips", "exclude_ips": "exclude_source_ips",
	"sourceip": detect.KeySourceIP, "source_ips": detect.KeySourceIP, "windows": detect.KeyWindow,
	"loglevel": KeyLogLevel, "plugin_loglevel": KeyLogLevel,
}

func (p *parser) unknownKeys(g detect.Getter) {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	if l, ok := g.(Lister); ok {
		for _, k := range l.Keys() {
			lk := strings.ToLower(k)
			if known[lk] {
				continue
			}
			hint := ""
			if s := suggest(lk); s != "" {
				hint = "; did you mean " + s + "?"
			}
			p.fail(k, "<not shown>", "unknown key"+hint)
		}
		return
	}
	// Through Fluent Bit only known names can be asked for: probe the
	// likely mistakes.
	probe := func(k, want string) {
		if g.Get(k) != "" {
			p.fail(k, "<not shown>", "unknown key; did you mean "+want+"?")
		}
	}
	for _, k := range Keys() {
		if strings.Contains(k, "_") {
			probe(strings.ReplaceAll(k, "_", "-"), k)
		}
	}
	for k, want := range aliases {
		probe(k, want)
	}
}

func suggest(k string) string {
	if want, ok := aliases[k]; ok {
		return want
	}
	if h := strings.ReplaceAll(k, "-", "_"); h != k {
		for _, known := range Keys() {
			if known == h {
				return known
			}
		}
	}
	return ""
}

// ParseSize reads a byte size the way Fluent Bit does: a number with an
// optional K, M or G suffix (powers of 1024), with or without a B.
func ParseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.TrimSuffix(s, "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n * mult, nil
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("<redacted>")
	}
	return c.String()
}

type parser struct {
	g    detect.Getter
	errs []error
}

func (p *parser) get(key string) string { return strings.TrimSpace(p.g.Get(key)) }

func (p *parser) fail(key, value, reason string) {
	p.errs = append(p.errs, &detect.ConfigError{Key: key, Value: value, Reason: reason})
}

func (p *parser) str(key string, dst *string) {
	if v := p.get(key); v != "" {
		*dst = v
	}
}

func (p *parser) integer(key string, dst *int, min, max int) {
	v := p.get(key)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail(key, v, fmt.Sprintf("accepted: an integer from %d to %d", min, max))
		return
	}
	*dst = n
}

func (p *parser) duration(key string, dst *time.Duration, min time.Duration) {
	v := p.get(key)
	if v == "" {
		return
	}
	d, err := detect.ParseDuration(v)
	if err != nil || d < min {
		p.fail(key, v, fmt.Sprintf(`accepted: a duration ≥ %s such as "500ms", "5s", "1m", or a number of seconds`, min))
		return
	}
	*dst = d
}

// boolean reads Fluent Bit's boolean words.
func (p *parser) boolean(key string, dst *bool) {
	v := p.get(key)
	if v == "" {
		return
	}
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		*dst = true
	case "off", "false", "no", "0":
		*dst = false
	default:
		p.fail(key, v, "accepted: on, off (also true/false, yes/no)")
	}
}

// String is the effective configuration in one line for the start-up log,
// with every credential redacted.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s record_key=%s alert_url=%s alert_format=%s", c.Engine, c.RecordKey, c.AlertURL, c.AlertFormat)
	if len(c.AlertHeaders) > 0 {
		names := make([]string, 0, len(c.AlertHeaders))
		for n := range c.AlertHeaders {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, " alert_headers=%s(values redacted)", strings.Join(names, ","))
	}
	if c.BearerTokenFile != "" {
		fmt.Fprintf(&b, " alert_bearer_token_file=%s", c.BearerTokenFile)
	}
	if c.BasicAuthUser != "" {
		fmt.Fprintf(&b, " alert_basic_auth_user=%s alert_basic_auth_password=<redacted>", c.BasicAuthUser)
	}
	if c.TLSCAFile != "" {
		fmt.Fprintf(&b, " alert_tls_ca_file=%s", c.TLSCAFile)
	}
	if c.TLSCertFile != "" {
		fmt.Fprintf(&b, " alert_tls_cert_file=%s alert_tls_key_file=%s", c.TLSCertFile, c.TLSKeyFile)
	}
	retry := strconv.Itoa(c.RetryMax)
	if c.RetryMax < 0 {
		retry = "no_limits"
	}
	fmt.Fprintf(&b, " alert_tls_verify=%s alert_timeout=%s alert_queue_size=%d alert_batch_size=%d alert_retry_max=%s alert_retry_backoff=%s alert_retry_backoff_max=%s alert_drain_timeout=%s",
		onOff(c.TLSVerify), c.Timeout, c.QueueSize, c.BatchSize, retry, c.RetryBackoff, c.RetryBackoffMax, c.DrainTimeout)
	if c.SpoolDir != "" {
		fmt.Fprintf(&b, " alert_spool_dir=%s alert_spool_max_bytes=%d", c.SpoolDir, c.SpoolMaxBytes)
	}
	if c.StateFile != "" {
		fmt.Fprintf(&b, " state_file=%s state_save_interval=%s", c.StateFile, c.StateSaveInterval)
	}
	fmt.Fprintf(&b, " stats_interval=%s plugin_log_level=%s", c.StatsInterval, c.LogLevel)
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
