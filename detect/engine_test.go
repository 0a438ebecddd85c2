package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixNano()

// at is t0 plus d.
func at(d time.Duration) int64 { return t0 + int64(d) }

// secretGet is a matching event unless a field is changed.
func secretGet(d time.Duration, name string, mods ...func(*audit.Event)) *audit.Event {
	ev := &audit.Event{Time: at(d), Verb: "get", Resource: "secrets", Name: name, Namespace: "prod",
		User: "mallory", UserAgent: "curl/8.5.0", Decision: "allow", Stage: "ResponseComplete",
		SourceIPs: []string{"10.0.0.9"}, SourceIPCount: 1, AuditID: fmt.Sprintf("id-%s-%d", name, d)}
	for _, m := range mods {
		m(ev)
	}
	return ev
}

func ns(n string) func(*audit.Event)       { return func(e *audit.Event) { e.Namespace = n } }
func user(u string) func(*audit.Event)     { return func(e *audit.Event) { e.User = u } }
func ua(u string) func(*audit.Event)       { return func(e *audit.Event) { e.UserAgent = u } }
func decision(d string) func(*audit.Event) { return func(e *audit.Event) { e.Decision = d } }
func ips(list ...string) func(*audit.Event) {
	return func(e *audit.Event) { e.SourceIPs, e.SourceIPCount = list, len(list) }
}

type harness struct {
	t      *testing.T
	e      *Engine
	alerts []*Alert
	cuts   int
}

func newHarness(t *testing.T, kv ...string) *harness {
	t.Helper()
	e, err := New(rule.RapidSecretGet, testSettings(t, kv...))
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, e: e}
}

// take collects what the engine decided.
func (h *harness) take() *harness {
	h.alerts = append(h.alerts, h.e.TakeAlerts()...)
	for _, c := range h.e.TakeCuts() {
		h.cuts += c.Alerts
	}
	return h
}

func (h *harness) feed(evs ...*audit.Event) *harness {
	for _, ev := range evs {
		h.e.Process(ev)
	}
	return h.take()
}

func (h *harness) close() *harness {
	h.e.Close()
	return h.take()
}

func (h *harness) tick(now time.Time) *harness {
	h.e.Tick(now)
	return h.take()
}

func (h *harness) column(a *Alert, name string) ColumnValue {
	for _, c := range a.Columns {
		if c.Name == name {
			return c
		}
	}
	h.t.Fatalf("no column %s", name)
	return ColumnValue{}
}

func (h *harness) names(a *Alert) []string { return h.column(a, "secrets_names").Values }

func (h *harness) wantAlerts(n int) {
	h.t.Helper()
	if len(h.alerts) != n {
		var lines []string
		for _, a := range h.alerts {
			lines = append(lines, fmt.Sprintf("%s@%s %v", a.Type, time.Duration(a.Timestamp-t0), h.names(a)))
		}
		h.t.Fatalf("got %d alerts, want %d: %s", len(h.alerts), n, strings.Join(lines, "; "))
	}
}

