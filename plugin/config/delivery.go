package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/deliver"
)

// The delivery keys whose values are more than one word.

func alertURL() Setting {
	return Setting{
		Accepted: "an absolute http:// or https:// URL",
		set: func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errRejected
			}
			if u.User != nil {
				return errors.New("credentials in the URL would be logged; use alert_basic_auth_user and alert_basic_auth_password")
			}
			c.Delivery.URL = u.String()
			return nil
		},
		show: func(c *Config) string {
			// A Slack webhook's path is its credential.
			if u, err := url.Parse(c.Delivery.URL); err == nil && c.Delivery.Format.URLIsSecret() {
				return u.Scheme + "://" + u.Host + "/…"
			}
			return c.Delivery.URL
		},
	}
}

// retryMax is a number of retries, or no_limits (Fluent Bit's word for it).
func retryMax() Setting {
	return Setting{
		Accepted: "an integer ≥ 0, or no_limits (retry until the drain timeout at exit)",
		set: func(c *Config, v string) error {
			if strings.EqualFold(v, "no_limits") || strings.EqualFold(v, "false") {
				c.Delivery.RetryMax = deliver.NoRetryLimit
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return errRejected
			}
			c.Delivery.RetryMax = n
			return nil
		},
		show: func(c *Config) string {
			if c.Delivery.RetryMax == deliver.NoRetryLimit {
				return "no_limits"
			}
			return strconv.Itoa(c.Delivery.RetryMax)
		},
	}
}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// headerSplit finds the commas that separate two "Name: value" pairs: a
// comma inside a value (Accept: a, b) is not followed by "Name:".
var headerSplit = regexp.MustCompile(",\\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\\s*:")

// Headers the sender sets itself.
var reservedHeaders = map[string]bool{"Host": true, "Content-Length": true, "Content-Type": true,
	"Transfer-Encoding": true, "Connection": true}

// headerList reads alert_headers: "Name: value" pairs, or a JSON object.
// Values are often credentials: only header names are ever shown.
func headerList() Setting {
	return Setting{
		Accepted: `"Name: value" pairs separated by commas, or a JSON object {"Name": "value"}`,
		Secret:   true,
		set: func(c *Config, v string) error {
			if !strings.HasPrefix(v, "{") {
				start := 0
				for _, loc := range headerSplit.FindAllStringIndex(v, -1) {
					if err := addPair(c, v[start:loc[0]]); err != nil {
						return err
					}
					start = loc[0] + 1
				}
				return addPair(c, v[start:])
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return fmt.Errorf(`accepted: a JSON object of strings {"Name": "value"}: %v`, err)
			}
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if err := addHeader(c, n, m[n]); err != nil {
					return err
				}
			}
			return nil
		},
		show: showHeaderNames,
	}
}

// numberedHeader reads alert_header_N: one pair, for a value that holds
// both commas and colons.
func numberedHeader() Setting {
	return Setting{
		Accepted: `one "Name: value" pair`,
		Secret:   true,
		set:      addPair,
		show:     func(*Config) string { return "" }, // alert_headers shows them all
	}
}

func addPair(c *Config, s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return errRejected
	}
	return addHeader(c, name, value)
}

func addHeader(c *Config, name, value string) error {
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	canonical := textproto.CanonicalMIMEHeaderKey(name)
	switch {
	case !headerName.MatchString(name):
		return fmt.Errorf("%q is not a valid header name", name)
	case reservedHeaders[canonical]:
		return fmt.Errorf("%s is set by the plugin and cannot be overridden", canonical)
	case strings.ContainsAny(value, "\r\n"):
		return errors.New("header values cannot contain line breaks")
	}
	if c.Delivery.Headers == nil {
		c.Delivery.Headers = http.Header{}
	}
	c.Delivery.Headers.Add(name, value)
	return nil
}

func showHeaderNames(c *Config) string {
	if len(c.Delivery.Headers) == 0 {
		return ""
	}
	names := make([]string, 0, len(c.Delivery.Headers))
	for n := range c.Delivery.Headers {
		names = append(names, n+": <redacted>")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// redactHeaders keeps the header names of a secret value for an error
// message.
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
