package e2e

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/gen"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

// generated returns a realistic audit log with planted harvests.
func generated(t *testing.T, events int, seed int64, disorder time.Duration) ([][]byte, *gen.Generator) {
	t.Helper()
	g := gen.New(gen.Config{Events: events, Seed: seed, Harvests: 6, Disorder: disorder})
	var out [][]byte
	for {
		line, ok := g.Next()
		if !ok {
			break
		}
		out = append(out, append([]byte(nil), line...))
	}
	return out, g
}

// TestPluginMatchesReplay: the plugin inside the host and the replay
// command give the same alerts for the same log, in every body shape.
func TestPluginMatchesReplay(t *testing.T) {
	ls, _ := generated(t, 60000, 11, 0)
	want := replay(t, ls)
	if len(want) < 6 {
		t.Fatalf("replay found %d alerts", len(want))
	}
	for _, o := range []chunk.Options{
		{Shape: chunk.ParsedMap},
		{Shape: chunk.LogString, Format: chunk.V1},
		{Shape: chunk.EventList, EventsPerRecord: 400},
	} {
		r := startReceiver(t)
		res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL()), Chunks: mustChunks(t, ls, o, 0)}}})
		wantOK(t, res)
		if got := summarize(r.Alerts()); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: plugin and replay differ\nplugin %+v\nreplay %+v", o.Shape, got, want)
		}
	}
}

// TestGeneratedHarvestsAreFound: every planted harvest that Elastic's rule
// flags in one window is reported, with all its names, by one fingerprint.
func TestGeneratedHarvestsAreFound(t *testing.T) {
	ls, g := generated(t, 80000, 3, 0)
	r := startReceiver(t)
	res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL(), "source_ip", "elastic"), Chunks: mustChunks(t, ls, chunk.Options{}, 0)}}})
	wantOK(t, res)
	alerts := summarize(r.Alerts())
	for _, h := range append(g.Truth(), g.Decoys()...) {
		if !h.ElasticV1 {
			continue
		}
		names := map[string]bool{}
		for _, a := range alerts {
			if a.User == h.User && a.IP == canonicalIP(h.SourceIP) && a.UA == h.UserAgent {
				for _, n := range strings.Split(a.Names, ",") {
					names[n] = true
				}
			}
		}
		for _, n := range h.Names {
			if !names[n] && !strings.HasPrefix(n, "sh.helm.release.") {
				t.Errorf("%s (%s from %s): name %s not reported", h.Kind, h.User, h.SourceIP, n)
			}
		}
	}
}

// TestWorkersGiveTheSameAlerts: four threads flushing one instance at
// once (Workers 4) give the alerts of one thread. Concurrent flushes lose
// the chunks' order, so stream mode runs with reorder_delay (decisions in
// event-time order); schedule mode needs nothing more than its lateness.
func TestWorkersGiveTheSameAlerts(t *testing.T) {
	ls, _ := generated(t, 100000, 5, 0)
	chunks := mustChunks(t, ls, chunk.Options{}, 0)
	for _, kv := range [][]string{{"mode", "stream", "reorder_delay", "20s"}, {"mode", "schedule"}} {
		var results [][]summary
		for _, threads := range []int{1, 4} {
			r := startReceiver(t)
			res := run(t, host.Config{Threads: threads, Instances: []host.Instance{{Props: props(r.URL(), kv...), Chunks: chunks}}})
			wantOK(t, res)
			results = append(results, summarize(r.Alerts()))
		}
		if len(results[0]) < 6 {
			t.Fatalf("%v: %d alerts", kv, len(results[0]))
		}
		if !reflect.DeepEqual(results[0], results[1]) {
			t.Errorf("%v: 1 thread %+v\n4 threads %+v", kv, results[0], results[1])
		}
	}
}

// TestUpdateAndSchedule checks stream updates and schedule stamps through
// the plugin.
func TestUpdateAndSchedule(t *testing.T) {
	evs := []ev{
		{at: 1 * time.Second, name: "a"}, {at: 2 * time.Second, name: "b"}, {at: 3 * time.Second, name: "c"},
		{at: 1 * time.Minute, name: "d"},
		{at: 7 * time.Minute, verb: "update", resource: "leases", name: "n", user: "system:node:node-1", ips: []string{"10.0.0.11"}},
	}
	r := startReceiver(t)
	s := startReceiver(t)
	res := run(t, host.Config{Instances: []host.Instance{
		{Props: props(r.URL()), Chunks: mustChunks(t, lines(evs...), chunk.Options{}, 0)},
		{Props: props(s.URL(), "mode", "schedule"), Chunks: mustChunks(t, lines(evs...), chunk.Options{}, 0)},
	}})
	wantOK(t, res)
	got := summarize(r.Alerts())
	if len(got) != 2 || got[0].Type != "new" || got[0].Names != "a,b,c" || got[1].Type != "update" ||
		got[1].At != "2026-11-25T10:05:03.000000000Z" || got[1].Names != "a,b,c,d" {
		t.Fatalf("stream alerts %+v", got)
	}
	got = summarize(s.Alerts())
	if len(got) != 1 || got[0].At != "2026-11-25T10:05:00.000000000Z" || got[0].Names != "a,b,c,d" {
		t.Fatalf("schedule alerts %+v", got)
	}
}

// TestFluentBitConf runs the [OUTPUT] section and the dummy records of the
// repository's fluent-bit.conf through the host, one record per input per
// second as Fluent Bit's dummy input emits them.
func TestFluentBitConf(t *testing.T) {
	root, err := host.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "fluent-bit.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := startReceiver(t)
	var section string
	var outProps [][2]string
	var dummies [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		v = strings.TrimSpace(v)
		switch {
		case section == "[INPUT]" && strings.EqualFold(k, "Dummy"):
			dummies = append(dummies, []byte(v))
		case section == "[OUTPUT]" && !strings.EqualFold(k, "Name") && !strings.EqualFold(k, "Match"):
			if strings.EqualFold(k, "alert_url") {
				v = r.URL() + "/alerts"
			}
			outProps = append(outProps, [2]string{k, v})
		}
	}
	if len(dummies) < 4 || len(outProps) < 5 {
		t.Fatalf("parsed %d dummy records, %d output properties", len(dummies), len(outProps))
	}
	// Ten seconds of records: every input once per second, stamped with
	// Fluent Bit's time (the records carry none).
	var ls [][]byte
	for s := 0; s < 10; s++ {
		ls = append(ls, dummies...)
	}
	o := chunk.Options{TimeFunc: func(i int, _ []byte) time.Time { return base.Add(time.Duration(i/len(dummies)) * time.Second) }}
	res := run(t, host.Config{Instances: []host.Instance{{Props: outProps, Chunks: mustChunks(t, ls, o, 8192)}}})
	wantOK(t, res)
	got := summarize(r.Alerts())
	if len(got) != 2 || got[0].Type != "new" || got[0].User != "system:serviceaccount:ci:build-runner" ||
		got[0].Names != "db-credentials,registry-pull-secret,stripe-api-key" || got[1].Type != "update" ||
		got[1].Names != "db-credentials,registry-pull-secret,stripe-api-key,tls-wildcard" {
		t.Fatalf("alerts %+v\nstderr:\n%s", got, res.Stderr)
	}
}

// canonicalIP prints an address as alerts do: RFC 5952, IPv4-mapped
// addresses unmapped.
func canonicalIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.Unmap().String()
}
