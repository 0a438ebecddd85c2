package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

// validate holds every rule between keys, in one place. The plugin
// profile also reads the files the settings name, so that a missing
// certificate stops Fluent Bit at start and not at the first alert. A rule
// that involves a key whose value was refused (bad) is not checked: the
// refusal already says what is wrong.
func (c *Config) validate(profile Profile, bad map[string]bool) []error {
	var errs []error
	fail := func(key, value, reason string) {
		errs = append(errs, &Error{Key: key, Value: value, Reason: reason})
	}
	ok := func(keys ...string) bool {
		for _, k := range keys {
			if bad[k] {
				return false
			}
		}
		return true
	}
	files := profile == Plugin

	e := &c.Engine
	if ok("max_names_per_fingerprint", "threshold") && e.MaxNamesPerFingerprint < e.Threshold {
		fail("max_names_per_fingerprint", strconv.Itoa(e.MaxNamesPerFingerprint),
			fmt.Sprintf("must be at least threshold (%d), or no fingerprint could ever alert", e.Threshold))
	}
	if ok("mode", "reorder_delay") && e.Mode == detect.ModeSchedule && e.ReorderDelay > 0 {
		fail("reorder_delay", e.ReorderDelay.String(),
			"applies to stream mode only; schedule mode waits allowed_lateness before each evaluation")
	}
	if ok("mode", "window", "interval") && e.Mode == detect.ModeSchedule && e.Window < e.Interval {
		fail("window", e.Window.String(),
			fmt.Sprintf("must be at least interval (%s) in schedule mode, or events between evaluations are never seen", e.Interval))
	}

	d := &c.Delivery
	if d.URL == "" && profile == Plugin && ok("alert_url") {
		fail("alert_url", "", "required: the http:// or https:// URL alerts are POSTed to")
	}
	if c.basicPasswordFile != "" {
		switch {
		case d.BasicPassword != "":
			fail("alert_basic_auth_password_file", c.basicPasswordFile,
				"set either alert_basic_auth_password or alert_basic_auth_password_file, not both")
		case files:
			b, err := os.ReadFile(c.basicPasswordFile)
			if err != nil {
				fail("alert_basic_auth_password_file", c.basicPasswordFile, "cannot read the file: "+err.Error())
			}
			d.BasicPassword = strings.TrimSpace(string(b))
		default:
			d.BasicPassword = "<from file>"
		}
	}
	if (d.BasicUser == "") != (d.BasicPassword == "") {
		fail("alert_basic_auth_user", d.BasicUser,
			"alert_basic_auth_user and a password (alert_basic_auth_password or _file) go together")
	}
	if d.BearerTokenFile != "" {
		if d.BasicUser != "" {
			fail("alert_bearer_token_file", d.BearerTokenFile, "use either a bearer token or basic auth, not both")
		}
		if files {
			if _, err := os.ReadFile(d.BearerTokenFile); err != nil {
				fail("alert_bearer_token_file", d.BearerTokenFile, "cannot read the file: "+err.Error())
			}
		}
	}
	if (d.BearerTokenFile != "" || d.BasicUser != "") && d.Headers.Get("Authorization") != "" {
		fail("alert_headers", "Authorization: <redacted>",
			"an Authorization header conflicts with alert_bearer_token_file / alert_basic_auth_user")
	}
	c.validateFormat(profile, bad["alert_format"], fail)
	if (d.TLSCertFile == "") != (d.TLSKeyFile == "") {
		fail("alert_tls_cert_file", d.TLSCertFile, "alert_tls_cert_file and alert_tls_key_file go together")
	}
	if (d.TLSCAFile != "" || d.TLSCertFile != "") && strings.HasPrefix(d.URL, "http://") {
		fail("alert_url", d.URL, "alert_tls_* settings need an https:// URL")
	}
	if files && d.TLSCAFile != "" {
		if b, err := os.ReadFile(d.TLSCAFile); err != nil {
			fail("alert_tls_ca_file", d.TLSCAFile, "cannot read the file: "+err.Error())
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			fail("alert_tls_ca_file", d.TLSCAFile, "no PEM certificate found in the file")
		}
	}
	if files && d.TLSCertFile != "" && d.TLSKeyFile != "" {
		if _, err := tls.LoadX509KeyPair(d.TLSCertFile, d.TLSKeyFile); err != nil {
			fail("alert_tls_cert_file", d.TLSCertFile, "cannot load the certificate and key: "+err.Error())
		}
	}
	if c.MetricsListen != "" {
		if reason := checkListen(c.MetricsListen); reason != "" {
			fail("metrics_listen", c.MetricsListen, reason)
		}
	}
	if ok("alert_retry_backoff", "alert_retry_backoff_max") && d.BackoffMax < d.BackoffBase {
		fail("alert_retry_backoff_max", d.BackoffMax.String(),
			"must be at least alert_retry_backoff ("+d.BackoffBase.String()+")")
	}
	return errs
}

// checkListen says what is wrong with a listen address, or "". Whether the
// address can be bound is found out at start, when it is.
func checkListen(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return `want host:port, such as "0.0.0.0:2021", "127.0.0.1:2021" or "[::]:2021"`
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "the port must be a number from 0 to 65535"
	}
	if strings.ContainsAny(host, "/ ") {
		return "the host must be an address or a host name"
	}
	return ""
}

// validateFormat holds the rules of alert_format and the settings of its
// destinations, and hands the engine's timing to the format (Alertmanager's
// endsAt follows suppress or interval).
// A refused alert_format is not held against the keys of a format.
func (c *Config) validateFormat(profile Profile, badFormat bool, fail func(key, value, reason string)) {
	d, e := &c.Delivery, &c.Engine
	f := &d.Format
	f.Suppress, f.Interval, f.Window = e.Suppress, e.Interval, e.Window
	files := profile == Plugin
	if f.GeneratorURL != "" && f.Name != format.Alertmanager && !badFormat {
		fail("alert_generator_url", f.GeneratorURL, "applies to alert_format alertmanager only (alert_format is "+f.Name.String()+")")
	}
	if d.SplunkTokenFile != "" {
		switch {
		case f.Name != format.SplunkHEC && !badFormat:
			fail("alert_splunk_token_file", d.SplunkTokenFile, "applies to alert_format splunk_hec only (alert_format is "+f.Name.String()+")")
		case d.BearerTokenFile != "" || d.BasicUser != "":
			fail("alert_splunk_token_file", d.SplunkTokenFile,
				"use one credential: alert_splunk_token_file, alert_bearer_token_file or alert_basic_auth_user")
		case d.Headers.Get("Authorization") != "":
			fail("alert_headers", "Authorization: <redacted>", "an Authorization header conflicts with alert_splunk_token_file")
		case files:
			checkSecretFile(d.SplunkTokenFile, "alert_splunk_token_file", fail)
		}
	}
	if d.HMACSecretFile != "" && files {
		checkSecretFile(d.HMACSecretFile, "alert_hmac_secret_file", fail)
	}
	if f.Host == "" && (f.Name == format.SplunkHEC || f.Name == format.Falco) {
		f.Host, _ = os.Hostname()
	}
}

// checkSecretFile reads a credential file at start, so that a missing or
// empty one stops Fluent Bit there and not at the first alert.
func checkSecretFile(path, key string, fail func(key, value, reason string)) {
	b, err := os.ReadFile(path)
	switch {
	case err != nil:
		fail(key, path, "cannot read the file: "+err.Error())
	case strings.TrimSpace(string(b)) == "":
		fail(key, path, "the file is empty")
	}
}
