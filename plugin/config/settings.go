package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/deliver"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// Config is every setting of one plugin instance, in the types of the
// stages that use it: the engine's settings and the sender's options are
// built here, and nowhere else.
type Config struct {
	Engine    detect.Settings
	Delivery  deliver.Options
	RecordKey string
	Prefilter bool

	StateFile         string
	StateSaveInterval time.Duration
	StatsInterval     time.Duration
	LogLevel          logging.Level
	MetricsListen     string

	basicPasswordFile string
}

// Rule is the rule the plugin runs; its exclusions are settings.
var Rule = rule.RapidSecretGet

// MaxNumberedHeaders is how many alert_header_N keys there are.
const MaxNumberedHeaders = 16

// table is the one declaration of every key, in README order.
var table = build()

func build() []Setting {
	var t []Setting
	add := func(key string, sec Section, def, doc string, kind Setting) *Setting {
		kind.Key, kind.Section, kind.Default, kind.Doc = key, sec, def, doc
		t = append(t, kind)
		return &t[len(t)-1]
	}
	eng := func(c *Config) *detect.Settings { return &c.Engine }
	out := func(c *Config) *deliver.Options { return &c.Delivery }

	add("mode", Detection, "stream",
		"`stream` (alert at once, then updates) or `schedule` (Elastic's schedule on event time)",
		choice(func(c *Config) *detect.Mode { return &eng(c).Mode },
			is("stream", detect.ModeStream), is("schedule", detect.ModeSchedule)))
	add("threshold", Detection, strconv.Itoa(Rule.Threshold), "distinct secret names that make an alert",
		integer(1, 1_000_000, func(c *Config) *int { return &eng(c).Threshold }))
	add("window", Detection, "6m", "length of the window (Elastic's lookback)",
		duration(time.Second, func(c *Config) *time.Duration { return &eng(c).Window }))
	add("suppress", Detection, "5m", "stream: mute period after an alert (Elastic's interval)",
		duration(0, func(c *Config) *time.Duration { return &eng(c).Suppress }))
	add("interval", Detection, "5m", "schedule: time between evaluations; both modes: the period `max_alerts` applies to",
		duration(time.Second, func(c *Config) *time.Duration { return &eng(c).Interval }))
	add("allowed_lateness", Detection, "30s",
		"schedule: wait after `T` before evaluating; stream: how far behind the watermark an event is still put in time order",
		duration(0, func(c *Config) *time.Duration { return &eng(c).AllowedLateness }))
	add("reorder_delay", Detection, "0",
		"stream: hold decisions until the watermark passes them by this much, so that alerts do not depend on arrival order within it (see Workers below); `0` decides at once",
		duration(0, func(c *Config) *time.Duration { return &eng(c).ReorderDelay }))
	add("idle_timeout", Detection, "30s",
		"wall-clock time without records after which the watermark follows the wall clock; `0` off",
		duration(0, func(c *Config) *time.Duration { return &eng(c).IdleTimeout }))
	add("max_clock_skew", Detection, "10m", "events further in the future than this are taken as arriving now; `0` off",
		duration(0, func(c *Config) *time.Duration { return &eng(c).MaxClockSkew }))
	add("max_alerts", Detection, "100",
		"alerts per evaluation (schedule) or per `interval` of event time (stream); the rest is counted and logged",
		integer(1, 1_000_000, func(c *Config) *int { return &eng(c).MaxAlerts }))
	add("source_ip", Detection, "peer",
		"which `sourceIPs` entry is the source: `peer` (last: the address that connected to the API server, which a client cannot forge), `client` (first, as forwarded by proxies), `elastic` (single-entry events only, as Elastic's rule)",
		choice(func(c *Config) *rule.SourceIPMode { return &eng(c).SourceIP },
			is("peer", rule.SourceIPPeer), is("client", rule.SourceIPClient), is("elastic", rule.SourceIPElastic)))
	add("group_by", Detection, groupNames(Rule.GroupBy),
		"the fingerprint: `user` with any of `source_ip`, `user_agent` (order does not matter); `user` alone catches a client that rotates user agents or addresses, `user,source_ip` one that rotates user agents; alerts then list every value of a field left out (see [group_by](#group_by-catching-rotating-clients))",
		groupBy())
	for _, x := range Rule.Exclusions {
		add(x.Setting, Detection, strings.Join(x.Default, ","), x.Doc,
			list(func(l []string) error { return rule.CheckExclusion(x, l) },
				func(c *Config) []string { return eng(c).Exclusions[x.Setting] },
				func(c *Config, l []string) {
					if eng(c).Exclusions == nil {
						eng(c).Exclusions = map[string][]string{}
					}
					eng(c).Exclusions[x.Setting] = l
				}))
	}
	add("max_fingerprints", Detection, "100000",
		"fingerprints tracked; past it the least recently active one is evicted (counted)",
		integer(1, math.MaxInt32, func(c *Config) *int { return &eng(c).MaxFingerprints }))
	add("max_names_per_fingerprint", Detection, "1000",
		"distinct names kept per fingerprint; more set `alert.truncated`",
		integer(1, math.MaxInt32, func(c *Config) *int { return &eng(c).MaxNamesPerFingerprint }))

	add("record_key", Input, "log", "body key holding the raw audit JSON line when the record is not parsed",
		text(func(c *Config) *string { return &c.RecordKey }))
	add("prefilter", Input, "off",
		"`on`: read a raw line's events that cannot match (verb not `get`, or without the bytes `secrets` and `\\u`) for their time only; the same alerts, watermark and counters, but measured no cheaper (see [Inputs](#inputs))",
		boolean(func(c *Config) *bool { return &c.Prefilter }))

	add("alert_url", Delivery, "",
		"`http://` or `https://` URL alerts are POSTed to; redirects are never followed",
		alertURL()).DefaultDoc = "(required)"
	add("alert_format", Delivery, "json",
		"`json`: a JSON array of ECS alerts per request; `json_lines`: one ECS alert per line (`application/x-ndjson`); `alertmanager`, `splunk_hec`, `slack`, `falco`: that destination's format (see [Destinations](#destinations))",
		choice(func(c *Config) *format.Name { return &out(c).Format.Name },
			is("json", format.JSON), is("json_lines", format.JSONLines), is("alertmanager", format.Alertmanager),
			is("splunk_hec", format.SplunkHEC), is("slack", format.Slack), is("falco", format.Falco)))
	add("alert_generator_url", Delivery, "",
		"`alertmanager`: the alerts' `generatorURL`, an absolute URL (a dashboard, a runbook)",
		absoluteURL(func(c *Config) *string { return &out(c).Format.GeneratorURL }))
	add("alert_splunk_token_file", Delivery, "",
		"`splunk_hec`: file holding the HEC token, sent as `Authorization: Splunk <token>`, re-read when it changes",
		text(func(c *Config) *string { return &out(c).SplunkTokenFile }))
	add("alert_splunk_index", Delivery, "", "`splunk_hec`: the events' `index` (unset: the token's default index)",
		text(func(c *Config) *string { return &out(c).Format.Index }))
	add("alert_splunk_source", Delivery, "k8s-secret-enum", "`splunk_hec`: the events' `source`",
		text(func(c *Config) *string { return &out(c).Format.Source }))
	add("alert_splunk_sourcetype", Delivery, "_json", "`splunk_hec`: the events' `sourcetype`",
		text(func(c *Config) *string { return &out(c).Format.Sourcetype }))
	add("alert_hostname", Delivery, "",
		"`splunk_hec`: the events' `host`; `falco`: the events' `hostname` (in a DaemonSet, `${NODE_NAME}` from the downward API)",
		text(func(c *Config) *string { return &out(c).Format.Host })).DefaultDoc = "the host name"
	add("alert_max_names", Delivery, strconv.Itoa(format.DefaultMaxNames),
		"`alertmanager`, `slack`, `falco`: secret names (and namespaces) listed per alert; the rest is counted (`and 12 more`)",
		integer(1, 1000, func(c *Config) *int { return &out(c).Format.MaxNames }))
	add("alert_headers", Delivery, "",
		"extra headers: `Name: value, Other: value` (a comma splits only before another `Name:`), or a JSON object `{\"Name\": \"value\"}`",
		headerList())
	for i := 1; i <= MaxNumberedHeaders; i++ {
		add("alert_header_"+strconv.Itoa(i), Delivery, "",
			"one `Name: value` each, for values holding both commas and colons", numberedHeader())
	}
	add("alert_bearer_token_file", Delivery, "",
		"file holding a bearer token, re-read when it changes (projected tokens rotate)",
		text(func(c *Config) *string { return &out(c).BearerTokenFile }))
	add("alert_basic_auth_user", Delivery, "", "basic auth user (with a password or a password file)",
		text(func(c *Config) *string { return &out(c).BasicUser }))
	add("alert_basic_auth_password", Delivery, "", "basic auth password",
		secret(text(func(c *Config) *string { return &out(c).BasicPassword })))
	add("alert_basic_auth_password_file", Delivery, "", "file holding the basic auth password",
		text(func(c *Config) *string { return &c.basicPasswordFile }))
	add("alert_hmac_secret_file", Delivery, "",
		"file holding a key (trimmed) every request is signed with: `X-K8s-Secret-Enum-Timestamp` and `X-K8s-Secret-Enum-Signature` (see [Signed deliveries](#signed-deliveries)); re-read when it changes",
		text(func(c *Config) *string { return &out(c).HMACSecretFile }))
	add("alert_tls_ca_file", Delivery, "", "PEM CA bundle trusted for the endpoint (only it, when set)",
		text(func(c *Config) *string { return &out(c).TLSCAFile })).DefaultDoc = "system roots"
	add("alert_tls_cert_file", Delivery, "", "client certificate for mutual TLS (PEM)",
		text(func(c *Config) *string { return &out(c).TLSCertFile }))
	add("alert_tls_key_file", Delivery, "", "the client certificate's key (PEM)",
		text(func(c *Config) *string { return &out(c).TLSKeyFile }))
	add("alert_tls_verify", Delivery, "on", "`off` disables certificate verification (logged as a warning)",
		boolean(func(c *Config) *bool { return &out(c).TLSVerify }))
	add("alert_timeout", Delivery, "5s", "per request",
		duration(time.Millisecond, func(c *Config) *time.Duration { return &out(c).Timeout }))
	add("alert_queue_size", Delivery, "10000", "alerts held in memory for delivery; more are dropped (counted, logged)",
		integer(1, 10_000_000, func(c *Config) *int { return &out(c).QueueSize }))
	add("alert_batch_size", Delivery, "100", "alerts per request",
		integer(1, 10_000, func(c *Config) *int { return &out(c).BatchMax }))
	add("alert_retry_max", Delivery, "10",
		"retries of a failed request (network errors, 408, 429, 5xx), or `no_limits`; other 4xx are not retried",
		retryMax())
	add("alert_retry_backoff", Delivery, "1s",
		"first wait between retries; it doubles each time, with jitter, and `Retry-After` is honoured",
		duration(time.Millisecond, func(c *Config) *time.Duration { return &out(c).BackoffBase }))
	add("alert_retry_backoff_max", Delivery, "1m", "longest wait between retries",
		duration(time.Millisecond, func(c *Config) *time.Duration { return &out(c).BackoffMax }))
	add("alert_drain_timeout", Delivery, "5s",
		"at exit, how long pending alerts may still be sent (keep it under Fluent Bit's `Grace`)",
		duration(0, func(c *Config) *time.Duration { return &out(c).DrainTimeout }))
	add("alert_spool_dir", Delivery, "",
		"durable spool: each alert is written (fsync) here before it counts as queued and removed after a 2xx; delivered first after a restart",
		text(func(c *Config) *string { return &out(c).SpoolDir }))
	add("alert_spool_max_bytes", Delivery, "64M", "bound of the spool",
		size(4096, func(c *Config) *int64 { return &out(c).SpoolMaxBytes }))

	add("state_file", Operation, "",
		"save the detector's windows, mutes and watermark here at exit and every `state_save_interval` (atomic rename); restored at start unless older than the window",
		text(func(c *Config) *string { return &c.StateFile }))
	add("state_save_interval", Operation, "1m", "how often the state file is written",
		duration(time.Second, func(c *Config) *time.Duration { return &c.StateSaveInterval }))
	add("stats_interval", Operation, "1m", "one log line of counters every interval and at exit; `0` at exit only",
		duration(0, func(c *Config) *time.Duration { return &c.StatsInterval }))
	add("plugin_log_level", Operation, "info",
		"`off`, `error`, `warn`, `info`, `debug`, `trace` (Fluent Bit keeps `log_level` to itself)",
		choice(func(c *Config) *logging.Level { return &c.LogLevel },
			is("off", logging.Off), is("error", logging.Error), is("warn", logging.Warn), is("warning", logging.Warn),
			is("info", logging.Info), is("debug", logging.Debug), is("trace", logging.Trace))).EnvDefault = "FLB_LOG_LEVEL"
	add("metrics_listen", Operation, "",
		"`host:port` to serve Prometheus metrics (`/metrics`) and `/healthz` on, e.g. `0.0.0.0:2021`; off when unset (see Metrics below)",
		text(func(c *Config) *string { return &c.MetricsListen }))
	return t
}

