package model

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
)

// The differential tests: the engine, driven as the replay command drives it,
// against the model, alert by alert and field by field.
//
//	go test ./test/model -model.configs=2000 -model.hours=1
//
// (or MODEL_CONFIGS / MODEL_HOURS / MODEL_SEED in the environment).

var (
	flagConfigs = flag.Int("model.configs", envInt("MODEL_CONFIGS", 8), "random configurations per differential test")
	flagHours   = flag.Float64("model.hours", envFloat("MODEL_HOURS", 0.25), "hours of event time per configuration")
	flagSeed    = flag.Int64("model.seed", int64(envInt("MODEL_SEED", 1)), "seed of the first configuration")
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

func envFloat(k string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return def
}

type engineRun struct {
	alerts []map[string]any
	read   []int // audit events handed to the engine when each alert came out
	stats  detect.Stats
}

// newEngine builds the engine from s as the replay command does.
func newEngine(t testing.TB, s Settings) *detect.Engine {
	t.Helper()
	c, err := config.Parse(config.MapGetter(s.Props()), config.Replay)
	if err != nil {
		t.Fatalf("settings %s: %v", s, err)
	}
	eng, err := detect.New(config.Rule, c.Engine)
	if err != nil {
		t.Fatalf("engine %s: %v", s, err)
	}
	return eng
}

// takeAlerts is what eng has alerted since the last call, each alert as
// the JSON object the plugin sends.
func takeAlerts(t testing.TB, eng *detect.Engine) []map[string]any {
	t.Helper()
	var alerts []map[string]any
	for _, a := range eng.TakeAlerts() {
		b, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("alert is not JSON: %v: %s", err, b)
		}
		alerts = append(alerts, m)
	}
	return alerts
}

// runEngine runs the engine exactly as the replay command does.
func runEngine(t testing.TB, s Settings, lines [][]byte) *engineRun {
	t.Helper()
	eng := newEngine(t, s)
	out := &engineRun{}
	read := 0
	take := func() {
		for _, m := range takeAlerts(t, eng) {
			out.alerts = append(out.alerts, m)
			out.read = append(out.read, read)
		}
	}
	p := audit.NewJSONParser()
	process := func(ev *audit.Event) {
		read++
		eng.Process(ev)
		take()
	}
	for _, l := range lines {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			p.Parse(l, 0, process)
		}
	}
	eng.Close()
	take()
	out.stats = eng.Stats()
	return out
}

// totals are what a differential test reports at the end.
type totals struct {
	configs, lines, events, alerts int
	// Under a group_by other than the rule's: configurations, alerts, and
	// alerts listing several addresses or user agents (a fingerprint the
	// rule's grouping would have split).
	grouped, groupedAlerts, merged int
}

func (n *totals) String() string {
	return fmt.Sprintf("%d configurations, %d lines, %d audit events, %d alerts compared; group_by: %d configurations, %d alerts, %d over several addresses or user agents",
		n.configs, n.lines, n.events, n.alerts, n.grouped, n.groupedAlerts, n.merged)
}

// count adds a run's alerts to the totals.
func (n *totals) count(s Settings, alerts []map[string]any) {
	n.alerts += len(alerts)
	if s.grouping().rule() {
		return
	}
	n.grouped++
	n.groupedAlerts += len(alerts)
	for _, a := range alerts {
		ips, _ := lookup(a, "source.ip")
		uas, _ := lookup(a, "user_agent.original")
		if l, ok := ips.([]any); ok && len(l) > 1 {
			n.merged++
		} else if l, ok := uas.([]any); ok && len(l) > 1 {
			n.merged++
		}
	}
}

// checkGrouped fails a run of enough configurations in which group_by never
// brought a rotating client's reads together: the generator would no longer
// test it.
func (n *totals) checkGrouped(t *testing.T) {
	if n.configs >= 8 && n.merged == 0 {
		t.Errorf("%s: no alert over several addresses or user agents; the traffic no longer exercises group_by", n)
	}
}

