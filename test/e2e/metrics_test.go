package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/metricscrape"
)

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrapeSeries returns the plugin's series of one output label (metricscrape).
func scrapeSeries(t *testing.T, addr, output string) map[string]float64 {
	t.Helper()
	s, err := metricscrape.Scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s[output]
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := metricscrape.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

func connRefused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return true
}

// TestMetricsScrape: two instances on one metrics_listen address, a known
// input, a scrape while the host sleeps before exit. Instance 0 (threshold
// 3) alerts once, instance 1 (threshold 4) does not; the values are those
// of the input, written out here, and those of each instance's stats line
// at exit. After the exit nothing listens.
func TestMetricsScrape(t *testing.T) {
	ls := harvest() // 63 audit lines, 3 of them matching, the last at 5.901s (see harvest)
	junk := [][]byte{[]byte(`{"msg":"not an audit event"}`), []byte(`{"level":"info","msg":"hello"}`)}
	audit := mustChunks(t, ls, chunk.Options{Shape: chunk.ParsedMap}, 0)
	notAudit := mustChunks(t, junk, chunk.Options{Shape: chunk.ParsedMap}, 0)
	chunks := append(append([][]byte(nil), audit...), notAudit...)
	addr := freeAddr(t)
	rcv := startReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, so := host.Build(t)
	p, err := host.Start(ctx, host.Config{Bin: bin, SO: so, SleepBeforeExit: 2 * time.Minute, Instances: []host.Instance{
		{Props: props(rcv.URL()+"/alerts", "metrics_listen", addr, "idle_timeout", "0"), Chunks: chunks},
		{Props: props(rcv.URL()+"/alerts", "metrics_listen", addr, "idle_timeout", "0", "threshold", "4"), Chunks: chunks},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitForStep("sleep", time.Minute); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, p.Stderr())
	}
	if _, err := rcv.WaitForAlerts(1, time.Minute); err != nil {
		t.Fatal(err)
	}
	// The receiver has the alert before the sender has its answer.
	var s0 map[string]float64
	deadline := time.Now().Add(time.Minute)
	for s0 = scrapeSeries(t, addr, "0"); s0["k8s_secret_enum_alerts_sent_total"] < 1 && time.Now().Before(deadline); s0 = scrapeSeries(t, addr, "0") {
		time.Sleep(20 * time.Millisecond)
	}
	s1 := scrapeSeries(t, addr, "1")
	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 || body != "output 0: ok\noutput 1: ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	n := float64(len(chunks))
	common := map[string]float64{
		"k8s_secret_enum_flushes_total":                           n,
		"k8s_secret_enum_records_total":                           float64(len(ls) + len(junk)),
		"k8s_secret_enum_audit_events_total":                      float64(len(ls)),
		"k8s_secret_enum_matching_events_total":                   3,
		`k8s_secret_enum_skipped_total{reason="not_audit"}`:       2,
		`k8s_secret_enum_skipped_total{reason="malformed"}`:       0,
		`k8s_secret_enum_alerts_total{type="update"}`:             0,
		"k8s_secret_enum_fingerprints":                            1,
		"k8s_secret_enum_names":                                   3,
		"k8s_secret_enum_alerts_pending":                          0,
		"k8s_secret_enum_alert_queue_capacity":                    10000,
		"k8s_secret_enum_spool_limit_bytes":                       0,
		`k8s_secret_enum_alerts_dropped_total{reason="rejected"}`: 0,
	}
	check := func(name string, got map[string]float64, want map[string]float64) {
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("output %s: %s = %v (present %v), want %v", name, k, g, ok, v)
			}
		}
	}
	check("0", s0, common)
	check("1", s1, common)
	check("0", s0, map[string]float64{`k8s_secret_enum_alerts_total{type="new"}`: 1, "k8s_secret_enum_alerts_sent_total": 1,
		"k8s_secret_enum_alerts_enqueued_total": 1, "k8s_secret_enum_delivery_requests_total": 1,
		"k8s_secret_enum_watermark_seconds": float64(base.Add(5901*time.Millisecond).UnixNano()) / 1e9})
	check("1", s1, map[string]float64{`k8s_secret_enum_alerts_total{type="new"}`: 0, "k8s_secret_enum_alerts_sent_total": 0})

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, res)
	// The stats line at exit says the same (nothing happened in between:
	// no input, no alert at exit).
	for i, s := range []map[string]float64{s0, s1} {
		st := lastStats(t, res.Stderr, i)
		for key, name := range map[string]string{
			"flushes": "k8s_secret_enum_flushes_total", "records": "k8s_secret_enum_records_total",
			"audit_events": "k8s_secret_enum_audit_events_total", "matching": "k8s_secret_enum_matching_events_total",
			"not_audit": `k8s_secret_enum_skipped_total{reason="not_audit"}`, "new": `k8s_secret_enum_alerts_total{type="new"}`,
			"sent": "k8s_secret_enum_alerts_sent_total", "fingerprints": "k8s_secret_enum_fingerprints", "names": "k8s_secret_enum_names",
		} {
			if float64(st[key]) != s[name] {
				t.Errorf("instance %d: stats line %s=%d, scrape %s=%v", i, key, st[key], name, s[name])
			}
		}
	}
	if !connRefused(addr) {
		t.Errorf("%s still accepts connections after both instances exited", addr)
	}
	if !strings.Contains(res.Stderr, "metrics: serving http://"+addr+"/metrics") {
		t.Errorf("the start of the endpoint was not logged:\n%s", res.Stderr)
	}
}

