package deliver

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func spoolOpts(url, dir string) Options {
	o := fastOpts(url)
	o.SpoolDir = dir
	o.SpoolMaxBytes = 1 << 20
	return o
}

// TestSpoolSurvivesAbandonedSender: a sender that dies mid-outage without
// Close leaves its alerts on disk, and the next sender on the directory
// delivers them first, in order.
func TestSpoolSurvivesAbandonedSender(t *testing.T) {
	dir := t.TempDir()
	l, logs := newLog(t)
	o := spoolOpts("http://"+deadAddr(t), dir)
	o.QueueSize, o.BatchMax = 4, 1 // most alerts are on disk only
	s, err := New(o, l)
	if err != nil {
		t.Fatal(err)
	}
	old := ids("crash", 20)
	enqueueAll(t, s, old)
	waitFor(t, "failed attempts", func() bool { return s.Stats().Requests >= 2 })
	if st := s.Stats(); st.Spooled != 20 || st.DroppedQueueFull != 0 {
		t.Errorf("stats %+v", st)
	}
	s.kill()
	if n := len(spoolFiles(t, dir)); n != 20 {
		t.Fatalf("%d spool files after the crash, want 20", n)
	}

	rc := newReceiver()
	srv := serve(t, rc)
	o.URL = srv.URL
	s2 := mustNew(t, o, l)
	if st := s2.Stats(); st.Recovered != 20 {
		t.Errorf("recovered %d", st.Recovered)
	}
	fresh := ids("fresh", 5)
	enqueueAll(t, s2, fresh)
	all := append(old, fresh...)
	waitDelivered(t, rc, all)
	st := s2.Close()
	checkBalance(t, st, 5)
	if got := rc.firstOrder(); !slices.Equal(got, all) {
		t.Errorf("delivery order %v", got)
	}
	if n := len(spoolFiles(t, dir)); n != 0 {
		t.Errorf("%d spool files left after delivery", n)
	}
	if !strings.Contains(logs.String(), "20 alerts") {
		t.Error("recovery not logged")
	}
}

// TestSpoolCrashChild is the process TestSpoolSurvivesSIGKILL kills.
func TestSpoolCrashChild(t *testing.T) {
	dir := os.Getenv("DELIVER_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process of TestSpoolSurvivesSIGKILL")
	}
	n, _ := strconv.Atoi(os.Getenv("DELIVER_CRASH_N"))
	s, err := New(spoolOpts(os.Getenv("DELIVER_CRASH_URL"), dir), nil)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, id := range ids("killed", n) {
		if !s.Enqueue(id, alertBody(id)) {
			fmt.Println("error: refused", id)
			return
		}
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
}

func TestSpoolSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolCrashChild$")
	cmd.Env = append(os.Environ(),
		"DELIVER_CRASH_DIR="+dir,
		"DELIVER_CRASH_URL=http://"+deadAddr(t),
		"DELIVER_CRASH_N=15")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill() // SIGKILL: no deferred code, no Close
	cmd.Wait()
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("child said %q", line)
	}

	rc := newReceiver()
	srv := serve(t, rc)
	l, _ := newLog(t)
	s := mustNew(t, spoolOpts(srv.URL, dir), l)
	want := ids("killed", 15)
	waitDelivered(t, rc, want)
	st := s.Close()
	checkBalance(t, st, 0)
	if st.Recovered != 15 || st.Sent != 15 {
		t.Errorf("stats %+v", st)
	}
}