// same fails the test at the first difference between engine and model,
// saving the input for the replay command.
func same(t *testing.T, seed int64, s Settings, engineLines, modelLines [][]byte, n *totals) bool {
	t.Helper()
	got := runEngine(t, s, engineLines)
	want := Run(s, modelLines)
	n.configs++
	n.lines += len(engineLines)
	n.events += want.AuditEvents
	n.count(s, want.Alerts)
	var problem string
	if c := got.stats; c.EventsCoalesced+c.RecordsEvicted+c.NamesDropped+c.FingerprintsEvicted > 0 {
		// The exact comparison holds below the caps; TestCaps covers them.
		problem = fmt.Sprintf("the traffic hit the engine's caps (coalesced %d, records evicted %d, names dropped %d, fingerprints evicted %d): make the generator gentler",
			c.EventsCoalesced, c.RecordsEvicted, c.NamesDropped, c.FingerprintsEvicted)
	} else if d := Compare(got.alerts, want.Alerts); d != nil {
		problem = d.String()
	} else if got.stats.Matched != uint64(want.Matching) || got.stats.Events != uint64(want.AuditEvents) ||
		got.stats.NoTime != uint64(want.Timeless) || got.stats.AlertsCut != uint64(want.Cut) {
		problem = fmt.Sprintf("counters: engine matched=%d events=%d no_time=%d cut=%d, model %d %d %d %d",
			got.stats.Matched, got.stats.Events, got.stats.NoTime, got.stats.AlertsCut,
			want.Matching, want.AuditEvents, want.Timeless, want.Cut)
	}
	if problem == "" {
		return true
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("model-seed-%d.log", seed))
	if err := os.WriteFile(path, []byte(Lines(engineLines)), 0o600); err != nil {
		path = err.Error()
	}
	t.Errorf("seed %d: engine and model differ\nsettings: %s\ninput: %s (replay it with these settings)\n%s",
		seed, s, path, problem)
	return false
}

// TestDifferential: random settings over generated traffic.
func TestDifferential(t *testing.T) {
	var n totals
	start := time.Now()
	span := time.Duration(*flagHours * float64(time.Hour))
	for i := 0; i < *flagConfigs; i++ {
		seed := *flagSeed + int64(i)
		s := RandomSettings(rand.New(rand.NewSource(seed)))
		lines := Generate(seed, TrafficParams{Span: span, Window: s.Window, Suppress: s.Suppress})
		if !same(t, seed, s, lines, lines, &n) {
			return
		}
	}
	n.checkGrouped(t)
	t.Logf("%s over %v of event time each, in %v", &n, span, time.Since(start).Round(time.Millisecond))
}

// TestUserAgentRotation (issue 13): a UA-rotating harvest leaves the engine
// silent under the rule's grouping and makes one alert under group_by user
// (and user,source_ip), in both modes, each the model's.
func TestUserAgentRotation(t *testing.T) {
	for _, mode := range []string{"stream", "schedule"} {
		for _, g := range [][]string{nil, {"user", "source_ip", "user_agent"}, {"user"}, {"source_ip", "user"}} {
			s := Defaults()
			s.Mode, s.GroupBy = mode, g
			got, want := runEngine(t, s, uaRotation()), Run(s, uaRotation())
			n := 1
			if len(g) == 0 || len(g) == 3 {
				n = 0
			}
			if len(got.alerts) != n {
				t.Errorf("%s, group_by %v: %d alerts, want %d", mode, g, len(got.alerts), n)
			}
			if d := Compare(got.alerts, want.Alerts); d != nil {
				t.Errorf("%s, group_by %v: engine and model differ\n%s", mode, g, d)
			}
		}
	}
}

// TestGroupByCases: the model's hand-worked group_by inputs through the
// engine, under every grouping, both modes (with and without per-time
// decisions) and max_alerts that cut ties.
func TestGroupByCases(t *testing.T) {
	inputs := map[string][][]byte{"ua rotation": uaRotation(), "address rotation": addressRotation(),
		"schedule ties": scheduleTies()}
	compared := 0
	for name, lines := range inputs {
		for _, g := range [][]string{nil, {"user"}, {"user", "source_ip"}, {"user_agent", "user"}} {
			for _, mode := range []string{"stream", "per-time", "schedule"} {
				for _, max := range []int{1, 2, 100} {
					s := Defaults()
					s.GroupBy, s.MaxAlerts, s.Window, s.Suppress = g, max, 2*time.Minute, time.Second
					s.Interval = time.Minute
					switch mode {
					case "per-time":
						s.ReorderDelay = time.Second
					case "schedule":
						s.Mode = "schedule"
					}
					got, want := runEngine(t, s, lines), Run(s, lines)
					if d := Compare(got.alerts, want.Alerts); d != nil || got.stats.AlertsCut != uint64(want.Cut) {
						t.Errorf("%s, %s: engine and model differ (cut %d, %d)\nsettings: %s\n%s", name, mode,
							got.stats.AlertsCut, want.Cut, s, d)
					}
					compared += len(want.Alerts)
				}
			}
		}
	}
	if compared < 50 {
		t.Errorf("only %d alerts compared", compared)
	}
}
