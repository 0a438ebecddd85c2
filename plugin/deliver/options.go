package deliver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// Request bounds the sender keeps to itself: not settings, but the limits
// of a sane request.
const (
	maxBatchBytes = 4 << 20 // body bytes per request; a larger single alert is refused at Enqueue
	userAgent     = "k8s-secret-enum"
)

// NoRetryLimit retries a batch until it is delivered or Close gives up.
const NoRetryLimit = -1

// Options configures a Sender. They come checked from the plugin's
// settings table (plugin/config), which declares each one's key, default
// and rules.
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
	TLSVerify   bool

	Timeout      time.Duration // per attempt: connect, TLS, send, and read the response
	QueueSize    int           // alerts held in memory
	BatchMax     int           // alerts per request
	RetryMax     int           // retries per batch, or NoRetryLimit
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	DrainTimeout time.Duration

	SpoolDir      string // "" = no durable spool
	SpoolMaxBytes int64

	hooks *testHooks
}

// testHooks lets tests inject faults and observe waits; nil in production.
type testHooks struct {
	maxBatchBytes int                                             // replaces maxBatchBytes when set
	beforeSend    func()                                          // called at the start of every attempt; may panic
	sleep         func(ctx context.Context, d time.Duration) bool // replaces the backoff wait
}

func (o *Options) maxBatchBytes() int {
	if o.hooks != nil && o.hooks.maxBatchBytes > 0 {
		return o.hooks.maxBatchBytes
	}
	return maxBatchBytes
}

// safeURL names the endpoint in log lines: no userinfo, no query (either may
// carry a credential).
func safeURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
