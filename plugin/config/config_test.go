package config

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/deliver"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// fluentBit answers like Fluent Bit's property API: case-insensitive, ""
// when absent, and no way to list keys.
type fluentBit map[string]string

func (m fluentBit) Get(key string) string { return MapGetter(m).Get(key) }

func base(kv ...string) fluentBit {
	m := fluentBit{"alert_url": "http://127.0.0.1:9880/alerts"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestDefaults(t *testing.T) {
	t.Setenv("FLB_LOG_LEVEL", "")
	c, err := Parse(base(), Plugin)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Engine
	if e.Mode != detect.ModeStream || e.Threshold != 3 || e.Window != 6*time.Minute || e.Suppress != 5*time.Minute ||
		e.Interval != 5*time.Minute || e.AllowedLateness != 30*time.Second || e.ReorderDelay != 0 ||
		e.IdleTimeout != 30*time.Second || e.MaxClockSkew != 10*time.Minute || e.MaxAlerts != 100 ||
		e.SourceIP != rule.SourceIPPeer || e.MaxFingerprints != 100000 || e.MaxNamesPerFingerprint != 1000 ||
		!reflect.DeepEqual(e.Exclusions["exclude_users"], []string{"system:kube-controller-manager", "system:kube-scheduler"}) ||
		!reflect.DeepEqual(e.Exclusions["exclude_source_ips"], []string{"127.0.0.1", "::1"}) ||
		!reflect.DeepEqual(e.Exclusions["exclude_names"], []string{"sh.helm.release.*"}) ||
		!reflect.DeepEqual(e.GroupBy, Rule.GroupBy) {
		t.Fatalf("engine defaults %+v", e)
	}
	want := deliver.Options{URL: "http://127.0.0.1:9880/alerts", TLSVerify: true,
		Format: format.Format{Name: format.JSON, Suppress: 5 * time.Minute, Interval: 5 * time.Minute, Window: 6 * time.Minute,
			Source: "k8s-secret-enum", Sourcetype: "_json", MaxNames: format.DefaultMaxNames},
		Timeout: 5 * time.Second, QueueSize: 10000, BatchMax: 100, RetryMax: 10, BackoffBase: time.Second,
		BackoffMax: time.Minute, DrainTimeout: 5 * time.Second, SpoolMaxBytes: 64 << 20}
	if !reflect.DeepEqual(c.Delivery, want) {
		t.Fatalf("delivery defaults\n got %+v\nwant %+v", c.Delivery, want)
	}
	if c.RecordKey != "log" || c.StateFile != "" || c.StateSaveInterval != time.Minute || c.StatsInterval != time.Minute ||
		c.LogLevel != logging.Info {
		t.Fatalf("config %+v", c)
	}
}

// TestEveryDefaultParses: a default is written as a user would write it
// and read by the same parser, so a bad one is a bug in the table.
func TestEveryDefaultParses(t *testing.T) {
	for _, s := range Settings() {
		if s.Doc == "" || s.Accepted == "" {
			t.Errorf("%s: no doc or accepted values", s.Key)
		}
		if s.Default == "" {
			continue
		}
		var c Config
		if err := s.set(&c, s.Default); err != nil {
			t.Errorf("%s: default %q: %v", s.Key, s.Default, err)
		}
	}
}

func TestLogLevelFromEnvironment(t *testing.T) {
	t.Setenv("FLB_LOG_LEVEL", "debug")
	if c, err := Parse(base(), Plugin); err != nil || c.LogLevel != logging.Debug {
		t.Fatalf("level %v, err %v", c.LogLevel, err)
	}
	if c, err := Parse(base("plugin_log_level", "warn"), Plugin); err != nil || c.LogLevel != logging.Warn {
		t.Fatalf("the key wins over the environment: level %v, err %v", c.LogLevel, err)
	}
	t.Setenv("FLB_LOG_LEVEL", "chatty")
	if c, err := Parse(base(), Plugin); err != nil || c.LogLevel != logging.Info {
		t.Fatalf("a bad environment value is ignored: level %v, err %v", c.LogLevel, err)
	}
}

func TestValues(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)
	c, err := Parse(base(
		"Mode", "schedule", "THRESHOLD", "5", "window", "10m", "suppress", "90", "interval", "5m",
		"allowed_lateness", "0", "source_ip", "client", "exclude_users", "a, b ,,c", "exclude_source_ips", "none",
		"exclude_names", "x*,y?", "max_fingerprints", "10", "max_names_per_fingerprint", "50", "group_by", "User_Agent, user",
		"record_key", "message", "alert_format", "json_lines",
		"alert_headers", "X-Scope-OrgID: tenant-1, Accept: a, b, X-Other:v",
		"alert_header_1", "X-Comma: c, d: e", "alert_bearer_token_file", token,
		"alert_tls_verify", "off", "alert_timeout", "2s", "alert_queue_size", "5", "alert_batch_size", "7",
		"alert_retry_max", "no_limits", "alert_retry_backoff", "100ms", "alert_retry_backoff_max", "1s",
		"alert_spool_dir", dir, "alert_spool_max_bytes", "1M", "state_file", filepath.Join(dir, "state"),
		"stats_interval", "0", "plugin_log_level", "debug",
	), Plugin)
	if err != nil {
		t.Fatal(err)
	}
	e := c.Engine
	if e.Mode != detect.ModeSchedule || e.Threshold != 5 || e.Window != 10*time.Minute || e.Suppress != 90*time.Second ||
		e.AllowedLateness != 0 || e.SourceIP != rule.SourceIPClient || e.MaxFingerprints != 10 || e.MaxNamesPerFingerprint != 50 {
		t.Fatalf("engine %+v", e)
	}
	if !reflect.DeepEqual(e.GroupBy, []rule.Field{rule.FieldUser, rule.FieldUserAgent}) {
		t.Fatalf("group_by %v", e.GroupBy)
	}
	if !strings.Contains(c.String(), " group_by=user,user_agent ") {
		t.Fatalf("effective settings: %s", c.String())
	}
	if !reflect.DeepEqual(e.Exclusions["exclude_users"], []string{"a", "b", "c"}) || len(e.Exclusions["exclude_source_ips"]) != 0 ||
		!reflect.DeepEqual(e.Exclusions["exclude_names"], []string{"x*", "y?"}) {
		t.Fatalf("exclusions %v", e.Exclusions)
	}
	wantHeaders := http.Header{"X-Scope-Orgid": {"tenant-1"}, "Accept": {"a, b"}, "X-Other": {"v"}, "X-Comma": {"c, d: e"}}
	d := c.Delivery
	if !reflect.DeepEqual(d.Headers, wantHeaders) {
		t.Fatalf("headers %v", d.Headers)
	}
	if c.RecordKey != "message" || d.Format.Name != format.JSONLines || d.TLSVerify || d.Timeout != 2*time.Second ||
		d.QueueSize != 5 || d.BatchMax != 7 || d.RetryMax != deliver.NoRetryLimit || d.BackoffBase != 100*time.Millisecond ||
		d.SpoolMaxBytes != 1<<20 || c.StatsInterval != 0 || c.LogLevel != logging.Debug {
		t.Fatalf("config %+v", c)
	}
	if s := c.String(); strings.Contains(s, "tenant-1") || !strings.Contains(s, "X-Scope-Orgid") {
		t.Fatalf("effective settings leak header values: %s", s)
	}
}

func TestHeadersJSON(t *testing.T) {
	c, err := Parse(base("alert_headers", `{"X-A": "1, 2: 3", "X-B": "b"}`), Plugin)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Delivery.Headers; h.Get("X-A") != "1, 2: 3" || h.Get("X-B") != "b" {
		t.Fatalf("headers %v", h)
	}
}

func TestBadValues(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	rows := []struct {
		kv      []string
		key     string
		message string
	}{
		{[]string{"alert_url", ""}, "alert_url", "required"},
		{[]string{"alert_url", "ftp://x/"}, "alert_url", "http:// or https://"},
		{[]string{"alert_url", "localhost:9880"}, "alert_url", "http:// or https://"},
		{[]string{"alert_url", "https://user:pw@x/"}, "alert_url", "credentials in the URL"},
		{[]string{"mode", "batch"}, "mode", "stream, schedule"},
		{[]string{"threshold", "0"}, "threshold", "integer from 1"},
		{[]string{"threshold", "three"}, "threshold", "integer from 1"},
		{[]string{"window", "6 minutes"}, "window", "duration"},
		{[]string{"window", "-1m"}, "window", "duration"},
		{[]string{"suppress", "-1s"}, "suppress", "duration ≥ 0"},
		{[]string{"interval", "abc"}, "interval", "duration"},
		{[]string{"allowed_lateness", "-5s"}, "allowed_lateness", "duration ≥ 0"},
		{[]string{"idle_timeout", "x"}, "idle_timeout", "duration"},
		{[]string{"max_clock_skew", "x"}, "max_clock_skew", "duration"},
		{[]string{"max_alerts", "0"}, "max_alerts", "integer from 1"},
		{[]string{"source_ip", "first"}, "source_ip", "peer"},
		{[]string{"group_by", "source_ip,user_agent"}, "group_by", "must include user"},
		{[]string{"group_by", "none"}, "group_by", "not a field to group by; accepted: user, source_ip, user_agent"},
		{[]string{"group_by", "user,ip"}, "group_by", "not a field to group by"},
		{[]string{"group_by", "user,user_agent,User"}, "group_by", "user is listed twice"},
		{[]string{"exclude_source_ips", "10.0.0.0/33"}, "exclude_source_ips", "not an IP address or CIDR"},
		{[]string{"exclude_source_ips", "localhost"}, "exclude_source_ips", "not an IP address or CIDR"},
		{[]string{"exclude_names", `abc\`}, "exclude_names", "escape"},
		{[]string{"max_fingerprints", "-1"}, "max_fingerprints", "integer from 1"},
		{[]string{"max_names_per_fingerprint", "2"}, "max_names_per_fingerprint", "at least threshold"},
		{[]string{"mode", "schedule", "window", "1m"}, "window", "at least interval"},
		{[]string{"alert_format", "xml"}, "alert_format", "accepted: json, json_lines"},
		{[]string{"alert_headers", "NoColon"}, "alert_headers", "Name: value"},
		{[]string{"alert_headers", "Bad Name: x"}, "alert_headers", "not a valid header name"},
		{[]string{"alert_headers", "Content-Type: text/plain"}, "alert_headers", "set by the plugin"},
		{[]string{"alert_headers", `{"X-A": 1}`}, "alert_headers", "JSON object"},
		{[]string{"alert_header_3", "x"}, "alert_header_3", "Name: value"},
		{[]string{"alert_bearer_token_file", filepath.Join(dir, "missing")}, "alert_bearer_token_file", "cannot read"},
		{[]string{"alert_basic_auth_user", "u"}, "alert_basic_auth_user", "go together"},
		{[]string{"alert_basic_auth_password", "p"}, "alert_basic_auth_user", "go together"},
		{[]string{"alert_tls_ca_file", notPEM, "alert_url", "https://x/"}, "alert_tls_ca_file", "no PEM certificate"},
		{[]string{"alert_tls_ca_file", notPEM}, "alert_url", "need an https:// URL"},
		{[]string{"alert_tls_cert_file", notPEM, "alert_url", "https://x/"}, "alert_tls_cert_file", "go together"},
		{[]string{"alert_tls_verify", "maybe"}, "alert_tls_verify", "on, off"},
		{[]string{"alert_timeout", "0"}, "alert_timeout", "duration ≥ 1ms"},
		{[]string{"alert_queue_size", "0"}, "alert_queue_size", "integer from 1"},
		{[]string{"alert_batch_size", "100000"}, "alert_batch_size", "integer from 1"},
		{[]string{"alert_retry_max", "-2"}, "alert_retry_max", "no_limits"},
		{[]string{"alert_retry_backoff", "2s", "alert_retry_backoff_max", "1s"}, "alert_retry_backoff_max", "at least alert_retry_backoff"},
		{[]string{"alert_spool_max_bytes", "12Q"}, "alert_spool_max_bytes", "size"},
		{[]string{"alert_spool_max_bytes", "10"}, "alert_spool_max_bytes", "size ≥ 4096"},
		{[]string{"state_save_interval", "0"}, "state_save_interval", "duration ≥ 1s"},
		{[]string{"plugin_log_level", "loud"}, "plugin_log_level", "error, warn"},
		{[]string{"mode", "schedule", "reorder_delay", "5s"}, "reorder_delay", "stream mode only"},
		{[]string{"thresold", "4"}, "thresold", "did you mean threshold"},
		{[]string{"alert_timout", "4s"}, "alert_timout", "did you mean alert_timeout"},
		{[]string{"windoww", "4m"}, "windoww", "did you mean window"},
		{[]string{"alert-url", "http://x/"}, "alert-url", "did you mean alert_url"},
		{[]string{"url", "http://x/"}, "url", "did you mean alert_url"},
		{[]string{"exclude_user", "x"}, "exclude_user", "did you mean exclude_users"},
	}
	for _, r := range rows {
		t.Run(strings.Join(r.kv, "="), func(t *testing.T) {
			_, err := Parse(base(r.kv...), Plugin)
			if err == nil {
				t.Fatal("no error")
			}
			var ce *Error
			found := false
			for _, e := range unwrapAll(err) {
				if errors.As(e, &ce) && ce.Key == r.key && strings.Contains(ce.Error(), r.message) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want an error for key %q mentioning %q, got: %v", r.key, r.message, err)
			}
		})
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

func TestUnknownKeysWithLister(t *testing.T) {
	_, err := Parse(MapGetter{"alert_url": "http://x/", "threshhold": "4", "alert-format": "json"}, Replay)
	if err == nil || !strings.Contains(err.Error(), `"threshhold"`) || !strings.Contains(err.Error(), "did you mean alert_format") {
		t.Fatalf("err = %v", err)
	}
}

func TestReplayProfileNeedsNoURL(t *testing.T) {
	if _, err := Parse(MapGetter{"threshold": "4"}, Replay); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	_, err := Parse(base("alert_headers", "Authorization: Bearer topsecret, Content-Type: x"), Plugin)
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("err = %v", err)
	}
	c, err := Parse(base("alert_basic_auth_user", "u", "alert_basic_auth_password", "hunter2"), Plugin)
	if err != nil || strings.Contains(c.String(), "hunter2") {
		t.Fatalf("err %v, settings %s", err, c.String())
	}
}

// TestProbesFindEveryMisspelling: through Fluent Bit, which cannot list the
// keys it was given, a key one edit away from a real one is still refused.
func TestProbesFindEveryMisspelling(t *testing.T) {
	for _, typo := range []string{"thresold", "threshhold", "trheshold", "threshild", "alert_urll", "alert-url",
		"exclude_user", "max_alert", "plugin_log_levl", "stats-interval", "endpoint"} {
		_, err := Parse(base(typo, "x"), Plugin)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q: unknown key; did you mean", typo)) {
			t.Errorf("%s: %v", typo, err)
		}
	}
	if n := len(probes()); n > 100_000 {
		t.Fatalf("%d probes: too many to ask Fluent Bit for at start", n)
	}
}

func TestSuggestNearest(t *testing.T) {
	for typo, want := range map[string]string{"thresold": "threshold", "windw": "window", "alert_fromat": "alert_format",
		"exclude_usres": "exclude_users", "url": "alert_url", "zzz": ""} {
		if got := suggest(typo); got != want {
			t.Errorf("suggest(%q) = %q, want %q", typo, got, want)
		}
	}
}

// The cost of the probes at each instance's start, as Fluent Bit would
// answer them (its lookup is a case-insensitive scan of a short list).
func BenchmarkProbeThroughFluentBit(b *testing.B) {
	g := base("threshold", "4", "window", "5m", "alert_format", "json")
	for i := 0; i < b.N; i++ {
		unknownKeys(g)
	}
	b.ReportMetric(float64(len(probes())), "probes")
}

// TestOneErrorPerMistake: a refused value is reported once, not again by a
// rule between keys that would read the zero value left in its place.
func TestOneErrorPerMistake(t *testing.T) {
	_, err := Parse(base("max_names_per_fingerprint", "many", "window", "soon", "mode", "schedule"), Plugin)
	errs := unwrapAll(err)
	if len(errs) != 2 {
		t.Fatalf("want 2 errors (max_names_per_fingerprint, window), got %d: %v", len(errs), err)
	}
}
