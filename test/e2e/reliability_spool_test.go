package e2e

// Durable spool: alerts written to alert_spool_dir survive a SIGKILL of the
// process and are delivered by the next start, which needs no new chunk.
// Damaged spool files are moved aside and logged, never fatal.

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

// spooledIDs returns the alert ids named by the spool files.
func spooledIDs(files []string) idSet {
	s := idSet{}
	for _, f := range files {
		// <20-digit sequence>-<id>.json
		if len(f) > 26 {
			s[strings.TrimSuffix(f[21:], ".json")]++
		}
	}
	return s
}

func TestReliabilitySpoolSurvivesSIGKILL(t *testing.T) {
	ref := referenceIDs(t)
	r := startReceiver(t)
	r.Down()
	spool := t.TempDir()
	kv := fastDelivery("alert_spool_dir", spool)
	_, chunks := deliveryCorpus(t)
	p := startHost(t, host.Config{
		Instances:       []host.Instance{{Props: props(r.URL(), kv...), Chunks: chunks}},
		SleepBeforeExit: time.Minute,
	})
	if _, err := p.WaitForStep("sleep", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Every alert decided while the chunks flowed is on disk once Enqueue
	// returned: the twelve new alerts and the two updates whose mute period
	// ended before the last event (the others are decided at exit, which a
	// SIGKILL never reaches).
	const want = deliveryHarvesters + 2
	var files []string
	if !waitFor(5*time.Second, func() bool { files = spoolFiles(t, spool); return len(files) >= want }) {
		t.Fatalf("%d spool files after the flushes, want %d\n%s", len(files), want, p.Stderr())
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Wait()
	if res.Signal == "" {
		t.Fatalf("host not killed: exit %d", res.ExitCode)
	}
	files = spoolFiles(t, spool)
	spooled := spooledIDs(files)
	if len(files) != want || len(spooled) != want {
		t.Fatalf("after SIGKILL: %d spool files (%d ids), want %d: %v", len(files), len(spooled), want, files)
	}
	if e := ref.extra(spooled); len(e) > 0 {
		t.Fatalf("spooled ids not in the reference: %v", e)
	}
	if n := len(r.Requests()); n != 0 {
		t.Fatalf("the receiver was down but got %d requests", n)
	}

	// Start again, no chunks, receiver up: everything spooled arrives.
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res = run(t, host.Config{SleepBeforeExit: 500 * time.Millisecond, Instances: []host.Instance{{Props: props(r.URL(), kv...)}}})
	wantOK(t, res)
	got := ids(r.Alerts())
	t.Logf("SIGKILL with %d alerts spooled; the next start delivered %d distinct alerts in %v", len(spooled), len(got), time.Since(start).Round(time.Millisecond))
	if m := spooled.missing(got); len(m) > 0 {
		t.Errorf("%d spooled alert(s) never arrived: %v\n%s", len(m), m, tail(res.Stderr, 3000))
	}
	if !strings.Contains(res.Stderr, "14 alerts") || !strings.Contains(res.Stderr, "left by a previous run are sent first") {
		t.Errorf("the start does not report the adopted spool:\n%s", tail(res.Stderr, 3000))
	}
	if n := len(spoolFiles(t, spool)); n != 0 {
		t.Errorf("%d files still in the spool after delivery", n)
	}
	st := lastStats(t, res.Stderr, 0)
	if st["sent"] != want || st["dropped"] != 0 {
		t.Errorf("stats after restart: %v", st)
	}
	wantValidBodies(t, r)
}

// TestReliabilitySpoolCorruptFiles: a spool left with a good alert, a
// truncated one, an empty one, the temp file of an interrupted write and a
// stray file. The start succeeds, the good alert is delivered, every
// damaged file is moved to corrupt/ with a log line naming it, the stray
// file is left alone, and the loss is counted.
func TestReliabilitySpoolCorruptFiles(t *testing.T) {
	r := startReceiver(t)
	spool := t.TempDir()
	good := `{"@timestamp":"2026-11-25T10:00:03.000000000Z","alert":{"id":"2097e8d1-860a-53f5-8fc9-407f50cca156","type":"new"}}`
	files := map[string]string{
		"00000000000000000001-2097e8d1-860a-53f5-8fc9-407f50cca156.json": good,
		"00000000000000000002-11111111-1111-5111-8111-111111111111.json": good[:40],
		"00000000000000000003-22222222-2222-5222-8222-222222222222.json": "",
		".tmp-123456": good[:10],
		"README":      "not a spool file",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(spool, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res := run(t, host.Config{SleepBeforeExit: 300 * time.Millisecond, Instances: []host.Instance{
		{Props: props(r.URL(), fastDelivery("alert_spool_dir", spool)...)}}})
	wantOK(t, res)
	if rc, _ := res.InitRC(0); rc != 1 {
		t.Fatalf("init rc %d\n%s", rc, res.Stderr)
	}
	if got := r.AlertIDs(); len(got) != 1 || got[0] != "2097e8d1-860a-53f5-8fc9-407f50cca156" {
		t.Errorf("delivered %v, want the one good alert", got)
	}
	aside, _ := os.ReadDir(filepath.Join(spool, "corrupt"))
	var moved []string
	for _, e := range aside {
		moved = append(moved, e.Name())
	}
	sort.Strings(moved)
	wantMoved := []string{".tmp-123456", "00000000000000000002-11111111-1111-5111-8111-111111111111.json", "00000000000000000003-22222222-2222-5222-8222-222222222222.json"}
	if strings.Join(moved, ",") != strings.Join(wantMoved, ",") {
		t.Errorf("moved aside %v, want %v", moved, wantMoved)
	}
	for _, name := range wantMoved {
		if countLines(res.Stderr, "spool: moved "+name) != 1 {
			t.Errorf("no log line for %s:\n%s", name, res.Stderr)
		}
	}
	if n := countLines(res.Stderr, "cannot be read back", "it is lost"); n != 2 {
		t.Errorf("%d 'cannot be read back' lines, want 2", n)
	}
	if _, err := os.Stat(filepath.Join(spool, "README")); err != nil {
		t.Errorf("the stray file was touched: %v", err)
	}
	if left := spoolFiles(t, spool); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
	st := lastStats(t, res.Stderr, 0)
	t.Logf("corrupt spool: stats %v", st)
	if st["sent"] != 1 || st["dropped"] != 2 {
		t.Errorf("stats sent=%d dropped=%d, want 1 and 2 (the two unreadable alerts)", st["sent"], st["dropped"])
	}
}

// TestReliabilitySpoolAcrossHotReload: the README's deployment sets
// alert_spool_dir, and Fluent Bit's hot reload initialises the new
// instances while the old ones still exist (flbhost --reload does the
// same). The new instance must start on the same spool directory, or the
// reload fails and the pipeline stops.
func TestReliabilitySpoolAcrossHotReload(t *testing.T) {
	r := startReceiver(t)
	spool := filepath.Join(t.TempDir(), "spool")
	res := run(t, host.Config{Reload: true, Instances: []host.Instance{
		{Props: props(r.URL(), fastDelivery("alert_spool_dir", spool)...), Chunks: mustChunks(t, harvest(), chunk.Options{}, 0)},
	}})
	if len(res.Inits) != 2 || res.Inits[0].RC != 1 {
		t.Fatalf("inits %+v\n%s", res.Inits, res.Stderr)
	}
	if res.Inits[1].RC != 1 {
		bugf(t, "hot reload with alert_spool_dir: the new instance's init fails (rc %d, host exit %d) with %q, because the old "+
			"instance still holds the directory in the process-wide spoolsInUse map until its exit, which comes after the new init",
			res.Inits[1].RC, res.ExitCode, firstLine(res.Stderr, "already used"))
	}
	wantOK(t, res)
	if a := r.Alerts(); len(a) != 2 || a[0].ID != a[1].ID {
		t.Errorf("alerts %+v, want the harvest from each generation", summarize(a))
	}
}

// firstLine returns the first stderr line holding sub.
func firstLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
