package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

func TestFormatSettings(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "hec")
	os.WriteFile(token, []byte(" hec-token\n"), 0o600)
	c, err := Parse(base("alert_format", "splunk_hec", "alert_splunk_token_file", token, "alert_splunk_index", "security",
		"alert_splunk_source", "src", "alert_splunk_sourcetype", "st", "alert_hostname", "cp-1", "alert_max_names", "3",
		"mode", "schedule", "interval", "2m", "window", "3m", "suppress", "1m"), Plugin)
	if err != nil {
		t.Fatal(err)
	}
	want := format.Format{Name: format.SplunkHEC, Index: "security", Source: "src", Sourcetype: "st", Host: "cp-1", MaxNames: 3,
		Suppress: time.Minute, Interval: 2 * time.Minute, Window: 3 * time.Minute}
	if c.Delivery.Format != want || c.Delivery.SplunkTokenFile != token {
		t.Errorf("format %+v", c.Delivery.Format)
	}
	c, err = Parse(base("alert_format", "falco"), Plugin)
	if host, _ := os.Hostname(); err != nil || c.Delivery.Format.Host != host || host == "" {
		t.Errorf("falco host %q, err %v", c.Delivery.Format.Host, err)
	}
	c, err = Parse(base("alert_format", "alertmanager", "alert_generator_url", "https://grafana.example.com/d/x?a=b#p"), Plugin)
	if err != nil || c.Delivery.Format.GeneratorURL != "https://grafana.example.com/d/x?a=b#p" || c.Delivery.Format.Host != "" {
		t.Errorf("alertmanager: %+v %v", c.Delivery.Format, err)
	}
}

func TestFormatSettingsRefused(t *testing.T) {
	dir := t.TempDir()
	token, empty := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	os.WriteFile(token, []byte("t\n"), 0o600)
	os.WriteFile(empty, []byte(" \n"), 0o600)
	missing := filepath.Join(dir, "missing")
	_, err := Parse(base("alert_format", "alertmanger", "alert_generator_url", "https://grafana.example.com/"), Plugin)
	if err == nil || strings.Contains(err.Error(), "alertmanager only") {
		t.Errorf("a misspelled format is reported, not held against alert_generator_url: %v", err)
	}
	for _, c := range []struct {
		kv      []string
		key     string
		message string
	}{
		{[]string{"alert_format", "alertmanager", "alert_generator_url", "/graph"}, "alert_generator_url", "absolute URL"},
		{[]string{"alert_format", "alertmanager", "alert_generator_url", "grafana.example.com/d"}, "alert_generator_url", "absolute URL"},
		{[]string{"alert_format", "alertmanager", "alert_generator_url", "https://a b/"}, "alert_generator_url", "absolute URL"},
		{[]string{"alert_generator_url", "https://grafana.example.com/"}, "alert_generator_url", "alertmanager only"},
		{[]string{"alert_splunk_token_file", token}, "alert_splunk_token_file", "splunk_hec only"},
		{[]string{"alert_format", "splunk_hec", "alert_splunk_token_file", token, "alert_bearer_token_file", token},
			"alert_splunk_token_file", "one credential"},
		{[]string{"alert_format", "splunk_hec", "alert_splunk_token_file", token, "alert_basic_auth_user", "u",
			"alert_basic_auth_password", "p"}, "alert_splunk_token_file", "one credential"},
		{[]string{"alert_format", "splunk_hec", "alert_splunk_token_file", token, "alert_headers", "Authorization: Splunk x"},
			"alert_headers", "conflicts with alert_splunk_token_file"},
		{[]string{"alert_format", "splunk_hec", "alert_splunk_token_file", missing}, "alert_splunk_token_file", "cannot read"},
		{[]string{"alert_format", "splunk_hec", "alert_splunk_token_file", empty}, "alert_splunk_token_file", "empty"},
		{[]string{"alert_hmac_secret_file", missing}, "alert_hmac_secret_file", "cannot read"},
		{[]string{"alert_hmac_secret_file", empty}, "alert_hmac_secret_file", "empty"},
		{[]string{"alert_max_names", "0"}, "alert_max_names", "integer from 1"},
		{[]string{"alert_format", "Slack2"}, "alert_format", "alertmanager, splunk_hec, slack, falco"},
	} {
		_, err := Parse(base(c.kv...), Plugin)
		if err == nil || !strings.Contains(err.Error(), `"`+c.key+`"`) || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%v: %v", c.kv, err)
		}
	}
}

// The Slack webhook's path is its credential: the effective settings show
// its host only.
func TestSlackURLIsRedacted(t *testing.T) {
	m := base("alert_format", "slack")
	m["alert_url"] = "https://hooks.slack.com/services/T000/B000/XXXXsecret"
	c, err := Parse(m, Plugin)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "XXXXsecret") || !strings.Contains(s, "alert_url=https://hooks.slack.com/…") {
		t.Errorf("effective settings: %s", s)
	}
}

// The [OUTPUT] blocks of the README's Destinations section parse, with the
// plugin's own keys, as written.
func TestReadmeDestinationConfigurations(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Destinations\n")
	if start < 0 {
		t.Fatal("no Destinations section in the README")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end > 0 {
		section = section[:end]
	}
	blocks := regexp.MustCompile("(?ms)^```ini\n(.*?)^```").FindAllStringSubmatch(section, -1)
	formats := map[string]bool{}
	env := strings.NewReplacer("${SLACK_WEBHOOK_URL}", "https://hooks.slack.com/services/T0/B0/x", "${NODE_NAME}", "node-1")
	for _, blk := range blocks {
		m := MapGetter{}
		for _, line := range strings.Split(strings.TrimSpace(blk[1]), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) != 2 {
				t.Fatalf("line %q", line)
			}
			if k := strings.ToLower(f[0]); k != "name" && k != "match" {
				m[f[0]] = env.Replace(f[1])
			}
		}
		c, err := Parse(m, Replay)
		if err != nil {
			t.Errorf("%v:\n%s", err, blk[1])
			continue
		}
		formats[c.Delivery.Format.Name.String()] = true
	}
	for _, f := range []string{"alertmanager", "splunk_hec", "slack", "falco"} {
		if !formats[f] {
			t.Errorf("no configuration for %s in the README's Destinations", f)
		}
	}
}