// groupBy reads group_by: a subset of the rule's group-by fields that holds
// the user (see detect.Settings.GroupBy), kept in the rule's order.
func groupBy() Setting {
	var names []string
	for _, f := range Rule.GroupBy {
		names = append(names, f.GroupName())
	}
	return Setting{
		Accepted: "a comma-separated list of " + strings.Join(names, ", ") + " holding user",
		set: func(c *Config, v string) error {
			chosen := map[rule.Field]bool{}
			for _, w := range SplitList(v) {
				f := rule.FieldNone
				for _, g := range Rule.GroupBy {
					if strings.EqualFold(w, g.GroupName()) {
						f = g
					}
				}
				switch {
				case f == rule.FieldNone:
					return fmt.Errorf("%q is not a field to group by; accepted: %s", w, strings.Join(names, ", "))
				case chosen[f]:
					return fmt.Errorf("%s is listed twice", f.GroupName())
				}
				chosen[f] = true
			}
			if !chosen[rule.FieldUser] {
				return errors.New("must include user: an alert names one user (the rule still requires a user and a source address, whatever the grouping)")
			}
			c.Engine.GroupBy = nil
			for _, g := range Rule.GroupBy {
				if chosen[g] {
					c.Engine.GroupBy = append(c.Engine.GroupBy, g)
				}
			}
			return nil
		},
		show: func(c *Config) string {
			if c.Engine.GroupBy == nil {
				return groupNames(Rule.GroupBy)
			}
			return groupNames(c.Engine.GroupBy)
		},
	}
}

func groupNames(fields []rule.Field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.GroupName()
	}
	return strings.Join(names, ",")
}

// absoluteURL is a URL with a scheme and a host, as Alertmanager's
// generatorURL must be to link anywhere.
func absoluteURL(at func(*Config) *string) Setting {
	return Setting{
		Accepted: "an absolute URL such as https://grafana.example.com/d/k8s-secret-enum",
		set: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(v, " \t\r\n") {
				return errRejected
			}
			*at(c) = v
			return nil
		},
		show: func(c *Config) string { return *at(c) },
	}
}

func secret(s Setting) Setting {
	s.Secret = true
	return s
}

// Keys lists every key, in table order.
func Keys() []string {
	keys := make([]string, len(table))
	for i, s := range table {
		keys[i] = s.Key
	}
	return keys
}

// Settings returns the table, for documentation.
func Settings() []Setting { return append([]Setting(nil), table...) }
