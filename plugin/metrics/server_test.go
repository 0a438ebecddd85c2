package metrics

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// fake is a Source with settable answers.
type fake struct {
	mu      sync.Mutex
	snap    Snapshot
	health  error
	panicky atomic.Bool
}

func (f *fake) Metrics() Snapshot {
	if f.panicky.Load() {
		panic("fake: Metrics")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fake) Healthy() error {
	if f.panicky.Load() {
		panic("fake: Healthy")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health
}

// known is a snapshot whose every field has a distinct value, so that a
// metric wired to the wrong field shows.
func known() Snapshot {
	return Snapshot{
		Flushes: 1, Records: 2, AuditEvents: 3, Matching: 4,
		NotAudit: 5, Malformed: 6, Truncated: 7, GroupMarkers: 8, NoTime: 9,
		Late: 10, TooLate: 11, FutureClamped: 12,
		AlertsNew: 13, AlertsUpdate: 14, AlertsCut: 15, Evaluations: 16,
		FingerprintsEvicted: 17, NamesDropped: 18, EventsCoalesced: 19, Fingerprints: 20, Names: 21,
		Watermark: 1_764_064_803_500_000_000,
		Enqueued:  22, Recovered: 23, Sent: 24, Requests: 25, Retries: 26, Spooled: 27, SpoolErrors: 28, SenderPanics: 29,
		Rejected: 30, QueueFull: 31, Closed: 32, Invalid: 33, RetriesExhausted: 34, AtClose: 35, SpoolFull: 36, SpoolCorrupt: 37, Unencodable: 38,
		Pending: 38, QueueCapacity: 39, SpoolBytes: 40, SpoolLimitBytes: 41,
	}
}

// wantKnown is known() as scraped: name{labels} value, output "0".
var wantKnown = map[string]float64{
	"k8s_secret_enum_flushes_total":                                    1,
	"k8s_secret_enum_records_total":                                    2,
	"k8s_secret_enum_audit_events_total":                               3,
	"k8s_secret_enum_matching_events_total":                            4,
	`k8s_secret_enum_skipped_total{reason="not_audit"}`:                5,
	`k8s_secret_enum_skipped_total{reason="malformed"}`:                6,
	`k8s_secret_enum_skipped_total{reason="truncated"}`:                7,
	`k8s_secret_enum_skipped_total{reason="group_marker"}`:             8,
	`k8s_secret_enum_skipped_total{reason="no_time"}`:                  9,
	"k8s_secret_enum_late_events_total":                                10,
	"k8s_secret_enum_too_late_events_total":                            11,
	"k8s_secret_enum_future_clamped_events_total":                      12,
	`k8s_secret_enum_alerts_total{type="new"}`:                         13,
	`k8s_secret_enum_alerts_total{type="update"}`:                      14,
	"k8s_secret_enum_alerts_cut_total":                                 15,
	"k8s_secret_enum_evaluations_total":                                16,
	"k8s_secret_enum_fingerprints_evicted_total":                       17,
	"k8s_secret_enum_names_dropped_total":                              18,
	"k8s_secret_enum_events_coalesced_total":                           19,
	"k8s_secret_enum_fingerprints":                                     20,
	"k8s_secret_enum_names":                                            21,
	"k8s_secret_enum_watermark_seconds":                                1_764_064_803.5,
	"k8s_secret_enum_alerts_enqueued_total":                            22,
	"k8s_secret_enum_alerts_recovered_total":                           23,
	"k8s_secret_enum_alerts_sent_total":                                24,
	"k8s_secret_enum_delivery_requests_total":                          25,
	"k8s_secret_enum_delivery_retries_total":                           26,
	"k8s_secret_enum_alerts_spooled_total":                             27,
	"k8s_secret_enum_spool_write_errors_total":                         28,
	"k8s_secret_enum_sender_panics_total":                              29,
	`k8s_secret_enum_alerts_dropped_total{reason="rejected"}`:          30,
	`k8s_secret_enum_alerts_dropped_total{reason="queue_full"}`:        31,
	`k8s_secret_enum_alerts_dropped_total{reason="closed"}`:            32,
	`k8s_secret_enum_alerts_dropped_total{reason="invalid"}`:           33,
	`k8s_secret_enum_alerts_dropped_total{reason="retries_exhausted"}`: 34,
	`k8s_secret_enum_alerts_dropped_total{reason="at_close"}`:          35,
	`k8s_secret_enum_alerts_dropped_total{reason="spool_full"}`:        36,
	`k8s_secret_enum_alerts_dropped_total{reason="spool_corrupt"}`:     37,
	`k8s_secret_enum_alerts_dropped_total{reason="unencodable"}`:       38,
	"k8s_secret_enum_alerts_pending":                                   38,
	"k8s_secret_enum_alert_queue_capacity":                             39,
	"k8s_secret_enum_spool_bytes":                                      40,
	"k8s_secret_enum_spool_limit_bytes":                                41,
}

func testLogger(t *testing.T) (*logging.Logger, *strings.Builder) {
	var b lockedBuilder
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", b.String())
		}
	})
	return logging.New(&b, logging.Debug, "test"), &b.b
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scrape GETs /metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("Content-Type %q: want the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the text parser refuses the scrape: %v", err)
	}
	return fams
}

