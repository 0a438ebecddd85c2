package flb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// waitSavedAfter waits until the state file was written after t0.
func waitSavedAfter(t *testing.T, path string, after time.Time, run *fluentBitRun) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		if fi, err := os.Stat(path); err == nil && fi.ModTime().After(after) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not saved after %v", path, after)
		}
		select {
		case <-run.done:
			t.Fatalf("Fluent Bit exited: %v", run.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// countFiles counts the files under dir whose name ends with suffix.
func countFiles(dir, suffix string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), suffix) {
			n++
		}
		return nil
	})
	return n
}

// g. Filesystem buffering (storage.path, storage.type filesystem) and a
// SIGKILL in the middle of the run, then a restart on the same files.
//
//   - part 1: mallory reads q-a, q-b (1s, 2s), ciRunner p-a … p-c (3s … 5s):
//     `new` at 5s, delivered; the test waits for a state save after it.
//   - part 2, the receiver down: intruder reads r-a … r-c (7s … 9s): `new`
//     at 9s, in the spool; then 20000 lines of noise, which Fluent Bit is
//     still reading, buffering and flushing when it is killed.
//   - part 3, after the restart: mallory reads q-c (21s): `new` at 21s with
//     q-a, q-b from the saved state; backup reads b-a … b-c (22s … 24s):
//     `new` at 24s; the sentinel at 26s.
//
// Whatever the kill interrupted is done again at the restart (chunks
// replayed from storage.path, lines read again from the tail DB's offset,
// alerts sent again from the spool), so an alert may arrive twice, with the
// same alert.id; none may be missing, and no two alerts may share an id.
func TestFilesystemBufferingKill(t *testing.T) {
	part1 := noise(21, 40, 0, 150*time.Millisecond)
	part1 = append(part1, harvest(mallory, time.Second, time.Second, "q-a", "q-b")...)
	part1 = append(part1, harvest(ciRunner, 3*time.Second, time.Second, "p-a", "p-b", "p-c")...)
	part2 := harvest(intruder, 7*time.Second, time.Second, "r-a", "r-b", "r-c")
	part2 = append(part2, noise(22, 20000, 9500*time.Millisecond, 500*time.Microsecond)...)
	part3 := stream{{at: 21 * time.Second, c: mallory, name: "q-c"}}
	part3 = append(part3, harvest(backup, 22*time.Second, time.Second, "b-a", "b-b", "b-c")...)
	end, endWant := sentinel(26 * time.Second)
	part3 = append(part3, end...)
	number := func(s stream, from int) stream {
		for i := range s {
			s[i].id = from + i
		}
		return s
	}
	part2, part3 = number(part2, 1000), number(part3, 100000)
	wants := []want{
		{typ: "new", c: ciRunner, at: 5 * time.Second, names: []string{"p-a", "p-b", "p-c"}},
		{typ: "new", c: intruder, at: 9 * time.Second, names: []string{"r-a", "r-b", "r-c"}},
		{typ: "new", c: mallory, at: 21 * time.Second, names: []string{"q-a", "q-b", "q-c"}},
		{typ: "new", c: backup, at: 24 * time.Second, names: []string{"b-a", "b-b", "b-c"}},
		endWant,
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		dir := t.TempDir()
		log, spool, state, storage := filepath.Join(dir, "audit.log"), filepath.Join(dir, "spool"),
			filepath.Join(dir, "state.json"), filepath.Join(dir, "storage")
		env := []string{"AUDIT_LOG=" + log, "TAIL_DB=" + filepath.Join(dir, "tail.db"), "SPOOL_DIR=" + spool,
			"STATE_FILE=" + state, "STORAGE_PATH=" + storage}
		writeFile(t, log, joinLines(part1.lines()))
		rcv := receiver.Start(t, receiver.Options{})
		env = append(env, "ALERT_URL="+rcv.URL()+"/alerts")

		run := runFluentBit(t, fb, configPath(t, "storage.conf"), env...)
		got, err := rcv.WaitForAlerts(1, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		waitSavedAfter(t, state, got[0].Time, run)
		rcv.Down()
		appendFile(t, log, joinLines(part2.lines()))
		waitSpooled(t, spool, 1, run)
		run.kill()
		t.Logf("killed with %d chunk(s) in storage.path", countFiles(storage, ".flb"))
		noProblems(t, run.name, run.Output())

		if err := rcv.Up(); err != nil {
			t.Fatal(err)
		}
		again := runFluentBit(t, fb, configPath(t, "storage.conf"), env...)
		again.started(0)
		appendFile(t, log, joinLines(part3.lines()))
		waitForSentinel(t, rcv)
		again.stopClean()
		dedupedExactly(t, rcv.Alerts(), wants...)
	})
}
