package flb

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/metricscrape"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// scrape returns the plugin's series by output label (metricscrape).
func scrape(t *testing.T, addr string) map[string]map[string]float64 {
	t.Helper()
	s, err := metricscrape.Scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, err := metricscrape.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

// leases is n kubelet lease renewals from `from` on: audit events that do
// not match the rule.
func leases(n int, from time.Duration) stream {
	var s stream
	for i := 0; i < n; i++ {
		s = append(s, ev{at: from + time.Duration(i)*100*time.Millisecond, c: client{"system:node:node-1", "10.0.0.11", "kubelet/v1.30.1"},
			verb: "update", resource: "leases", namespace: "kube-node-lease", name: "node-1"})
	}
	return s
}

// i. The metrics endpoint in a real Fluent Bit: two outputs on one
// metrics_listen address (labels output="0" and "1"), a scrape parsed with
// Prometheus' text parser and checked against the input, then a hot reload
// (SIGHUP): the endpoint answers again for both outputs under the same
// labels, with the new instances' counters.
//
//   - before: 10 lease renewals, ciRunner's p-a … p-c (1s … 3s), the
//     sentinel at 5s: 16 records, 6 matching; output 0 alerts twice.
//   - after: 5 lease renewals, intruder's r-a … r-c (11s … 13s), the
//     sentinel at 15s (a new instance without a state file alerts on it
//     again): 11 records, 6 matching, 2 alerts.
func TestMetricsEndpoint(t *testing.T) {
	before := leases(10, 0)
	before = append(before, harvest(ciRunner, time.Second, time.Second, "p-a", "p-b", "p-c")...)
	end1, _ := sentinel(5 * time.Second)
	before = append(before, end1...)
	after := leases(5, 10*time.Second)
	after = append(after, harvest(intruder, 11*time.Second, time.Second, "r-a", "r-b", "r-c")...)
	end2, _ := sentinel(15 * time.Second)
	after = append(after, end2...)
	for i := range after {
		after[i].id = 1000 + i
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		dir := t.TempDir()
		log := filepath.Join(dir, "audit.log")
		writeFile(t, log, joinLines(before.lines()))
		rcv := receiver.Start(t, receiver.Options{})
		addr := freeAddr(t)
		run := runFluentBit(t, fb, configPath(t, "metrics.conf"), "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts",
			"TAIL_DB="+filepath.Join(dir, "tail.db"), "METRICS_LISTEN="+addr)

		settled := func(alerts int, records float64) map[string]map[string]float64 {
			t.Helper()
			if _, err := rcv.WaitForAlerts(alerts, waitLimit); err != nil {
				t.Fatal(err)
			}
			// The receiver has the alerts a moment before the sender has
			// their answers, and the two outputs flush independently: under
			// load output 1 may not have had its flush yet.
			deadline := time.Now().Add(waitLimit)
			for {
				s := scrape(t, addr)
				if (s["0"]["k8s_secret_enum_alerts_sent_total"] >= 2 && s["1"]["k8s_secret_enum_records_total"] >= records) ||
					time.Now().After(deadline) {
					return s
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		check := func(phase string, s map[string]map[string]float64, records, alerts float64) {
			t.Helper()
			for out, want := range map[string]map[string]float64{
				"0": {"k8s_secret_enum_records_total": records, "k8s_secret_enum_audit_events_total": records,
					"k8s_secret_enum_matching_events_total": 6, `k8s_secret_enum_alerts_total{type="new"}`: alerts,
					"k8s_secret_enum_alerts_sent_total": alerts, "k8s_secret_enum_fingerprints": 2, "k8s_secret_enum_names": 6,
					`k8s_secret_enum_skipped_total{reason="malformed"}`: 0, "k8s_secret_enum_alerts_pending": 0},
				"1": {"k8s_secret_enum_records_total": records, "k8s_secret_enum_matching_events_total": 6,
					`k8s_secret_enum_alerts_total{type="new"}`: 0, "k8s_secret_enum_alerts_sent_total": 0},
			} {
				for k, v := range want {
					if got, ok := s[out][k]; !ok || got != v {
						t.Errorf("%s: output %s: %s = %v (present %v), want %v", phase, out, k, got, ok, v)
					}
				}
			}
			if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 || body != "output 0: ok\noutput 1: ok\n" {
				t.Errorf("%s: /healthz: %d %q", phase, code, body)
			}
		}

		check("before the reload", settled(2, 16), 16, 2)

		run.signal(syscall.SIGHUP, false)
		run.started(3)
		if s := scrape(t, addr); s["0"]["k8s_secret_enum_records_total"] != 0 || s["1"]["k8s_secret_enum_records_total"] != 0 {
			t.Errorf("after the reload, before new lines: records %v, %v; want 0 (new instances, the tail DB resumes)",
				s["0"]["k8s_secret_enum_records_total"], s["1"]["k8s_secret_enum_records_total"])
		}
		appendFile(t, log, joinLines(after.lines()))
		check("after the reload", settled(4, 11), 11, 2)
		t.Logf("reload: endpoint started %d times, %d output(s) taken over while the old instance still ran",
			strings.Count(run.Output(), "metrics: serving"), strings.Count(run.Output(), "is taken over"))

		run.stopClean()
		if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
			c.Close()
			t.Errorf("%s still open after Fluent Bit exited", addr)
		}
	})
}

// i2. A metrics_listen address another process holds stops Fluent Bit at
// start, with a line naming the key.
func TestMetricsListenBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		dir := t.TempDir()
		log := filepath.Join(dir, "audit.log")
		writeFile(t, log, nil)
		run := runFluentBit(t, fb, configPath(t, "metrics.conf"), "AUDIT_LOG="+log, "ALERT_URL=http://127.0.0.1:9/alerts",
			"TAIL_DB="+filepath.Join(dir, "tail.db"), "METRICS_LISTEN="+ln.Addr().String())
		if err := run.wait(); err == nil {
			t.Fatalf("Fluent Bit started with metrics_listen %s taken", ln.Addr())
		}
		if out := run.Output(); !strings.Contains(out, `key "metrics_listen"`) || !strings.Contains(out, "address already in use") {
			t.Errorf("no line names metrics_listen and the cause:\n%s", out)
		}
	})
}
