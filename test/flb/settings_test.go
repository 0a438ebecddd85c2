package flb

import (
	"strings"
	"testing"
	"time"
)

// A bad [OUTPUT] stops a real Fluent Bit at start, with one line per
// mistake naming the key, the value (unless secret) and what is accepted:
// a misspelled key (Fluent Bit itself accepts any key for a Go plugin), a
// bad value, and a rule between keys.
func TestBadSettingsStopFluentBit(t *testing.T) {
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		p := start(t, "bad-settings", []string{fb.Path, "-e", plugin(t), "-i", "dummy", "-o", "k8s_secret_enum",
			"-p", "alert_url=http://127.0.0.1:9/alerts", "-p", "thresold=4", "-p", "window=soon",
			"-p", "mode=schedule", "-p", "reorder_delay=10s", "-p", "alert_basic_auth_password=hunter2"}, nil, "")
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatal("Fluent Bit did not stop")
		}
		out := p.Output()
		if p.err == nil {
			t.Errorf("Fluent Bit exited 0 with a bad [OUTPUT]")
		}
		for _, want := range []string{
			`invalid value "<not shown>" for key "thresold": unknown key; did you mean threshold?`,
			`invalid value "soon" for key "window": accepted: a duration`,
			`invalid value "10s" for key "reorder_delay": applies to stream mode only`,
			`invalid value "" for key "alert_basic_auth_user"`,
			"not starting: fix the [OUTPUT] properties above",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("no line with %q", want)
			}
		}
		if strings.Contains(out, "hunter2") {
			t.Error("a password reached the log")
		}
	})
}