func TestFilterClauses(t *testing.T) {
	type row struct {
		name   string
		ev     *audit.Event
		kv     []string
		match  bool
		source string
	}
	rows := []row{
		{"matching get", secretGet(0, "a"), nil, true, "10.0.0.9"},
		{"list is not get", secretGet(0, "a", func(e *audit.Event) { e.Verb = "list" }), nil, false, ""},
		{"watch is not get", secretGet(0, "a", func(e *audit.Event) { e.Verb = "watch" }), nil, false, ""},
		{"verb is case-sensitive", secretGet(0, "a", func(e *audit.Event) { e.Verb = "GET" }), nil, false, ""},
		{"configmaps are not secrets", secretGet(0, "a", func(e *audit.Event) { e.Resource = "configmaps" }), nil, false, ""},
		{"missing user", secretGet(0, "a", user("")), nil, false, ""},
		{"missing source IP", secretGet(0, "a", ips()), nil, false, ""},
		{"unparsable source IP counts as missing", secretGet(0, "a", ips("not-an-ip")), nil, false, ""},
		{"missing name", secretGet(0, "a", func(e *audit.Event) { e.Name = "" }), nil, false, ""},
		{"loopback v4 excluded", secretGet(0, "a", ips("127.0.0.1")), nil, false, ""},
		{"loopback v6 excluded", secretGet(0, "a", ips("::1")), nil, false, ""},
		{"loopback v6 long form excluded", secretGet(0, "a", ips("0:0:0:0:0:0:0:1")), nil, false, ""},
		{"IPv4-mapped loopback excluded", secretGet(0, "a", ips("::ffff:127.0.0.1")), nil, false, ""},
		{"127.0.0.2 is not excluded", secretGet(0, "a", ips("127.0.0.2")), nil, true, "127.0.0.2"},
		{"IPv4-mapped printed as IPv4", secretGet(0, "a", ips("::ffff:10.1.2.3")), nil, true, "10.1.2.3"},
		{"IPv6 printed in RFC 5952", secretGet(0, "a", ips("2001:0db8:0000:0000:0000:0000:0000:0001")), nil, true, "2001:db8::1"},
		{"controller-manager excluded", secretGet(0, "a", user("system:kube-controller-manager")), nil, false, ""},
		{"scheduler excluded", secretGet(0, "a", user("system:kube-scheduler")), nil, false, ""},
		{"user exclusion is exact", secretGet(0, "a", user("system:kube-scheduler2")), nil, true, "10.0.0.9"},
		{"helm release excluded", secretGet(0, "sh.helm.release.v1.app.v3"), nil, false, ""},
		{"helm prefix without the dot", secretGet(0, "sh.helm.release"), nil, true, "10.0.0.9"},
		{"dot is literal", secretGet(0, "shXhelm.release.v1"), nil, true, "10.0.0.9"},
		{"LIKE is case-sensitive", secretGet(0, "SH.HELM.RELEASE.v1"), nil, true, "10.0.0.9"},
		{"peer takes the last entry", secretGet(0, "a", ips("203.0.113.7", "10.0.0.2")), nil, true, "10.0.0.2"},
		{"client takes the first entry", secretGet(0, "a", ips("203.0.113.7", "10.0.0.2")), []string{"source_ip", "client"}, true, "203.0.113.7"},
		{"elastic drops multi-valued", secretGet(0, "a", ips("203.0.113.7", "10.0.0.2")), []string{"source_ip", "elastic"}, false, ""},
		{"elastic keeps single", secretGet(0, "a"), []string{"source_ip", "elastic"}, true, "10.0.0.9"},
		{"peer: proxy on loopback excluded", secretGet(0, "a", ips("203.0.113.7", "127.0.0.1")), nil, false, ""},
		{"client: forwarded loopback excluded", secretGet(0, "a", ips("::1", "10.0.0.2")), []string{"source_ip", "client"}, false, ""},
		{"CIDR exclusion", secretGet(0, "a", ips("10.0.0.9")), []string{"exclude_source_ips", "10.0.0.0/8"}, false, ""},
		{"CIDR exclusion miss", secretGet(0, "a", ips("11.0.0.9")), []string{"exclude_source_ips", "10.0.0.0/8"}, true, "11.0.0.9"},
		{"mapped CIDR", secretGet(0, "a", ips("10.0.0.9")), []string{"exclude_source_ips", "::ffff:10.0.0.0/104"}, false, ""},
		{"none empties a list", secretGet(0, "a", ips("127.0.0.1")), []string{"exclude_source_ips", "none"}, true, "127.0.0.1"},
		{"custom name pattern ?", secretGet(0, "tok-1"), []string{"exclude_names", "tok-?"}, false, ""},
		{"custom name pattern * inside", secretGet(0, "a-x-b"), []string{"exclude_names", "a*b"}, false, ""},
		{"escaped star is literal", secretGet(0, "a-x-b"), []string{"exclude_names", `a\*b`}, true, "10.0.0.9"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			h := newHarness(t, r.kv...)
			ok := h.e.f.Candidate(r.ev)
			addr, matched := h.e.f.Match(r.ev)
			if got := ok && matched; got != r.match {
				t.Fatalf("match = %v, want %v", got, r.match)
			}
			if r.match && addr.String() != r.source {
				t.Fatalf("source = %s, want %s", addr, r.source)
			}
		})
	}
}

