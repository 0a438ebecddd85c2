package flb

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

var flushesRE = regexp.MustCompile(`stats: flushes=(\d+) `)

// e. `Workers 2` on the output: about 18 MB of audit lines (30 s of event
// time, so some ten 2 MB chunks of 3 s each) reach the plugin from two
// threads, and the alerts are exactly those one thread gives. The harvests'
// names lie seconds apart, across chunks. The whole log is a backlog (read
// from the head), so the threads can drift apart by all of it: on a loaded
// machine one thread flushed the last chunk while the other still held
// mallory's third name, with reorder_delay 10s and 30s alike. So
// reorder_delay (1h) covers the whole log, every decision waits for the
// stop, and the test stops Fluent Bit once the plugin has read every
// record (the stats line, every second).
//
//   - ciRunner: 3 names at 3s, 5s, 7s: `new` at 7s.
//   - mallory: 4 names at 10s, 12.5s, 15s, 17.5s: `new` at 15s, `update`
//     at 15s+5m (all four).
//   - intruder: 3 names at 20s, 20.001s, 26s: `new` at 26s.
//   - backup: 3 names at 27s, 28s, 29.9s: `new` at 29.9s.
//   - scanner: 2 names: nothing.
//   - the sentinel at 40s, then a few events up to 52s.
func TestWorkers(t *testing.T) {
	s := noise(7, 30000, 0, time.Millisecond)
	s = append(s, harvest(ciRunner, 3*time.Second, 2*time.Second, "db-password", "api-token", "registry-creds")...)
	s = append(s, harvest(mallory, 10*time.Second, 2500*time.Millisecond, "m-a", "m-b", "m-c", "m-d")...)
	s = append(s, ev{at: 20 * time.Second, c: intruder, name: "i-a"}, ev{at: 20*time.Second + time.Millisecond, c: intruder, name: "i-b"},
		ev{at: 26 * time.Second, c: intruder, name: "i-c"})
	s = append(s, ev{at: 27 * time.Second, c: backup, name: "b-a"}, ev{at: 28 * time.Second, c: backup, name: "b-b"},
		ev{at: 29900 * time.Millisecond, c: backup, name: "b-c"})
	s = append(s, harvest(scanner, 21*time.Second, 5*time.Second, "cache-a", "cache-b")...)
	end, endWant := sentinel(40 * time.Second)
	s = append(append(s, end...), noise(8, 12, 41*time.Second, time.Second)...)
	wants := []want{
		{typ: "new", c: ciRunner, at: 7 * time.Second, names: []string{"db-password", "api-token", "registry-creds"}},
		{typ: "new", c: mallory, at: 15 * time.Second, names: []string{"m-a", "m-b", "m-c"}},
		{typ: "update", c: mallory, at: 15*time.Second + 5*time.Minute, names: []string{"m-a", "m-b", "m-c", "m-d"}},
		{typ: "new", c: intruder, at: 26 * time.Second, names: []string{"i-a", "i-b", "i-c"}},
		{typ: "new", c: backup, at: 29900 * time.Millisecond, names: []string{"b-a", "b-b", "b-c"}},
		endWant,
	}
	data := joinLines(s.lines())

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		log := filepath.Join(t.TempDir(), "audit.log")
		writeFile(t, log, data)
		rcv := receiver.Start(t, receiver.Options{})
		run := runFluentBit(t, fb, configPath(t, "tail-json-workers.conf"), "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts")
		run.waitFor(fmt.Sprintf(" records=%d ", len(s)), 1)
		run.stopClean()
		exactly(t, rcv.Alerts(), wants...)
		all := flushesRE.FindAllStringSubmatch(run.Output(), -1)
		if all == nil {
			t.Fatal("no stats line")
		}
		m := all[len(all)-1] // the exit's
		if n, _ := strconv.Atoi(m[1]); n < 4 {
			t.Errorf("%d flushes: the test needs several chunks to have two threads flush at once", n)
		}
	})
}
