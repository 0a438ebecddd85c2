package deliver

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

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
	URL string // http or https receiver endpoint
	// Format renders each alert (enqueued and spooled as ECS JSON) for the
	// destination when it is put in a batch, and frames the batch.
	Format  format.Format
	Headers http.Header // added to every request; ours (Content-Type, auth) win on conflict

	// BearerTokenFile is re-read whenever the file changes, because projected
	// service account tokens rotate under a running process.
	BearerTokenFile string
	// SplunkTokenFile holds a Splunk HEC token ("Authorization: Splunk
	// <token>"), re-read like BearerTokenFile; the two exclude each other.
	SplunkTokenFile string
	BasicUser       string
	BasicPassword   string

	// HMACSecretFile holds the key every request is signed with (see
	// sign); re-read when it changes, so the key rotates without a restart.
	HMACSecretFile string

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
	now           func() time.Time                                // replaces the clock of signatures
}

func (o *Options) maxBatchBytes() int {
	if o.hooks != nil && o.hooks.maxBatchBytes > 0 {
		return o.hooks.maxBatchBytes
	}
	return maxBatchBytes
}

func (o *Options) now() time.Time {
	if o.hooks != nil && o.hooks.now != nil {
		return o.hooks.now()
	}
	return time.Now()
}

// batchMax is how many alerts a request carries: BatchMax, or one for the
// destinations that take one event per request.
func (o *Options) batchMax() int {
	if o.Format.Framing() == format.Single {
		return 1
	}
	return o.BatchMax
}

// safeURL names the endpoint in log lines: no userinfo, no query (either may
// carry a credential), and no path when the path is the credential (a
// Slack webhook).
func safeURL(u *url.URL, f *format.Format) string {
	if f.URLIsSecret() {
		return u.Scheme + "://" + u.Host + "/…"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}
