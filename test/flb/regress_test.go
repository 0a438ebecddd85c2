package flb

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// The two repro streams of issue 9 through a real Fluent Bit (tail +
// parser json), each followed by a sentinel harvest ten minutes later:
//
//   - stream-threshold-after-expiry.log, default settings: the window
//     [16:21:00, 16:27:00] holds two names: no alert.
//   - stream-name-lost-after-expiry.log, threshold 4, window 3m, suppress
//     2m: one `new` alert at 16:14:47.665521 naming secret-1, secret-25,
//     secret-28, secret-8 (unique_credentials 4); nothing when its mute
//     period ends.
func TestRegressionsOfIssue9(t *testing.T) {
	bob := client{"bob", "10.0.1.11", "kubelet"}
	at := func(s string) time.Duration {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts.Sub(t0)
	}
	cases := []struct {
		file                        string
		threshold, window, suppress string
		sentinel                    int
		wants                       []want
	}{
		{file: "stream-threshold-after-expiry.log", threshold: "3", window: "6m", suppress: "5m", sentinel: 3},
		{file: "stream-name-lost-after-expiry.log", threshold: "4", window: "3m", suppress: "2m", sentinel: 4,
			wants: []want{{typ: "new", c: bob, at: at("2025-11-24T16:14:47.665521Z"),
				names: []string{"secret-1", "secret-25", "secret-28", "secret-8"}}}},
	}
	repo := repoRoot(t)
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		for _, c := range cases {
			t.Run(c.file, func(t *testing.T) {
				data := readFile(t, filepath.Join(repo, "test", "testdata", "regress", c.file))
				last := time.Duration(0)
				for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
					if i := bytes.Index(l, []byte(`"requestReceivedTimestamp":"`)); i >= 0 {
						last = max(last, at(string(l[i+28:i+28+bytes.IndexByte(l[i+28:], '"')])))
					}
				}
				end, endWant := sentinelOf(c.sentinel, last+10*time.Minute)
				log := filepath.Join(t.TempDir(), "audit.log")
				writeFile(t, log, append(append(bytes.TrimSpace(data), '\n'), joinLines(end.lines())...))
				rcv := receiver.Start(t, receiver.Options{})
				run := runFluentBit(t, fb, configPath(t, "tail-json.conf"), "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts",
					"THRESHOLD="+c.threshold, "WINDOW="+c.window, "SUPPRESS="+c.suppress)
				waitForSentinel(t, rcv)
				run.stopClean()
				exactly(t, rcv.Alerts(), append(c.wants, endWant)...)
			})
		}
	})
}
