package deliver

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

func TestEncodeBatch(t *testing.T) {
	items := []item{{out: []byte(`{"a":1}`)}, {out: []byte(`{"b":2}`)}}
	for _, c := range []struct {
		name  format.Name
		items []item
		want  string
	}{
		{format.JSON, items, `[{"a":1},{"b":2}]`},
		{format.JSONLines, items, "{\"a\":1}\n{\"b\":2}\n"},
		{format.JSON, items[:1], `[{"a":1}]`},
		{format.Alertmanager, items, `[{"a":1},{"b":2}]`},
		{format.SplunkHEC, items, `{"a":1}{"b":2}`},
		{format.Falco, items[:1], `{"a":1}`},
	} {
		if got := string(encodeBatch(&format.Format{Name: c.name}, c.items)); got != c.want {
			t.Errorf("%v: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPrepare(t *testing.T) {
	got, err := prepare([]byte("  {\n \"a\": \"x\\ny\"\n}\n"), 1024)
	if err != nil || string(got) != `{"a":"x\ny"}` {
		t.Errorf("compact: %q, %v", got, err)
	}
	src := []byte(`{"a":1}`)
	got, _ = prepare(src, 1024)
	src[2] = 'X'
	if string(got) != `{"a":1}` {
		t.Errorf("prepare must copy: %s", got)
	}
	for _, bad := range []string{"", "   ", `{"a":`, `not json`} {
		if _, err := prepare([]byte(bad), 1024); err == nil {
			t.Errorf("prepare(%q) accepted", bad)
		}
	}
	if _, err := prepare([]byte(`{"a":"`+strings.Repeat("x", 100)+`"}`), 64); err == nil {
		t.Error("oversized alert accepted")
	}
}

func TestClassifyStatus(t *testing.T) {
	for code, want := range map[int]outcome{
		200: outcomeSent, 202: outcomeSent, 204: outcomeSent,
		301: outcomeReject, 302: outcomeReject, 307: outcomeReject, 308: outcomeReject,
		400: outcomeReject, 401: outcomeReject, 403: outcomeReject, 404: outcomeReject, 413: outcomeReject,
		408: outcomeRetry, 429: outcomeRetry,
		500: outcomeRetry, 502: outcomeRetry, 503: outcomeRetry, 504: outcomeRetry,
	} {
		if got := classifyStatus(code); got != want {
			t.Errorf("classifyStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v,%v want %v,%v", c.in, got, ok, c.want, c.ok)
		}
	}
	if got := retryAfterCap(time.Second); got != time.Minute {
		t.Errorf("cap below a minute: %v", got)
	}
	if got := retryAfterCap(5 * time.Minute); got != 5*time.Minute {
		t.Errorf("cap follows a longer BackoffMax: %v", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	base, maxWait := 10*time.Millisecond, 80*time.Millisecond
	for attempt, ceil := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 4: 80 * time.Millisecond, 10: 80 * time.Millisecond, 500: 80 * time.Millisecond} {
		var top time.Duration
		for range 200 {
			d := backoff(attempt, base, maxWait)
			if d < 0 || d > ceil {
				t.Fatalf("backoff(%d) = %v outside [0,%v]", attempt, d, ceil)
			}
			top = max(top, d)
		}
		if top < ceil/2 {
			t.Errorf("backoff(%d) never above %v in 200 draws: not jittered over the full range", attempt, top)
		}
	}
}

func TestSpoolNames(t *testing.T) {
	name := spoolName(42, "abc-1")
	if name != "00000000000000000042-abc-1.json" {
		t.Errorf("name %s", name)
	}
	seq, id, ok := parseSpoolName(name)
	if !ok || seq != 42 || id != "abc-1" {
		t.Errorf("parse: %d %q %v", seq, id, ok)
	}
	if got := sanitizeID("../../etc/passwd"); strings.ContainsAny(got, "/") {
		t.Errorf("sanitize kept a separator: %s", got)
	}
	if got := sanitizeID(""); got != "alert" {
		t.Errorf("empty id: %s", got)
	}
	if len(sanitizeID(strings.Repeat("x", 500))) != 64 {
		t.Error("long id not truncated")
	}
	for _, bad := range []string{"x.json", "0000000000000000004-a.json", "00000000000000000000-a.json", "00000000000000000042-a.txt"} {
		if _, _, ok := parseSpoolName(bad); ok {
			t.Errorf("parsed %s", bad)
		}
	}
}

// TestNewFailsOnUnreadableFiles: the settings table checks every value,
// but files can vanish between the check and the start.
func TestNewFailsOnUnreadableFiles(t *testing.T) {
	l, _ := newLog(t)
	for name, o := range map[string]Options{
		"no token": {URL: "http://x/", BearerTokenFile: "/nonexistent/token"},
		"no ca":    {URL: "https://x/", TLSCAFile: "/nonexistent/ca.pem"},
	} {
		if s, err := New(o, l); err == nil {
			s.Close()
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}

// TestSpoolHandOver: a hot reload starts a new Sender on the spool
// directory before the old one stops. Each sends its own alerts; what the
// old one could not deliver is taken over by the new one when it stops.
func TestSpoolHandOver(t *testing.T) {
	l, logs := newLog(t)
	dir := t.TempDir()
	rc := newReceiver()
	srv := httptest.NewUnstartedServer(rc)
	addr := deadAddr(t)
	old := fastOpts("http://" + addr + "/")
	old.SpoolDir, old.SpoolMaxBytes, old.DrainTimeout = dir, 1<<20, 50*time.Millisecond
	s1 := mustNew(t, old, l)
	enqueueAll(t, s1, ids("old-", 5))

	s2 := mustNew(t, old, l)
	enqueueAll(t, s2, ids("new-", 3))
	s1.Close() // cannot deliver: its five stay in the spool for s2

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	all := append(ids("old-", 5), ids("new-", 3)...)
	waitDelivered(t, rc, all)
	waitFor(t, "an empty spool", func() bool { return s2.Stats().Pending == 0 })
	if st := s2.Stats(); st.Recovered != 5 || st.Sent != 8 {
		t.Fatalf("stats %+v", st)
	}
	if logs.lines("took over 5 alerts") != 1 {
		t.Fatalf("log:\n%s", logs.String())
	}
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		if !f.IsDir() {
			t.Errorf("left in the spool: %s", f.Name())
		}
	}
}

func TestTokenFileKeepsLastGoodToken(t *testing.T) {
	l, logs := newLog(t)
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, []byte("  first-token \n"))
	tf, err := newTokenFile("bearer token file", path, l)
	if err != nil {
		t.Fatal(err)
	}
	if got := tf.get(); got != "first-token" {
		t.Fatalf("token %q", got)
	}
	writeFile(t, path, []byte("\n"))
	if got := tf.get(); got != "first-token" {
		t.Errorf("empty rewrite replaced the token with %q", got)
	}
	os.Remove(path)
	if got := tf.get(); got != "first-token" {
		t.Errorf("removed file replaced the token with %q", got)
	}
	writeFile(t, path, []byte("second-token-longer"))
	if got := tf.get(); got != "second-token-longer" {
		t.Errorf("rotation not picked up: %q", got)
	}
	if logs.lines("cannot re-read bearer token file") != 1 {
		t.Error("failed re-read not logged once")
	}
	if strings.Contains(logs.String(), "first-token") {
		t.Error("token logged")
	}
	if _, err := newTokenFile("bearer token file", filepath.Join(t.TempDir(), "none"), l); err == nil {
		t.Error("missing token file accepted")
	}
}
