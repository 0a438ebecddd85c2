package e2e

// Helpers of the reliability tests (reliability_*_test.go): the issue
// "Reliability and security: fuzzed inputs, no alert lost across outages and
// restarts, bounded under attack, no secret leaves".
//
// Sizes: the default run keeps every flood and corpus moderate so that all
// reliability tests together stay well under two minutes on two cores.
// K8S_SECRET_ENUM_FULL=1 runs the full sizes the issue names (1 000 000
// fingerprints / names per flood).
//
// Product bugs these tests found (and that are fixed) are reported through
// bugf, with the description of the bug should it come back.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// fullSize reports whether K8S_SECRET_ENUM_FULL=1 asks for the full sizes.
func fullSize() bool { return os.Getenv("K8S_SECRET_ENUM_FULL") == "1" }

// stats is the last "stats:" line of an instance's stderr, as numbers by
// key. The keys are unique across the line's groups: skipped(not_audit=..
// gives "not_audit", delivery(sent=.. gives "sent", and so on.
type stats map[string]int64

var statsKV = regexp.MustCompile(`([a-z_]+)=(-?\d+)`)

// lastStats returns the last stats line of instance id ("#0", "#1", ...)
// in stderr; the test fails when there is none.
func lastStats(t *testing.T, stderr string, id int) stats {
	t.Helper()
	tag := fmt.Sprintf("[#%d] stats: ", id)
	var line string
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, tag); i >= 0 {
			line = l[i+len(tag):]
		}
	}
	if line == "" {
		t.Fatalf("no stats line for instance #%d in stderr:\n%s", id, tail(stderr, 4000))
	}
	s := stats{}
	for _, m := range statsKV.FindAllStringSubmatch(line, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		s[m[1]] = n
	}
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// nowBase is an event time ten seconds before the wall clock, whole
// seconds, as a live tail delivers events: not in the future
// (max_clock_skew), and within allowed_lateness (30s) of a watermark that a
// clamped future event moved to the wall clock (see
// TestReliabilityFutureEventBehindWallClock for what happens beyond).
func nowBase() time.Time { return time.Now().Add(-10 * time.Second).Truncate(time.Second) }

// at returns ev's offset for an event at time x (ev stamps base + at).
func at(x time.Time) time.Duration { return x.Sub(base) }

// record encodes one audit JSON line as one Fluent Bit record of the given
// shape (ParsedMap, LogString or EventList), stamped ts.
func record(t testing.TB, line []byte, shape chunk.Shape, ts time.Time) []byte {
	t.Helper()
	o := chunk.Options{Shape: shape, FixedTime: ts}
	recs, err := chunk.Records([][]byte{line}, o)
	if err != nil {
		t.Fatal(err)
	}
	return recs[0]
}

// rawRecord wraps an already encoded msgpack body in a V2 record.
func rawRecord(body []byte, ts time.Time) []byte {
	return chunk.AppendRecord(nil, ts, body, chunk.Options{})
}

// concat joins records into one chunk.
func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// startHost starts flbhost and registers a kill at cleanup.
func startHost(t *testing.T, c host.Config) *host.Process {
	t.Helper()
	if c.Bin == "" || c.SO == "" {
		c.Bin, c.SO = host.Build(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	p, err := host.Start(ctx, c)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		_, _ = p.Wait()
		cancel()
	})
	return p
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// spoolFiles lists the alert files of a spool directory (not the temp
// files, not corrupt/).
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// invalidBodies lists the requests whose body is not valid JSON. JSON text
// is UTF-8 (RFC 8259 §8.1) and Go's decoder quietly replaces invalid UTF-8,
// so the raw bytes are checked for both.
func invalidBodies(r *receiver.Receiver) []string {
	var out []string
	for _, q := range r.Requests() {
		if !utf8.Valid(q.RawBody) {
			out = append(out, fmt.Sprintf("request %d: body is not valid UTF-8: %.300q", q.Index, q.RawBody))
		} else if !json.Valid(q.RawBody) {
			out = append(out, fmt.Sprintf("request %d: body is not valid JSON: %.300q", q.Index, q.RawBody))
		}
	}
	return out
}

// wantValidBodies fails the test for every request whose body is not
// valid JSON.
func wantValidBodies(t *testing.T, r *receiver.Receiver) {
	t.Helper()
	for _, s := range invalidBodies(r) {
		t.Error(s)
	}
}

// bugf fails a test where a bug once found shows again, describing it.
func bugf(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Fatal("BUG: " + fmt.Sprintf(format, args...))
}

// idSet is a set of alert ids.
type idSet map[string]int

func ids(alerts []receiver.Alert) idSet {
	s := idSet{}
	for _, a := range alerts {
		s[a.ID]++
	}
	return s
}

func summaryIDs(ss []summary) idSet {
	s := idSet{}
	for _, a := range ss {
		s[a.ID]++
	}
	return s
}

// missing lists the ids of want that got lacks.
func (want idSet) missing(got idSet) []string {
	var out []string
	for id := range want {
		if got[id] == 0 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// extra lists the ids of got that want lacks.
func (want idSet) extra(got idSet) []string { return got.missing(want) }

// countLines counts the stderr lines holding every one of the substrings.
func countLines(stderr string, subs ...string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		ok := true
		for _, s := range subs {
			if !strings.Contains(l, s) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// readTree returns the contents of every regular file under dir.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			out[p] = b
		}
		return nil
	})
	return out
}

// harvestEvs is one client (user) reading three secrets at x, x+1s, x+2s.
func harvestEvs(user string, x time.Time, names ...string) []ev {
	if len(names) == 0 {
		names = []string{"db-password", "api-token", "registry-creds"}
	}
	var out []ev
	for i, n := range names {
		out = append(out, ev{at: at(x.Add(time.Duration(i) * time.Second)), name: n, user: user,
			auditID: fmt.Sprintf("%08x-0000-4000-8000-%012d", len(user)*7919+i, i)})
	}
	return out
}

// hasNames reports whether the alert lists exactly these names.
func hasNames(a receiver.Alert, names ...string) bool {
	got := strs(a, "Esql.secrets_names")
	want := append([]string(nil), names...)
	sort.Strings(want)
	return strings.Join(got, "\x00") == strings.Join(want, "\x00")
}

// alertsOf returns the alerts of one user.
func alertsOf(alerts []receiver.Alert, user string) []receiver.Alert {
	var out []receiver.Alert
	for _, a := range alerts {
		if str(a, "user.name") == user {
			out = append(out, a)
		}
	}
	return out
}
