package e2e

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// harvest is one client reading three secrets (names a, b, c) in three
// namespaces, one of them forbidden, among noise.
func harvest() [][]byte {
	evs := noise(30, 0, 100*time.Millisecond)
	evs = append(evs,
		ev{at: 1 * time.Second, name: "db-password", namespace: "payments"},
		ev{at: 2 * time.Second, name: "api-token", namespace: "payments", decision: "forbid"},
		ev{at: 3 * time.Second, name: "registry-creds", namespace: "ci"},
	)
	evs = append(evs, noise(30, 3*time.Second+time.Millisecond, 100*time.Millisecond)...)
	sortByTime(evs)
	return lines(evs...)
}

func sortByTime(evs []ev) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].at < evs[j-1].at; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

func TestRegisterAndTwoInstances(t *testing.T) {
	r0, r1 := startReceiver(t), startReceiver(t)
	ls := harvest()
	res := run(t, host.Config{Instances: []host.Instance{
		{Props: props(r0.URL() + "/alerts"), Chunks: mustChunks(t, ls, chunk.Options{}, 0)},
		{Props: props(r1.URL()+"/alerts", "threshold", "4"), Chunks: mustChunks(t, ls, chunk.Options{}, 0)},
	}})
	wantOK(t, res)
	if res.Register.Type != 2 || res.Register.Proxy != 11 || res.Register.Name != "k8s_secret_enum" || !res.Unregistered {
		t.Fatalf("register %+v unregistered %v", res.Register, res.Unregistered)
	}
	for i := 0; i < 2; i++ {
		if rc, _ := res.InitRC(i); rc != 1 {
			t.Fatalf("init %d rc %d", i, rc)
		}
		if rc, _ := res.ExitRC(i); rc != 1 {
			t.Fatalf("exit %d rc %d", i, rc)
		}
	}
	if n := len(r0.Alerts()); n != 1 {
		t.Fatalf("instance 0 (threshold 3): %d alerts", n)
	}
	if n := len(r1.Alerts()); n != 0 {
		t.Fatalf("instance 1 (threshold 4): %d alerts", n)
	}
}

// TestAlertFields checks the alert field by field, for every event format,
// timestamp encoding and body shape Fluent Bit produces.
func TestAlertFields(t *testing.T) {
	cases := []chunk.Options{
		{Format: chunk.V2, Time: chunk.TimeFixExt8, Shape: chunk.ParsedMap},
		{Format: chunk.V1, Time: chunk.TimeExt8, Shape: chunk.ParsedMap},
		{Format: chunk.V2, Time: chunk.TimeUint, Shape: chunk.LogString},
		{Format: chunk.V1, Time: chunk.TimeFloat, Shape: chunk.LogString, ExtraKeys: []chunk.KV{{Key: "stream", Value: "stdout"}}},
		{Format: chunk.V2, Time: chunk.TimeFixExt8, Shape: chunk.LogString, LogKey: "message"},
		{Format: chunk.V2, Time: chunk.TimeFixExt8, Shape: chunk.EventList, EventsPerRecord: 7},
		{Format: chunk.V1, Time: chunk.TimeUint, Shape: chunk.EventList, EventsPerRecord: 400},
		{Format: chunk.V2, Time: chunk.TimeFixExt8, Shape: chunk.ParsedMap, BodyWidth: chunk.Width32, EnvelopeWidth: chunk.Width16, Groups: chunk.GroupsEventTime, GroupEvery: 5},
		{Format: chunk.V2, Time: chunk.TimeExt8, Shape: chunk.ParsedMap, BodyWidth: chunk.Width16, Groups: chunk.GroupsInt},
	}
	ls := harvest()
	var instances []host.Instance
	recv := make([]*receiver.Receiver, len(cases))
	for i, o := range cases {
		r := startReceiver(t)
		recv[i] = r
		p := props(r.URL() + "/alerts")
		if o.LogKey != "" {
			p = append(p, [2]string{"record_key", o.LogKey})
		}
		// Small chunks: the harvest spans several flushes.
		instances = append(instances, host.Instance{Props: p, Chunks: mustChunks(t, ls, o, 4096)})
	}
	res := run(t, host.Config{Instances: instances})
	wantOK(t, res)
	for i, r := range recv {
		o := cases[i]
		name := fmt.Sprintf("%s/%s/%s/%s", o.Format, o.Time, o.Shape, o.LogKey)
		alerts := r.Alerts()
		if len(alerts) != 1 {
			t.Errorf("%s: %d alerts", name, len(alerts))
			continue
		}
		a := alerts[0]
		want := map[string]any{
			"@timestamp":              "2026-11-25T10:00:03.000000000Z",
			"user.name":               "system:serviceaccount:ci:runner",
			"source.ip":               "10.244.3.17",
			"user_agent.original":     "curl/8.5.0",
			"Esql.unique_credentials": 3.0,
			"Esql.secrets_names":      []any{"api-token", "db-password", "registry-creds"},
			"Esql.namespaces":         []any{"ci", "payments"},
			"Esql.outcome":            []any{"allow", "forbid"},
			"rule.name":               "Kubernetes Rapid Secret GET Activity Against Multiple Objects",
			"rule.id":                 "b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c",
			"rule.severity":           "high",
			"rule.risk_score":         73.0,
			"window.start":            "2026-11-25T09:54:03.000000000Z",
			"window.end":              "2026-11-25T10:00:03.000000000Z",
			"event.kind":              "alert",
			"event.start":             "2026-11-25T10:00:01.000000000Z",
			"event.end":               "2026-11-25T10:00:03.000000000Z",
			"event.count":             3.0,
			"alert.type":              "new",
			"alert.mode":              "stream",
			"alert.truncated":         false,
			"related.ip":              []any{"10.244.3.17"},
			"kubernetes.audit.auditID": []any{
				"00000000-0000-4000-8000-000000001000", "00000000-0000-4000-8000-000000002000", "00000000-0000-4000-8000-000000003000"},
		}
		for path, v := range want {
			if got, _ := a.Get(path); !reflect.DeepEqual(got, v) {
				t.Errorf("%s: %s = %#v, want %#v", name, path, got, v)
			}
		}
		if len(a.ID) != 36 {
			t.Errorf("%s: alert id %q", name, a.ID)
		}
		threat, _ := a.Get("rule.threat")
		if !strings.Contains(fmt.Sprint(threat), "TA0006") || !strings.Contains(fmt.Sprint(threat), "T1552.007") {
			t.Errorf("%s: threat %v", name, threat)
		}
	}
	// Every shape gives the same alert id.
	ids := map[string]bool{}
	for _, r := range recv {
		for _, a := range r.Alerts() {
			ids[a.ID] = true
		}
	}
	if len(ids) != 1 {
		t.Errorf("alert ids differ across shapes: %v", ids)
	}
}

