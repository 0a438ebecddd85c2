package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// modelProps are the plugin properties for model settings s: the same
// detection settings, and no wall clock (the events are in the past and the
// host flushes them at once).
func modelProps(url string, s model.Settings) [][2]string {
	p := props(url, "idle_timeout", "0", "max_clock_skew", "0")
	m := s.Props()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p = append(p, [2]string{k, m[k]})
	}
	return p
}

// received returns the receiver's alerts, each delivery once, as decoded
// JSON in a fixed order (delivery order is the sender's business).
func received(r *receiver.Receiver) []map[string]any {
	var out []map[string]any
	for _, a := range receiver.Dedupe(r.Alerts()) {
		out = append(out, a.Fields)
	}
	return inOrder(out)
}

func inOrder(alerts []map[string]any) []map[string]any {
	key := func(a map[string]any) string {
		b, _ := json.Marshal(a)
		return string(b)
	}
	out := append([]map[string]any(nil), alerts...)
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}

// TestModelThroughPlugin: generated traffic with random settings, as Fluent
// Bit hands it to the .so (the event as a parsed map, or the raw line under
// "log"), in small chunks; the alerts the receiver gets are the model's.
func TestModelThroughPlugin(t *testing.T) {
	type modelRun struct {
		seed  int64
		s     model.Settings
		lines [][]byte
		shape chunk.Shape
		r     *receiver.Receiver
	}
	var runs []*modelRun
	var instances []host.Instance
	// Every group_by (issue 13), written in various orders, over the seeds.
	groupings := [][]string{{"user"}, {"source_ip", "user"}, {"user", "user_agent"}, nil, {"user"},
		{"user_agent", "source_ip", "user"}}
	for seed := int64(1); seed <= 6; seed++ {
		s := model.RandomSettings(rand.New(rand.NewSource(seed)))
		s.GroupBy = groupings[seed-1]
		lines := model.Generate(seed, model.TrafficParams{Span: 20 * time.Minute, Window: s.Window,
			Suppress: s.Suppress, Clean: true})
		for _, shape := range []chunk.Shape{chunk.ParsedMap, chunk.LogString} {
			r := startReceiver(t)
			runs = append(runs, &modelRun{seed, s, lines, shape, r})
			instances = append(instances, host.Instance{Props: modelProps(r.URL()+"/alerts", s),
				Chunks: mustChunks(t, lines, chunk.Options{Shape: shape}, 64<<10)})
		}
	}
	res := run(t, host.Config{Instances: instances})
	wantOK(t, res)
	compared, grouped := 0, 0
	for _, c := range runs {
		want := model.Run(c.s, c.lines).Alerts
		got := received(c.r)
		if d := model.Compare(got, inOrder(want)); d != nil {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("e2e-model-seed-%d.log", c.seed))
			os.WriteFile(path, []byte(model.Lines(c.lines)), 0o600)
			t.Errorf("seed %d, %s bodies: the plugin and the model differ\nsettings: %s\ninput: %s\n%s",
				c.seed, c.shape, c.s, path, d)
			continue
		}
		compared += len(want)
		for _, a := range want {
			if _, ok := a["alert"].(map[string]any)["group_by"]; ok {
				grouped++
			}
		}
	}
	if compared < 20 || grouped < 10 {
		t.Errorf("only %d alerts compared, %d under a group_by: the traffic no longer makes alerts", compared, grouped)
	}
	t.Logf("%d runs, %d alerts equal to the model's, %d of them under a group_by", len(runs), compared, grouped)
}

// TestReproductionsThroughPlugin: issue 9's two streams through the .so.
func TestReproductionsThroughPlugin(t *testing.T) {
	root, err := host.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) [][]byte {
		ls, err := chunk.ReadLines(filepath.Join(root, "test", "testdata", "regress", name))
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	for _, shape := range []chunk.Shape{chunk.ParsedMap, chunk.LogString} {
		r1, r2 := startReceiver(t), startReceiver(t)
		res := run(t, host.Config{Instances: []host.Instance{
			{Props: props(r1.URL()), Chunks: mustChunks(t, read("stream-threshold-after-expiry.log"), chunk.Options{Shape: shape}, 0)},
			{Props: props(r2.URL(), "threshold", "4", "window", "3m", "suppress", "2m"),
				Chunks: mustChunks(t, read("stream-name-lost-after-expiry.log"), chunk.Options{Shape: shape}, 0)},
		}})
		wantOK(t, res)
		if got := summarize(r1.Alerts()); len(got) != 0 {
			t.Errorf("%s: the window [16:21:00, 16:27:00] holds 2 names, want no alert: %+v", shape, got)
		}
		got := summarize(r2.Alerts())
		if len(got) != 1 || got[0].Type != "new" || got[0].At != "2025-11-24T16:14:47.665521000Z" ||
			got[0].Names != "secret-1,secret-25,secret-28,secret-8" || got[0].Count != 4 {
			t.Errorf("%s: want one new alert at 16:14:47.665521 with secret-1, secret-25, secret-28, secret-8: %+v", shape, got)
			continue
		}
		if c, _ := r2.Alerts()[0].Get("Esql.unique_credentials"); c != 4.0 {
			t.Errorf("%s: unique_credentials %v", shape, c)
		}
	}
}
