package flb

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// standard is the harvest set most cases run: two harvests among noise and
// a client one name short of the threshold.
//
//   - ciRunner reads 3 names at 5s, 6s, 7s: `new` at 7s with the three.
//   - mallory reads 4 names at 10s, 12s, 14s, 16s: `new` at 14s with the
//     first three, then muted for suppress (5m); the fourth name is reported
//     brings the `update` stamped at the end of the mute period, 14s+5m,
//     which the shutdown evaluates; like every alert it lists the names of
//     its window, all four.
//   - scanner reads 2 names: no alert.
func standard() (stream, []want) {
	s := noise(1, 300, 0, 100*time.Millisecond)
	s = append(s, harvest(ciRunner, 5*time.Second, time.Second, "db-password", "api-token", "registry-creds")...)
	s = append(s, harvest(mallory, 10*time.Second, 2*time.Second, "stripe-key", "aws-creds", "gcp-sa", "tls-wildcard")...)
	s = append(s, harvest(scanner, 20*time.Second, 500*time.Millisecond, "cache-a", "cache-b")...)
	return s, []want{
		{typ: "new", c: ciRunner, at: 7 * time.Second, names: []string{"db-password", "api-token", "registry-creds"}},
		{typ: "new", c: mallory, at: 14 * time.Second, names: []string{"stripe-key", "aws-creds", "gcp-sa"}},
		{typ: "update", c: mallory, at: 14*time.Second + 5*time.Minute, names: []string{"stripe-key", "aws-creds", "gcp-sa", "tls-wildcard"}},
	}
}

// b. tail + parser json: the records are the audit events themselves.
func TestTailParserJSON(t *testing.T) {
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		s, wants := standard()
		dir := t.TempDir()
		log := filepath.Join(dir, "audit.log")
		writeFile(t, log, joinLines(s.lines()))
		rcv := receiver.Start(t, receiver.Options{})
		run := runFluentBit(t, fb, configPath(t, "tail-json.conf"), "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts")
		// the two `new` alerts come while Fluent Bit runs, the update at exit
		if _, err := rcv.WaitForAlerts(2, waitLimit); err != nil {
			t.Fatal(err)
		}
		run.stopClean()
		exactly(t, rcv.Alerts(), wants...)
	})
}
