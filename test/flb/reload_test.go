package flb

import (
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

var spoolFileRE = regexp.MustCompile(`^\d{20}-.+\.json$`)

// waitSpooled waits until dir holds at least n spooled alerts.
func waitSpooled(t *testing.T, dir string, n int, run *fluentBitRun) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		got := 0
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if spoolFileRE.MatchString(e.Name()) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts spooled in %s after %v, want %d", got, dir, waitLimit, n)
		}
		select {
		case <-run.done:
			t.Fatalf("Fluent Bit exited: %v", run.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// f. Hot reload (Hot_Reload On + SIGHUP) with the alert receiver down
// until the reload is over, so that the old instance's alerts are left in
// the spool for the new one:
//
//   - before: mallory reads q-a, q-b (1s, 2s); ciRunner reads p-a … p-d
//     (3s … 6s): `new` at 5s (spooled), and at the reload the old
//     instance's exit evaluates its mute period: `update` at 5s+5m, all
//     four names (spooled).
//   - after: mallory reads q-c (10s): `new` at 10s with q-a, q-b from the
//     old instance's state; intruder reads r-a … r-c (11s … 13s): `new` at
//     13s; the sentinel at 20s.
//
// Each alert arrives exactly once.
func TestHotReload(t *testing.T) {
	before := noise(11, 50, 0, 150*time.Millisecond)
	before = append(before, harvest(mallory, time.Second, time.Second, "q-a", "q-b")...)
	before = append(before, harvest(ciRunner, 3*time.Second, time.Second, "p-a", "p-b", "p-c", "p-d")...)
	after := stream{{at: 10 * time.Second, c: mallory, name: "q-c"}}
	after = append(after, harvest(intruder, 11*time.Second, time.Second, "r-a", "r-b", "r-c")...)
	after = append(after, noise(12, 40, 8*time.Second, 250*time.Millisecond)...)
	end, endWant := sentinel(20 * time.Second)
	after = append(after, end...)
	for i := range after {
		after[i].id = 1000 + i
	}
	wants := []want{
		{typ: "new", c: ciRunner, at: 5 * time.Second, names: []string{"p-a", "p-b", "p-c"}},
		{typ: "update", c: ciRunner, at: 5*time.Second + 5*time.Minute, names: []string{"p-a", "p-b", "p-c", "p-d"}},
		{typ: "new", c: mallory, at: 10 * time.Second, names: []string{"q-a", "q-b", "q-c"}},
		{typ: "new", c: intruder, at: 13 * time.Second, names: []string{"r-a", "r-b", "r-c"}},
		endWant,
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		dir := t.TempDir()
		log, spool := filepath.Join(dir, "audit.log"), filepath.Join(dir, "spool")
		writeFile(t, log, joinLines(before.lines()))
		rcv := receiver.Start(t, receiver.Options{})
		rcv.Down()
		run := runFluentBit(t, fb, configPath(t, "reload.conf"), "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts",
			"PARSERS_FILE="+configPath(t, "parsers.conf"), "TAIL_DB="+filepath.Join(dir, "tail.db"), "SPOOL_DIR="+spool, "STATE_FILE="+filepath.Join(dir, "state.json"))
		waitSpooled(t, spool, 1, run)
		run.signal(syscall.SIGHUP, false)
		run.started(1)
		if err := rcv.Up(); err != nil {
			t.Fatal(err)
		}
		appendFile(t, log, joinLines(after.lines()))
		waitForSentinel(t, rcv)
		// the old instance leaves its two alerts in the spool
		run.stopClean("exit: 2 alert(s) not delivered (2 still pending, kept in " + spool)
		exactly(t, rcv.Alerts(), wants...)
	})
}
