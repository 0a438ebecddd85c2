package deliver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Format selects how a batch is framed in a request body.
type Format int

const (
	// JSON sends a batch as one JSON array: [a,b].
	JSON Format = iota
	// JSONLines sends one alert per "\n"-terminated line: a\nb\n.
	JSONLines
)

func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case JSONLines:
		return "json_lines"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

func (f Format) contentType() string {
	if f == JSONLines {
		return "application/x-ndjson"
	}
	return "application/json"
}

// ParseFormat reads a format name. "json_lines" is Fluent Bit's own
// spelling; "jsonl" and "ndjson" are accepted because people type them.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "json":
		return JSON, nil
	case "json_lines", "jsonl", "ndjson":
		return JSONLines, nil
	}
	return JSON, fmt.Errorf("unknown format %q (accepted: json, json_lines)", s)
}

// Defaults applied by New to zero fields.
const (
	DefaultTimeout       = 5 * time.Second
	DefaultQueueSize     = 1000
	DefaultBatchMax      = 100
	DefaultBatchMaxBytes = 4 << 20
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultSpoolMaxBytes = 64 << 20
	DefaultDrainTimeout  = 5 * time.Second
	DefaultUserAgent     = "k8s-secret-enum"
)

// Options configures a Sender. Zero values take the defaults above.
type Options struct {
	URL     string // http or https receiver endpoint
	Format  Format
	Headers http.Header // added to every request; ours (Content-Type, auth) win on conflict

	// BearerTokenFile is re-read whenever the file changes, because projected
	// service account tokens rotate under a running process.
	BearerTokenFile string
	BasicUser       string
	BasicPassword   string

	TLSCAFile   string // PEM; when set, the only trusted roots
	TLSCertFile string // client certificate, re-read when it changes
	TLSKeyFile  string
	// TLSSkipVerify turns certificate verification off. It is a negative so
	// that the zero Options verify.
	TLSSkipVerify bool

	Timeout       time.Duration // per attempt: connect, TLS, send, and read the response
	QueueSize     int           // alerts held in memory
	BatchMax      int           // alerts per request
	BatchMaxBytes int           // body bytes per request; a larger single alert is refused at Enqueue
	RetryMax      int           // attempts per batch, 0 = until delivered or Close gives up
	BackoffBase   time.Duration
	BackoffMax    time.Duration

	SpoolDir      string // "" = no durable spool
	SpoolMaxBytes int64
	DrainTimeout  time.Duration
	UserAgent     string

	hooks *testHooks
}

// testHooks lets tests inject faults and observe waits; nil in production.
type testHooks struct {
	beforeSend func()                                          // called at the start of every attempt; may panic
	sleep      func(ctx context.Context, d time.Duration) bool // replaces the backoff wait
}

func (o *Options) withDefaults() {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchMax == 0 {
		o.BatchMax = DefaultBatchMax
	}
	if o.BatchMaxBytes == 0 {
		o.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.SpoolDir != "" && o.SpoolMaxBytes == 0 {
		o.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
}

// validate checks again what the config layer should already have checked:
// New is also called by tests and may be by other callers.
func (o *Options) validate() (*url.URL, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q: no host", u.Redacted())
	}
	if o.Format != JSON && o.Format != JSONLines {
		return nil, fmt.Errorf("unknown format %v", o.Format)
	}
	var errs []error
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"timeout", int64(o.Timeout)}, {"queue size", int64(o.QueueSize)},
		{"batch max", int64(o.BatchMax)}, {"batch max bytes", int64(o.BatchMaxBytes)},
		{"backoff base", int64(o.BackoffBase)}, {"backoff max", int64(o.BackoffMax)},
		{"drain timeout", int64(o.DrainTimeout)},
	} {
		if c.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", c.name))
		}
	}
	if o.RetryMax < 0 {
		errs = append(errs, errors.New("retry max must not be negative"))
	}
	if o.SpoolDir != "" && o.SpoolMaxBytes <= 0 {
		errs = append(errs, errors.New("spool max bytes must be positive"))
	}
	if o.BackoffMax < o.BackoffBase {
		errs = append(errs, errors.New("backoff max must not be below backoff base"))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls cert file and key file go together"))
	}
	if o.BearerTokenFile != "" && o.BasicUser != "" {
		errs = append(errs, errors.New("bearer token and basic auth are exclusive"))
	}
	if u.Scheme == "http" && (o.TLSCAFile != "" || o.TLSCertFile != "") {
		errs = append(errs, fmt.Errorf("url %q is plain http but TLS files are set", u.Redacted()))
	}
	return u, errors.Join(errs...)
}

// safeURL names the endpoint in log lines: no userinfo, no query (either may
// carry a credential).
func safeURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