func TestThresholdAndGrouping(t *testing.T) {
	t.Run("three distinct names alert", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "a"), secretGet(time.Second, "b"))
		h.wantAlerts(0)
		h.feed(secretGet(2*time.Second, "c"))
		h.wantAlerts(1)
		a := h.alerts[0]
		if a.Timestamp != at(2*time.Second) || a.WindowStart != at(2*time.Second-6*time.Minute) || a.WindowEnd != a.Timestamp {
			t.Fatalf("stamp/window %d %d %d", a.Timestamp, a.WindowStart, a.WindowEnd)
		}
		if !reflect.DeepEqual(h.names(a), []string{"a", "b", "c"}) || h.column(a, "unique_credentials").Count != 3 {
			t.Fatalf("names %v", h.names(a))
		}
	})
	t.Run("same name in two namespaces counts once", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "a", ns("x")), secretGet(time.Second, "a", ns("y")), secretGet(2*time.Second, "b"))
		h.wantAlerts(0)
		h.feed(secretGet(3*time.Second, "c", ns("z")))
		h.wantAlerts(1)
		if got := h.column(h.alerts[0], "namespaces").Values; !reflect.DeepEqual(got, []string{"prod", "x", "y", "z"}) {
			t.Fatalf("namespaces %v", got)
		}
	})
	t.Run("fingerprint parts separate groups", func(t *testing.T) {
		h := newHarness(t).feed(
			secretGet(0, "a"), secretGet(1, "b", user("other")), secretGet(2, "c", ua("kubectl")),
			secretGet(3, "d", ips("10.0.0.10")), secretGet(4, "e", ua("")))
		h.wantAlerts(0)
	})
	t.Run("missing user agent is its own group", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "a", ua("")), secretGet(1, "b", ua("")), secretGet(2, "c", ua("")))
		h.wantAlerts(1)
		if h.alerts[0].HasUserAgent {
			t.Fatal("user agent should be missing")
		}
		raw, _ := json.Marshal(h.alerts[0])
		if strings.Contains(string(raw), "user_agent") {
			t.Fatalf("user_agent present: %s", raw)
		}
	})
	t.Run("forbidden and allowed mix", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "a", decision("forbid")), secretGet(1, "b"),
			secretGet(2, "c", decision("")))
		h.wantAlerts(1)
		if got := h.column(h.alerts[0], "outcome").Values; !reflect.DeepEqual(got, []string{"allow", "forbid"}) {
			t.Fatalf("outcome %v", got)
		}
	})
	t.Run("threshold setting", func(t *testing.T) {
		h := newHarness(t, "threshold", "5").feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"), secretGet(3, "d"))
		h.wantAlerts(0)
		h.feed(secretGet(4, "e"))
		h.wantAlerts(1)
	})
	t.Run("both stages of a request count as two events", func(t *testing.T) {
		rr := func(d time.Duration, n string) *audit.Event {
			return secretGet(d, n, func(e *audit.Event) { e.Stage = "RequestReceived"; e.Decision = "" })
		}
		h := newHarness(t).feed(rr(0, "a"), secretGet(0, "a"), rr(1, "b"), secretGet(1, "b"), rr(2, "c"), secretGet(2, "c"))
		h.wantAlerts(1)
		if h.alerts[0].EventCount != 5 {
			// The alert fires on c's RequestReceived: 5 events so far.
			t.Fatalf("count %d", h.alerts[0].EventCount)
		}
	})
}