func TestBadConfigStopsInit(t *testing.T) {
	r := startReceiver(t)
	for _, c := range []struct {
		props [][2]string
		key   string
	}{
		{[][2]string{{"threshold", "3"}}, `"alert_url"`},
		{props(r.URL(), "threshold", "three"), `"threshold"`},
		{props(r.URL(), "mode", "batch"), `"mode"`},
		{props(r.URL(), "source_ip", "first"), `"source_ip"`},
		{props(r.URL(), "exclude_source_ips", "10.0.0.0/99"), `"exclude_source_ips"`},
		{props(r.URL(), "alert-url", "http://x/"), `"alert-url"`},
	} {
		res := run(t, host.Config{Instances: []host.Instance{{Props: c.props}}})
		if rc, _ := res.InitRC(0); rc != 0 || res.ExitCode != host.StatusInitFailed {
			t.Errorf("%v: init rc %d, exit %d", c.props, rc, res.ExitCode)
		}
		if !strings.Contains(res.Stderr, c.key) || !strings.Contains(res.Stderr, "[k8s_secret_enum]") {
			t.Errorf("%v: stderr does not name %s:\n%s", c.props, c.key, res.Stderr)
		}
	}
}

func TestCoreKeysAreNotSeen(t *testing.T) {
	r := startReceiver(t)
	// Fluent Bit consumes these itself; the plugin must start without them
	// and must not depend on them.
	p := props(r.URL(), "log_level", "debug", "workers", "4", "tls", "on", "retry_limit", "5", "host", "x", "match", "*")
	res := run(t, host.Config{Instances: []host.Instance{{Props: p, Chunks: mustChunks(t, harvest(), chunk.Options{}, 0)}}})
	wantOK(t, res)
	if len(r.Alerts()) != 1 {
		t.Fatalf("%d alerts", len(r.Alerts()))
	}
}

// TestHotReload: Fluent Bit's hot reload registers and initialises the
// plugin again in the same process while the old instances still exist;
// both generations work and nothing global clashes.
func TestHotReload(t *testing.T) {
	r := startReceiver(t)
	res := run(t, host.Config{Reload: true, Instances: []host.Instance{
		{Props: props(r.URL()), Chunks: mustChunks(t, harvest(), chunk.Options{}, 0)},
	}})
	wantOK(t, res)
	if len(res.Inits) != 2 || res.Inits[1].Instance != 1 || res.Inits[1].RC != 1 || len(res.Exits) != 2 {
		t.Fatalf("inits %+v exits %+v\n%s", res.Inits, res.Exits, res.Stdout)
	}
	// Each generation saw the harvest once: the same alert id twice
	// (at-least-once; receivers dedupe by id).
	alerts := r.Alerts()
	if len(alerts) != 2 || alerts[0].ID != alerts[1].ID {
		t.Fatalf("alerts %v", summarize(alerts))
	}
}
