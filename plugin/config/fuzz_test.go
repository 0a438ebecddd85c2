package config

import (
	"strings"
	"testing"
)

// FuzzParse: any set of properties is parsed without panicking, every
// error names a key, and a password never reaches the effective settings
// line.
func FuzzParse(f *testing.F) {
	f.Add("alert_url=http://127.0.0.1:9880/\nthreshold=5\nmode=schedule")
	f.Add("alert_headers=X-A: 1, Accept: a, b\nalert_basic_auth_user=u\nalert_basic_auth_password=pw")
	f.Add("exclude_source_ips=10.0.0.0/8,::1\nexclude_names=a\\*b,sh.helm.release.*\nwindow=90")
	f.Add("alert_headers={\"X\":\"y\"}\nalert_retry_max=no_limits\nalert_spool_max_bytes=64M")
	f.Fuzz(func(t *testing.T, props string) {
		m := MapGetter{}
		for _, line := range strings.Split(props, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		c, err := Parse(m, Replay)
		if err != nil {
			for _, e := range flattenErrs(err) {
				if !strings.Contains(e.Error(), "key ") {
					t.Fatalf("error without a key: %v", e)
				}
			}
			return
		}
		if c.Delivery.BasicUser != "" && !strings.Contains(c.String(), "alert_basic_auth_password=<redacted>") {
			t.Fatalf("password not redacted in %q", c.String())
		}
	})
}

func flattenErrs(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrs(e)...)
		}
		return out
	}
	return []error{err}
}