func TestWindowBoundaries(t *testing.T) {
	w := 6 * time.Minute
	t.Run("event exactly at t-window is inside", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "a"), secretGet(time.Minute, "b"), secretGet(w, "c"))
		h.wantAlerts(1)
		if h.alerts[0].EventStart != at(0) {
			t.Fatalf("start %d", h.alerts[0].EventStart)
		}
	})
	t.Run("one nanosecond later it is outside", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "a"), secretGet(time.Minute, "b"), secretGet(w+1, "c"))
		h.wantAlerts(0)
	})
	t.Run("schedule: event exactly at T and at T-window are inside", func(t *testing.T) {
		// T = t0 (t0 is a multiple of 5m).
		h := newHarness(t, "mode", "schedule").feed(secretGet(-w, "a"), secretGet(-time.Minute, "b"), secretGet(0, "c"))
		h.feed(secretGet(31*time.Second, "x", user("noise")))
		h.wantAlerts(1)
		a := h.alerts[0]
		if a.Timestamp != at(0) || a.WindowStart != at(-w) || a.EventStart != at(-w) || a.EventEnd != at(0) {
			t.Fatalf("alert %+v", a)
		}
	})
	t.Run("schedule: one nanosecond after T goes to the next window", func(t *testing.T) {
		h := newHarness(t, "mode", "schedule").feed(secretGet(-w, "a"), secretGet(-time.Minute, "b"), secretGet(1, "c"))
		h.feed(secretGet(31*time.Second, "x", user("noise")))
		h.wantAlerts(0) // T=0 holds a, b only
		h.feed(secretGet(5*time.Minute+31*time.Second, "y", user("noise")))
		h.wantAlerts(0) // T=5m: [−1m, 5m] holds b, c only: a left at −6m
	})
}

func TestStreamMuteAndUpdates(t *testing.T) {
	h := newHarness(t)
	h.feed(secretGet(0, "a"), secretGet(time.Second, "b"), secretGet(2*time.Second, "c"))
	h.wantAlerts(1)
	// Muted: more names do not alert at once.
	h.feed(secretGet(time.Minute, "d"), secretGet(2*time.Minute, "e"))
	h.wantAlerts(1)
	// The watermark reaches U = 2s + 5m: an update for [U-6m, U].
	h.feed(secretGet(5*time.Minute+2*time.Second, "noise", user("other")))
	h.wantAlerts(2)
	u := h.alerts[1]
	if u.Type != AlertUpdate || u.Timestamp != at(5*time.Minute+2*time.Second) {
		t.Fatalf("update %s at %d", u.Type, u.Timestamp)
	}
	if !reflect.DeepEqual(h.names(u), []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("update names %v", h.names(u))
	}
	// Nothing new by U+5m: unmuted, no alert.
	h.feed(secretGet(10*time.Minute+3*time.Second, "noise", user("other")))
	h.wantAlerts(2)
	// Unmuted: a new burst is a new alert.
	h.feed(secretGet(20*time.Minute, "x"), secretGet(20*time.Minute+1, "y"), secretGet(20*time.Minute+2, "z"))
	h.wantAlerts(3)
	if h.alerts[2].Type != AlertNew {
		t.Fatal("want new")
	}
	if h.alerts[0].ID == h.alerts[1].ID || h.alerts[1].ID == h.alerts[2].ID {
		t.Fatal("ids must differ")
	}
}

func TestStreamNoUpdateWithoutNewNames(t *testing.T) {
	h := newHarness(t)
	h.feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"), secretGet(time.Minute, "a"))
	h.feed(secretGet(10*time.Minute, "noise", user("other")))
	h.wantAlerts(1)
}

func TestStreamShutdownFlushesUpdates(t *testing.T) {
	h := newHarness(t)
	h.feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"), secretGet(time.Minute, "d"))
	h.close()
	h.wantAlerts(2)
	if h.alerts[1].Type != AlertUpdate || h.alerts[1].Timestamp != at(5*time.Minute+2) {
		t.Fatalf("update at %d", h.alerts[1].Timestamp)
	}
}