func TestSpoolCorruptMovedAside(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, spoolName(1, "good-1")), alertBody("good-1"))
	writeFile(t, filepath.Join(dir, spoolName(2, "torn")), alertBody("torn")[:30])
	writeFile(t, filepath.Join(dir, spoolName(3, "good-2")), alertBody("good-2"))
	writeFile(t, filepath.Join(dir, tempPrefix+"123456"), alertBody("half")[:10])
	writeFile(t, filepath.Join(dir, "README"), []byte("not ours"))

	rc := newReceiver()
	srv := serve(t, rc)
	l, logs := newLog(t)
	s := mustNew(t, spoolOpts(srv.URL, dir), l)
	waitDelivered(t, rc, []string{"good-1", "good-2"})
	enqueueAll(t, s, []string{"new-1"})
	waitDelivered(t, rc, []string{"new-1"})
	st := s.Close()
	checkBalance(t, st, 1)
	if st.Recovered != 3 || st.SpoolCorrupt != 1 || st.Sent != 3 {
		t.Errorf("stats %+v", st)
	}
	moved := spoolFiles(t, filepath.Join(dir, corruptDir))
	if !slices.Equal(moved, []string{tempPrefix + "123456", spoolName(2, "torn")}) {
		t.Errorf("moved aside: %v", moved)
	}
	if left := spoolFiles(t, dir); !slices.Equal(left, []string{"README"}) {
		t.Errorf("left in spool: %v", left)
	}
	if !strings.Contains(logs.String(), "not valid JSON") {
		t.Error("corrupt file not logged")
	}
}

// TestSpoolMaxBytes: alerts beyond the spool bound are refused and counted;
// those accepted all arrive once the receiver is back.
func TestSpoolMaxBytes(t *testing.T) {
	addr := deadAddr(t)
	dir := t.TempDir()
	l, logs := newLog(t)
	o := spoolOpts("http://"+addr, dir)
	o.QueueSize = 2
	o.SpoolMaxBytes = int64(3 * len(alertBody("max-000")))
	s := mustNew(t, o, l)
	var accepted []string
	for _, id := range ids("max", 5) {
		if s.Enqueue(id, alertBody(id)) {
			accepted = append(accepted, id)
		}
	}
	if st := s.Stats(); len(accepted) != 3 || st.SpoolDropped != 2 {
		t.Fatalf("accepted %v, stats %+v", accepted, st)
	}
	if logs.lines("spool "+s.spool.dir+" full") != 1 {
		t.Error("spool full not logged once")
	}
	rc := newReceiver()
	serveOn(t, addr, rc)
	waitDelivered(t, rc, accepted)
	waitFor(t, "settled", func() bool { return s.Stats().Sent == 3 })
	// Delivered alerts free their room.
	enqueueAll(t, s, []string{"max-again"})
	waitDelivered(t, rc, []string{"max-again"})
	st := s.Close()
	checkBalance(t, st, 6)
}

// TestSpoolOutlastsQueue: with a spool, an outage longer than QueueSize
// alerts drops nothing, and Close during the outage leaves the alerts for
// the next start.
func TestSpoolOutlastsQueue(t *testing.T) {
	addr := deadAddr(t)
	dir := t.TempDir()
	l, logs := newLog(t)
	o := spoolOpts("http://"+addr, dir)
	o.QueueSize = 3
	o.DrainTimeout = 50 * time.Millisecond
	s := mustNew(t, o, l)
	want := ids("long", 50)
	enqueueAll(t, s, want)
	st := s.Close()
	checkBalance(t, st, 50)
	if st.DroppedQueueFull != 0 || st.DroppedAtClose != 0 || st.Pending != 50 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "50 alerts remain in the spool") {
		t.Error("remaining alerts not reported at close")
	}

	rc := newReceiver()
	serveOn(t, addr, rc)
	o.DrainTimeout = 3 * time.Second
	s2 := mustNew(t, o, l)
	waitDelivered(t, rc, want)
	if got := rc.firstOrder(); !slices.Equal(got, want) {
		t.Errorf("order %v", got)
	}
	st = s2.Close()
	checkBalance(t, st, 0)
	if st.Recovered != 50 || st.Sent != 50 {
		t.Errorf("stats %+v", st)
	}
}

// TestSpoolRejectedRemoved: a batch the receiver refuses does not stay in
// the spool to be refused again at every start.
func TestSpoolRejectedRemoved(t *testing.T) {
	dir := t.TempDir()
	rc := newReceiver()
	rc.setFault(statusFor(1000, http.StatusUnprocessableEntity, nil))
	srv := serve(t, rc)
	l, _ := newLog(t)
	s := mustNew(t, spoolOpts(srv.URL, dir), l)
	enqueueAll(t, s, ids("rej", 3))
	waitFor(t, "rejection", func() bool { return s.Stats().Rejected == 3 })
	checkBalance(t, s.Close(), 3)
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Errorf("left in spool: %v", left)
	}
}
