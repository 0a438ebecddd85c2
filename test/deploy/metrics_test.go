package deploy

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/metricscrape"
)

// TestMetricsEndpointServes runs the configuration rendered with
// values-metrics.yaml in the real Fluent Bit: the endpoint of its
// metrics_listen (moved to a free loopback port; TestMetricsScrape checks
// the rendered port against the pod's) answers /healthz, and a scrape,
// parsed with Prometheus' text parser, counts the harvest appended to the
// audit log: 4 audit events, 3 matching (the Helm release read is
// excluded), one `new` alert, sent.
func TestMetricsEndpointServes(t *testing.T) {
	bins := fluentBits(t)
	so := soPath(t)
	p := daemonSetPod(t, variants[1].objs(t))
	c, _ := p.mainContainer()
	cfg, problems := p.loadConfig(c)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	auditLog := cfg.auditLog()
	if outputProperties(cfg).Get("metrics_listen") == "" || auditLog == "" {
		t.Fatalf("the metrics values render no metrics_listen or no audit log")
	}
	for _, fb := range bins {
		t.Run(fb.Version, func(t *testing.T) {
			fs := materialize(t, p, so)
			rcv := newReceiver(t)
			addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
			setKey(t, fs.config, "SERVICE", "", "HTTP_Listen", "127.0.0.1")
			setKey(t, fs.config, "SERVICE", "", "HTTP_Port", strconv.Itoa(freePort(t)))
			setKey(t, fs.config, "OUTPUT", pluginName, "alert_url", rcv.URL+"/alerts")
			setKey(t, fs.config, "OUTPUT", pluginName, "metrics_listen", addr)
			logPath := fs.host(auditLog)
			writeFile(t, logPath, "", 0o600)
			var logs syncBuffer
			proc := startWatching(t, &logs, fb.Path, logPath, fs.args...)
			if code, body := get(t, "http://"+addr+"/healthz"); code != 200 || body != "output 0: ok\n" {
				t.Errorf("/healthz: %d %q", code, body)
			}
			appendHarvest(t, logPath)
			select {
			case <-rcv.alerts:
			case <-proc.done:
				t.Fatalf("fluent-bit exited (%v) before an alert:\n%s", proc.err, logs.String())
			case <-time.After(time.Minute):
				t.Fatalf("no alert within a minute:\n%s", logs.String())
			}
			want := map[string]float64{
				"k8s_secret_enum_audit_events_total":                4,
				"k8s_secret_enum_matching_events_total":             3,
				`k8s_secret_enum_alerts_total{type="new"}`:          1,
				"k8s_secret_enum_alerts_sent_total":                 1,
				`k8s_secret_enum_skipped_total{reason="not_audit"}`: 0,
				"k8s_secret_enum_fingerprints":                      1,
			}
			var got map[string]float64
			// the receiver has the alert a moment before the sender has
			// its answer
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
				got = scrapeOutput(t, addr, "0")
				if got["k8s_secret_enum_alerts_sent_total"] >= 1 || time.Now().After(deadline) {
					break
				}
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-proc.done:
			case <-time.After(time.Minute):
				t.Fatalf("fluent-bit still running a minute after SIGTERM")
			}
			if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
				c.Close()
				t.Errorf("%s still open after Fluent Bit exited", addr)
			}
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := metricscrape.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// scrapeOutput returns the plugin's series of one output label (metricscrape).
func scrapeOutput(t *testing.T, addr, output string) map[string]float64 {
	t.Helper()
	s, err := metricscrape.Scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s[output]
}