func TestStreamOutOfOrder(t *testing.T) {
	t.Run("3,1,2 alerts like 1,2,3", func(t *testing.T) {
		in := newHarness(t).feed(secretGet(1, "a"), secretGet(2, "b"), secretGet(3, "c"))
		out := newHarness(t).feed(secretGet(3, "c"), secretGet(1, "a"), secretGet(2, "b"))
		in.wantAlerts(1)
		out.wantAlerts(1)
		if in.alerts[0].ID != out.alerts[0].ID || in.alerts[0].Timestamp != out.alerts[0].Timestamp {
			t.Fatalf("in order %d, out of order %d", in.alerts[0].Timestamp, out.alerts[0].Timestamp)
		}
	})
	t.Run("response stages arrive after later requests", func(t *testing.T) {
		rr := func(d time.Duration, n string) *audit.Event {
			return secretGet(d, n, func(e *audit.Event) { e.Stage = "RequestReceived" })
		}
		h := newHarness(t).feed(rr(1, "a"), rr(2, "b"), secretGet(1, "a"), rr(3, "c"), secretGet(2, "b"), secretGet(3, "c"))
		h.wantAlerts(1)
		if h.alerts[0].Timestamp != at(3) {
			t.Fatalf("stamp %d", h.alerts[0].Timestamp)
		}
	})
	t.Run("late beyond allowed_lateness joins later windows only", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(0, "b"), secretGet(time.Minute, "c", user("noise")))
		h.feed(secretGet(10*time.Second, "a")) // 50s late > 30s: no re-evaluation of its own window
		h.wantAlerts(0)
		if h.e.stats.Late != 1 {
			t.Fatalf("late %d", h.e.stats.Late)
		}
		h.feed(secretGet(2*time.Minute, "d")) // window [−4m, 2m] holds a, b, d
		h.wantAlerts(1)
	})
	t.Run("too late is dropped and counted", func(t *testing.T) {
		h := newHarness(t).feed(secretGet(time.Hour, "x", user("noise")), secretGet(0, "a"))
		if h.e.stats.TooLate != 1 {
			t.Fatalf("too late %d", h.e.stats.TooLate)
		}
	})
}

func TestScheduleMode(t *testing.T) {
	t.Run("evaluations at multiples of interval after lateness", func(t *testing.T) {
		h := newHarness(t, "mode", "schedule")
		h.feed(secretGet(4*time.Minute+30*time.Second, "a"), secretGet(4*time.Minute+40*time.Second, "b"), secretGet(4*time.Minute+50*time.Second, "c"))
		h.feed(secretGet(5*time.Minute+30*time.Second, "n", user("noise")))
		h.wantAlerts(0) // watermark has not passed T+30s
		h.feed(secretGet(5*time.Minute+30*time.Second+1, "n", user("noise")))
		h.wantAlerts(1)
		if h.alerts[0].Timestamp != at(5*time.Minute) || h.alerts[0].Mode != ModeSchedule {
			t.Fatalf("stamp %d", h.alerts[0].Timestamp)
		}
		// Overlapping windows alert again at T=10m, as Elastic's runs do.
		h.feed(secretGet(11*time.Minute, "n", user("noise")))
		h.wantAlerts(2)
		if h.alerts[1].Timestamp != at(10*time.Minute) {
			t.Fatalf("stamp %d", h.alerts[1].Timestamp)
		}
	})
	t.Run("late event joins only windows not yet evaluated", func(t *testing.T) {
		h := newHarness(t, "mode", "schedule")
		h.feed(secretGet(4*time.Minute, "a"), secretGet(4*time.Minute+1, "b"))
		h.feed(secretGet(6*time.Minute, "n", user("noise"))) // runs T=5m
		h.feed(secretGet(4*time.Minute+30*time.Second, "c")) // late for T=5m, joins T=10m
		if h.e.stats.Late != 1 {
			t.Fatalf("late %d", h.e.stats.Late)
		}
		h.wantAlerts(0)
		h.feed(secretGet(11*time.Minute, "n", user("noise")))
		h.wantAlerts(1)
		if h.alerts[0].Timestamp != at(10*time.Minute) {
			t.Fatalf("stamp %d", h.alerts[0].Timestamp)
		}
	})
	t.Run("shutdown runs every evaluation holding events", func(t *testing.T) {
		h := newHarness(t, "mode", "schedule")
		h.feed(secretGet(time.Minute, "a"), secretGet(2*time.Minute, "b"), secretGet(3*time.Minute, "c"))
		h.feed(secretGet(4*time.Minute+30*time.Second, "d"))
		h.close()
		// The watermark never passed 5m30s: only Close runs T=5m, which
		// holds a..d; T=10m ([4m, 10m]) holds d alone.
		h.wantAlerts(1)
		if h.alerts[0].Timestamp != at(5*time.Minute) {
			t.Fatalf("stamp %d", h.alerts[0].Timestamp-t0)
		}
	})
	t.Run("max_alerts cuts and orders", func(t *testing.T) {
		h := newHarness(t, "mode", "schedule", "max_alerts", "2")
		for i, u := range []string{"u1", "u2", "u3"} {
			for j := 0; j < 3+i; j++ {
				h.feed(secretGet(time.Minute+time.Duration(j), fmt.Sprintf("s%d", j), user(u)))
			}
		}
		h.feed(secretGet(6*time.Minute, "n", user("noise")))
		h.wantAlerts(2)
		if h.alerts[0].User != "u3" || h.alerts[1].User != "u2" || h.cuts != 1 || h.e.stats.AlertsCut != 1 {
			t.Fatalf("order %s %s cuts %d", h.alerts[0].User, h.alerts[1].User, h.cuts)
		}
	})
}