// series flattens the families of our namespace into name{extra labels}
// -> value for one output label value.
func series(t *testing.T, fams map[string]*dto.MetricFamily, output string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, Namespace+"_") {
			continue
		}
		for _, m := range f.Metric {
			key, mine := name, false
			var extra []string
			for _, l := range m.Label {
				if l.GetName() == OutputLabel {
					mine = l.GetValue() == output
					continue
				}
				extra = append(extra, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if !mine {
				continue
			}
			if len(extra) > 0 {
				key += "{" + strings.Join(extra, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				if !strings.HasSuffix(name, "_total") {
					t.Errorf("counter %s does not end in _total", name)
				}
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				if strings.HasSuffix(name, "_total") {
					t.Errorf("gauge %s ends in _total", name)
				}
				out[key] = m.GetGauge().GetValue()
			default:
				t.Errorf("%s: type %v", name, f.GetType())
			}
		}
	}
	return out
}

func compareSeries(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("missing %s", k)
		} else if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s", k)
		}
	}
}

func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func join(t *testing.T, addr, output string, src Source, lg *logging.Logger) *Member {
	t.Helper()
	m, err := Join(addr, output, src, lg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return true
}

func TestScrapeKnownSnapshot(t *testing.T) {
	lg, _ := testLogger(t)
	m := join(t, "127.0.0.1:0", "0", &fake{snap: known()}, lg)
	defer m.Leave()
	fams := scrape(t, m.Addr())
	compareSeries(t, series(t, fams, "0"), wantKnown)
	if _, ok := fams["go_goroutines"]; !ok {
		t.Errorf("no Go runtime metrics")
	}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	if code, body := healthz(t, m.Addr()); code != 200 || body != "output 0: ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

// The collector's descriptions and its metrics agree (a pedantic registry
// checks every metric against Describe).
func TestPedantic(t *testing.T) {
	lg, _ := testLogger(t)
	s := &server{current: map[string]*Member{}, log: lg}
	s.current["0"] = &Member{srv: s, output: "0", src: &fake{snap: known()}}
	s.current["1"] = &Member{srv: s, output: "1", src: &fake{}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector{s})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != len(table)+1 {
		t.Errorf("%d families, want %d", len(fams), len(table)+1)
	}
}

func TestNoWatermarkYet(t *testing.T) {
	lg, _ := testLogger(t)
	m := join(t, "127.0.0.1:0", "0", &fake{}, lg)
	defer m.Leave()
	got := series(t, scrape(t, m.Addr()), "0")
	if _, ok := got["k8s_secret_enum_watermark_seconds"]; ok {
		t.Errorf("a watermark before any event time")
	}
	if got["k8s_secret_enum_records_total"] != 0 {
		t.Errorf("records %v", got["k8s_secret_enum_records_total"])
	}
}

// Two outputs on one address share the server; the last to leave closes it.
func TestSharedServer(t *testing.T) {
	lg, _ := testLogger(t)
	a := join(t, "127.0.0.1:0", "0", &fake{snap: Snapshot{Records: 7}}, lg)
	addr := a.Addr()
	b := join(t, "127.0.0.1:0", "1", &fake{snap: Snapshot{Records: 9}}, lg)
	if b.Addr() != addr {
		t.Fatalf("second member on %s, first on %s: want one server", b.Addr(), addr)
	}
	fams := scrape(t, addr)
	if r0, r1 := series(t, fams, "0")["k8s_secret_enum_records_total"], series(t, fams, "1")["k8s_secret_enum_records_total"]; r0 != 7 || r1 != 9 {
		t.Errorf("records: output 0 %v, output 1 %v; want 7, 9", r0, r1)
	}
	a.Leave()
	a.Leave() // again: nothing
	fams = scrape(t, addr)
	if _, ok := series(t, fams, "0")["k8s_secret_enum_records_total"]; ok {
		t.Errorf("output 0 still reported after it left")
	}
	if series(t, fams, "1")["k8s_secret_enum_records_total"] != 9 {
		t.Errorf("output 1 lost")
	}
	b.Leave()
	if !refused(addr) {
		t.Errorf("%s still accepts connections after every output left", addr)
	}
}

// A hot reload where the new instance starts before the old one stopped:
// the new one takes the label over, and the old one's leaving removes
// neither it nor the server. Where the old one stops first, the port is
// free again for the new one.
func TestHotReloadHandover(t *testing.T) {
	lg, logText := testLogger(t)
	addr := freeAddr(t)
	old := join(t, addr, "0", &fake{snap: Snapshot{Records: 1}}, lg)
	repl := join(t, addr, "0", &fake{snap: Snapshot{Records: 2}}, lg)
	if got := series(t, scrape(t, addr), "0")["k8s_secret_enum_records_total"]; got != 2 {
		t.Errorf("records %v: want the new instance's 2", got)
	}
	old.Leave()
	if got := series(t, scrape(t, addr), "0")["k8s_secret_enum_records_total"]; got != 2 {
		t.Errorf("after the old instance left: records %v, want 2", got)
	}
	repl.Leave()
	if !refused(addr) {
		t.Fatalf("%s still open", addr)
	}
	if !strings.Contains(logText.String(), "taken over") {
		t.Errorf("the takeover was not logged")
	}
	again := join(t, addr, "0", &fake{snap: Snapshot{Records: 3}}, lg)
	defer again.Leave()
	if got := series(t, scrape(t, addr), "0")["k8s_secret_enum_records_total"]; got != 3 {
		t.Errorf("records %v after a rebind, want 3", got)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestBusyAddress(t *testing.T) {
	lg, _ := testLogger(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if m, err := Join(ln.Addr().String(), "0", &fake{}, lg); err == nil {
		m.Leave()
		t.Fatalf("joined on %s, which another listener holds", ln.Addr())
	}
	if _, err := Join("256.0.0.1:2021", "0", &fake{}, lg); err == nil {
		t.Fatalf("listened on a bad address")
	}
	servers.Lock()
	n := len(servers.byAddr)
	servers.Unlock()
	if n != 0 {
		t.Errorf("%d servers left behind", n)
	}
}

// A source that panics costs its own series and a logged line, never the
// process or the other outputs' series; an unhealthy or panicking source
// makes /healthz answer 503.
func TestPanicsAndHealth(t *testing.T) {
	lg, logText := testLogger(t)
	bad, good := &fake{}, &fake{snap: Snapshot{Records: 5}}
	a := join(t, "127.0.0.1:0", "0", bad, lg)
	defer a.Leave()
	b := join(t, "127.0.0.1:0", "1", good, lg)
	defer b.Leave()
	addr := a.Addr()

	bad.panicky.Store(true)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `k8s_secret_enum_records_total{output="1"} 5`) {
		t.Errorf("output 1's series lost when output 0 panicked:\n%s", body)
	}
	if strings.Contains(string(body), `output="0"`) {
		t.Errorf("series of the panicking output served")
	}
	if !strings.Contains(logText.String(), "panic while reading output 0") {
		t.Errorf("the panic was not logged")
	}
	if code, text := healthz(t, addr); code != 503 || !strings.Contains(text, "output 0: health check panicked") || !strings.Contains(text, "output 1: ok") {
		t.Errorf("/healthz with a panicking output: %d %q", code, text)
	}

	bad.panicky.Store(false)
	bad.mu.Lock()
	bad.health = errors.New("stuck")
	bad.mu.Unlock()
	if code, text := healthz(t, addr); code != 503 || text != "output 0: stuck\noutput 1: ok\n" {
		t.Errorf("/healthz with an unhealthy output: %d %q", code, text)
	}
	resp, err = http.Post("http://"+addr+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %s", resp.Status)
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %s", resp.Status)
	}
}

// recoverer answers 500 and logs when a handler panics.
func TestRecoverer(t *testing.T) {
	lg, logText := testLogger(t)
	h := recoverer(lg, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(logText.String(), "panic serving /metrics: boom") {
		t.Errorf("status %d, log %q", resp.StatusCode, logText.String())
	}
}

// Scrapes, joins and leaves at once (run under -race).
func TestConcurrentScrapesJoinsLeaves(t *testing.T) {
	lg, _ := testLogger(t)
	addr := freeAddr(t)
	keep := join(t, addr, "keep", &fake{snap: known()}, lg)
	defer keep.Leave()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		m := join(t, addr, fmt.Sprint(i%3), &fake{snap: Snapshot{Records: uint64(i)}}, lg)
		m.Leave()
	}
	close(stop)
	wg.Wait()
	compareSeries(t, series(t, scrape(t, addr), "keep"), wantKnown)
}
