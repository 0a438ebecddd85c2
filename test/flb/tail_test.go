package flb

import (
	"os"
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
//   - the sentinel at 31s.
func standard() (stream, []want) {
	s := noise(1, 300, 0, 100*time.Millisecond)
	s = append(s, harvest(ciRunner, 5*time.Second, time.Second, "db-password", "api-token", "registry-creds")...)
	s = append(s, harvest(mallory, 10*time.Second, 2*time.Second, "stripe-key", "aws-creds", "gcp-sa", "tls-wildcard")...)
	s = append(s, harvest(scanner, 20*time.Second, 500*time.Millisecond, "cache-a", "cache-b")...)
	end, endWant := sentinel(31 * time.Second)
	s = append(s, end...)
	return s, []want{
		endWant,
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
		// the `new` alerts come while Fluent Bit runs, the update at exit
		waitForSentinel(t, rcv)
		run.stopClean()
		exactly(t, rcv.Alerts(), wants...)
	})
}

// c. tail of raw lines (no parser): RequestResponse lines far above
// Fluent Bit's default 32K buffer, one longer than Buffer_Max_Size (a `list`
// of secrets, skipped without losing the file), and a rotation (rename,
// new file) in the middle of two harvests.
//
//   - audit.log: mallory's q-a, q-b; ciRunner's p-a, p-b, p-c at 3s, 4s, 5s:
//     `new` at 5s. Waiting for that alert shows the file was read.
//   - appended: noise, the 2.5 MB list, intruder's r-a, r-b; then the file
//     is renamed to audit.log.1 and a new audit.log holds mallory's q-c at
//     10s (`new` at 10s, names from both files) and intruder's r-c at 11s
//     (`new` at 11s). Events of the two files may be read in any order
//     within a few seconds of event time: allowed_lateness puts them back
//     in order.
func TestTailRawRotation(t *testing.T) {
	const k = 1 << 10
	big := func(e ev, n int) ev { e.payload = n; return e }
	first := stream{
		big(ev{at: 1 * time.Second, c: mallory, name: "q-a"}, 1400*k), // a 1 MiB Secret, base64
		{at: 2 * time.Second, c: mallory, name: "q-b"},
		big(ev{at: 3 * time.Second, c: ciRunner, name: "p-a"}, 300*k),
		big(ev{at: 4 * time.Second, c: ciRunner, name: "p-b"}, 500*k),
		big(ev{at: 5 * time.Second, c: ciRunner, name: "p-c"}, 700*k),
	}
	appended := append(noise(3, 20, 5500*time.Millisecond, 10*time.Millisecond),
		big(ev{at: 6500 * time.Millisecond, c: scanner, verb: "list", namespace: "prod"}, 2500*k),
		ev{at: 7 * time.Second, c: intruder, name: "r-a"},
		big(ev{at: 8 * time.Second, c: intruder, name: "r-b"}, 600*k))
	second := append(stream{
		big(ev{at: 10 * time.Second, c: mallory, name: "q-c"}, 400*k),
		big(ev{at: 11 * time.Second, c: intruder, name: "r-c"}, 1200*k),
	}, noise(4, 20, 12*time.Second, 10*time.Millisecond)...)
	wants := []want{
		{typ: "new", c: ciRunner, at: 5 * time.Second, names: []string{"p-a", "p-b", "p-c"}},
		{typ: "new", c: mallory, at: 10 * time.Second, names: []string{"q-a", "q-b", "q-c"}},
		{typ: "new", c: intruder, at: 11 * time.Second, names: []string{"r-a", "r-b", "r-c"}},
	}
	// number the audit IDs across the three parts
	all := append(append(append(stream(nil), first...), appended...), second...)
	for i := range all {
		all[i].id = i + 1
	}
	first, appended, second = all[:len(first)], all[len(first):len(first)+len(appended)], all[len(first)+len(appended):]
	firstLines, appendedLines, secondLines := first.lines(), appended.lines(), second.lines()
	longest, overDefault := 0, 0
	for _, l := range append(append(append([][]byte(nil), firstLines...), appendedLines...), secondLines...) {
		if len(l) > 32*k {
			overDefault++
		}
		if len(l) > longest && len(l) < 2*k*k {
			longest = len(l)
		}
	}
	if overDefault < 8 || longest < 1400*k {
		t.Fatalf("the test lines must exceed the default buffer: %d lines over 32K, the longest kept %d bytes", overDefault, longest)
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		dir := t.TempDir()
		log := filepath.Join(dir, "audit.log")
		writeFile(t, log, joinLines(firstLines))
		rcv := receiver.Start(t, receiver.Options{})
		run := runFluentBit(t, fb, configPath(t, "tail-raw.conf"), "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts")
		if _, err := rcv.WaitForAlerts(1, waitLimit); err != nil {
			t.Fatal(err)
		}
		// the API server's log rotation: the last lines, rename, a new file
		appendFile(t, log, joinLines(appendedLines))
		if err := os.Rename(log, log+".1"); err != nil {
			t.Fatal(err)
		}
		// The new file appears after Fluent Bit has handled the rename, so
		// that it is found by the periodic scan (Refresh_Interval), the slow
		// path: a file created before the rename is handled is found at once.
		run.waitFor("handle rotation()", 1)
		writeFile(t, log, joinLines(secondLines))
		if _, err := rcv.WaitForAlerts(3, waitLimit); err != nil {
			t.Fatal(err)
		}
		run.stopClean()
		exactly(t, rcv.Alerts(), wants...)
		logHasNoMarker(t, run.name, run.Output())
	})
}