func TestShutdownCountsSchedule(t *testing.T) {
	h := newHarness(t, "mode", "schedule")
	h.feed(secretGet(time.Minute, "a"), secretGet(2*time.Minute, "b"), secretGet(3*time.Minute, "c"))
	h.close()
	var stamps []string
	for _, a := range h.alerts {
		stamps = append(stamps, time.Duration(a.Timestamp-t0).String())
	}
	if strings.Join(stamps, ",") != "5m0s" {
		t.Fatalf("stamps %v", stamps)
	}
}

func TestIdleAdvance(t *testing.T) {
	h := newHarness(t)
	wall := time.Unix(0, at(0))
	h.e.Arrive(wall)
	h.feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"), secretGet(time.Second, "d"))
	h.wantAlerts(1)
	h.tick(wall.Add(10 * time.Second)) // not idle long enough
	h.tick(wall.Add(4 * time.Minute))
	h.wantAlerts(1)
	h.tick(wall.Add(5*time.Minute + time.Second))
	h.wantAlerts(2)
	if h.alerts[1].Type != AlertUpdate {
		t.Fatal("want update")
	}
}

func TestFutureEventClamped(t *testing.T) {
	h := newHarness(t)
	wall := time.Unix(0, at(0))
	h.e.Arrive(wall)
	h.feed(secretGet(time.Hour, "a", user("liar")))
	if h.e.stats.FutureClamped != 1 || h.e.Stats().Watermark != at(0) {
		t.Fatalf("clamped %d wm %d", h.e.stats.FutureClamped, h.e.Stats().Watermark-t0)
	}
	h.feed(secretGet(time.Second, "a"), secretGet(2*time.Second, "b"), secretGet(3*time.Second, "c"))
	h.wantAlerts(1)
}

func TestCaps(t *testing.T) {
	t.Run("max_fingerprints evicts least recently active", func(t *testing.T) {
		h := newHarness(t, "max_fingerprints", "100")
		h.feed(secretGet(0, "a"), secretGet(1, "b"))
		for i := 0; i < 1000; i++ {
			h.feed(secretGet(2, "x", user(fmt.Sprintf("flood-%d", i))))
		}
		if got := h.e.Stats().Fingerprints; got > 100 {
			t.Fatalf("fingerprints %d", got)
		}
		if h.e.stats.FingerprintsEvicted < 900 {
			t.Fatalf("evicted %d", h.e.stats.FingerprintsEvicted)
		}
		// A harvest after the flood is still detected.
		h.feed(secretGet(3, "a"), secretGet(4, "b"), secretGet(5, "c"))
		h.wantAlerts(1)
	})
	t.Run("max_names_per_fingerprint truncates", func(t *testing.T) {
		h := newHarness(t, "max_names_per_fingerprint", "5", "threshold", "3")
		for i := 0; i < 20; i++ {
			h.feed(secretGet(time.Duration(i), fmt.Sprintf("n%02d", i)))
		}
		h.wantAlerts(1)
		h.close()
		h.wantAlerts(2) // the update lists the two more names kept
		if h.e.stats.NamesDropped != 15 || len(h.names(h.alerts[1])) != 5 || !h.alerts[1].Truncated {
			t.Fatalf("dropped %d, update %v", h.e.stats.NamesDropped, h.names(h.alerts[1]))
		}
		if h.alerts[0].Truncated {
			t.Fatal("the first alert lost nothing")
		}
	})
	t.Run("repeated reads are coalesced under the record cap", func(t *testing.T) {
		// Whatever max_names_per_fingerprint, one value read again and
		// again keeps recordCap(1) records, not one per read.
		h := newHarness(t)
		for i := 0; i < 10000; i++ {
			h.feed(secretGet(time.Duration(i)*time.Millisecond, "same"))
		}
		if r := h.e.Stats().Records; r != recordCap(1) || h.e.stats.EventsCoalesced != 10000-uint64(recordCap(1)) {
			t.Fatalf("records %d, coalesced %d", r, h.e.stats.EventsCoalesced)
		}
		h.feed(secretGet(11*time.Second, "b"), secretGet(12*time.Second, "c"))
		h.wantAlerts(1)
	})
	t.Run("expired state is dropped", func(t *testing.T) {
		h := newHarness(t)
		for i := 0; i < 500; i++ {
			h.feed(secretGet(time.Duration(i)*time.Millisecond, "x", user(fmt.Sprintf("u%d", i))))
		}
		for i := 0; i < 200; i++ {
			h.feed(secretGet(time.Hour+time.Duration(i), "y", user("late")))
		}
		// Left: the "late" fingerprint, its value, namespace, decision and
		// the last auditIDs.
		// (each of its records has its own attributes: the test's auditIDs
		// are not UUIDs).
		if st := h.e.Stats(); st.Fingerprints != 1 || st.Names != 1 || h.e.pool.len() > st.Records+st.Names {
			t.Fatalf("left %+v pool %d", st, h.e.pool.len())
		}
	})
}