// TestMetricsListenRefused: an address that cannot be bound (another
// listener holds it) or is not an address stops the instance at Init,
// with a line naming metrics_listen.
func TestMetricsListenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct{ value, want string }{
		{ln.Addr().String(), "cannot listen"},
		{"localhost", "want host:port"},
	} {
		res := run(t, host.Config{Instances: []host.Instance{{Props: props("http://127.0.0.1:9/alerts", "metrics_listen", c.value)}}})
		if rc, _ := res.InitRC(0); rc != 0 || res.ExitCode != host.StatusInitFailed {
			t.Errorf("metrics_listen %s: init rc %d, exit %d; want a failed Init", c.value, rc, res.ExitCode)
		}
		if !strings.Contains(res.Stderr, `key "metrics_listen"`) || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("metrics_listen %s: stderr does not name the key and %q:\n%s", c.value, c.want, res.Stderr)
		}
	}
}

// TestMetricsHotReloadOverlap: flbhost's reload initialises the new
// instances while the old ones still run (their endpoint is open), then
// stops the old ones. The new instances share the old ones' server (the
// port is not "busy") and take their output labels over; the server
// closes with the last exit.
func TestMetricsHotReloadOverlap(t *testing.T) {
	addr := freeAddr(t)
	rcv := startReceiver(t)
	chunks := mustChunks(t, harvest(), chunk.Options{}, 0)
	res := run(t, host.Config{Reload: true, Instances: []host.Instance{
		{Props: props(rcv.URL()+"/alerts", "metrics_listen", addr), Chunks: chunks},
		{Props: props(rcv.URL()+"/alerts", "metrics_listen", addr, "threshold", "4"), Chunks: chunks},
	}})
	wantOK(t, res)
	for i := 0; i < 4; i++ {
		if rc, _ := res.InitRC(i); rc != 1 {
			t.Fatalf("init %d rc %d\n%s", i, rc, res.Stderr)
		}
	}
	for _, out := range []string{"0", "1"} {
		if !strings.Contains(res.Stderr, fmt.Sprintf("output %q is taken over by this instance", out)) {
			t.Errorf("output %s: no takeover at the reload:\n%s", out, res.Stderr)
		}
	}
	if n := strings.Count(res.Stderr, "metrics: serving"); n != 1 {
		t.Errorf("the endpoint was started %d times, want once (shared across the reload)", n)
	}
	if !connRefused(addr) {
		t.Errorf("%s still open after every instance exited", addr)
	}
}