func TestAlertJSON(t *testing.T) {
	h := newHarness(t)
	h.feed(secretGet(0, "a", ips("203.0.113.5", "10.0.0.9"), func(e *audit.Event) { e.ImpersonatedUser = "bob" }),
		secretGet(1, "b", decision("forbid")), secretGet(2, "c", ns("kube-system")))
	h.wantAlerts(1)
	raw, err := json.Marshal(h.alerts[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var cur any = m
		for _, p := range strings.Split(path, ".") {
			cur = cur.(map[string]any)[p]
		}
		return cur
	}
	want := map[string]any{
		"@timestamp":              "2026-11-25T10:00:00.000000002Z",
		"user.name":               "mallory",
		"source.ip":               "10.0.0.9",
		"user_agent.original":     "curl/8.5.0",
		"Esql.unique_credentials": 3.0,
		"Esql.secrets_names":      []any{"a", "b", "c"},
		"Esql.namespaces":         []any{"kube-system", "prod"},
		"Esql.outcome":            []any{"allow", "forbid"},
		"rule.id":                 "b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c",
		"rule.severity":           "high",
		"rule.risk_score":         73.0,
		"window.start":            "2026-11-25T09:54:00.000000002Z",
		"window.end":              "2026-11-25T10:00:00.000000002Z",
		"event.kind":              "alert",
		"event.start":             "2026-11-25T10:00:00.000000000Z",
		"event.end":               "2026-11-25T10:00:00.000000002Z",
		"event.count":             3.0,
		"alert.type":              "new",
		"alert.mode":              "stream",
		"alert.truncated":         false,
		"related.ip":              []any{"10.0.0.9", "203.0.113.5"},
		"related.user":            []any{"bob", "mallory"},
		"kubernetes.audit.impersonatedUser.username": []any{"bob"},
	}
	for path, v := range want {
		if got := get(path); !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", path, got, v)
		}
	}
	threat := get("rule.threat").([]any)[0].(map[string]any)
	if threat["tactic"].(map[string]any)["id"] != "TA0006" {
		t.Errorf("threat %v", threat)
	}
	tech := threat["technique"].([]any)[0].(map[string]any)
	if tech["id"] != "T1552" || tech["subtechnique"].([]any)[0].(map[string]any)["id"] != "T1552.007" {
		t.Errorf("technique %v", tech)
	}
	if ids := get("kubernetes.audit.auditID").([]any); len(ids) != 3 {
		t.Errorf("auditIDs %v", ids)
	}
	if id := get("alert.id").(string); len(id) != 36 || id[14] != '5' {
		t.Errorf("alert id %q", id)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "@timestamp,Esql,alert,event,kubernetes,related,rule,source,user,user_agent,window" {
		t.Errorf("top-level keys %v", keys)
	}
}

func TestAlertIDStableAcrossReplicas(t *testing.T) {
	a := newHarness(t).feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"))
	b := newHarness(t).feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"))
	if a.alerts[0].ID != b.alerts[0].ID {
		t.Fatal("ids differ")
	}
}
