package record

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/tinylib/msgp/msgp"
)

// chunkSize is about the size at which Fluent Bit closes a chunk.
const chunkSize = 2 << 20

// realisticDoc returns the i-th audit line of a synthetic but realistic
// stream: API server Metadata-level events of ~0.7-1.1 KB (controllers,
// kubelets and users listing, watching, getting and updating objects), 5%
// of them `get secrets`.
func realisticDoc(r *rand.Rand, i int) string {
	type kind struct{ verb, resource, group, ns string }
	kinds := []kind{
		{"get", "configmaps", "", "kube-system"},
		{"list", "pods", "", "default"},
		{"watch", "endpointslices", "discovery.k8s.io", ""},
		{"update", "leases", "coordination.k8s.io", "kube-node-lease"},
		{"patch", "nodes", "", ""},
		{"create", "events", "", "monitoring"},
		{"get", "deployments", "apps", "prod"},
		{"list", "secrets", "", "prod"},
		{"delete", "pods", "", "ci"},
	}
	users := []string{"system:kube-controller-manager", "system:node:ip-10-0-12-34.eu-west-1.compute.internal",
		"system:serviceaccount:kube-system:generic-garbage-collector", "alice@example.com", "system:serviceaccount:ci:deployer"}
	agents := []string{"kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819/leader-election",
		"kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819", "kubectl/v1.29.2 (darwin/arm64) kubernetes/4b8e819",
		"argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format"}
	k := kinds[r.IntN(len(kinds))]
	if i%20 == 0 {
		k = kind{"get", "secrets", "", "prod"}
	}
	name := fmt.Sprintf("obj-%05d-%x", r.IntN(100000), r.Uint32())
	ns, uri := k.ns, ""
	prefix := "/api/v1"
	if k.group != "" {
		prefix = "/apis/" + k.group + "/v1"
	}
	if ns != "" {
		uri = prefix + "/namespaces/" + ns + "/" + k.resource
	} else {
		uri = prefix + "/" + k.resource
	}
	if k.verb != "list" && k.verb != "watch" && k.verb != "create" {
		uri += "/" + name
	} else {
		name = ""
	}
	t := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1713 * time.Microsecond)
	ts := t.Format("2006-01-02T15:04:05.000000Z")
	te := t.Add(time.Duration(r.IntN(9000)) * time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
	objectRef := fmt.Sprintf(`{"resource":%q,"namespace":%q,"name":%q,"apiGroup":%q,"apiVersion":"v1"}`, k.resource, ns, name, k.group)
	code := 200
	if k.verb == "create" {
		code = 201
	}
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%08x-%04x-4%03x-a%03x-%012x","stage":"ResponseComplete","requestURI":%q,"verb":%q,"user":{"username":%q,"uid":"%08x-0d2c-4d5e-9f1a-2b3c4d5e6f70","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=%08x-1111-2222-3333-444455556666"]}},"sourceIPs":["10.0.%d.%d"],"userAgent":%q,"objectRef":%s,"responseStatus":{"metadata":{},"code":%d},"requestReceivedTimestamp":%q,"stageTimestamp":%q,"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:controller:generic-garbage-collector\" of ClusterRole \"system:controller:generic-garbage-collector\" to ServiceAccount \"generic-garbage-collector/kube-system\""}}`,
		r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1),
		uri, k.verb, users[r.IntN(len(users))], r.Uint32(), r.Uint32(), r.IntN(256), r.IntN(256),
		agents[r.IntN(len(agents))], objectRef, code, ts, te)
}

type benchChunk struct {
	chunk   []byte
	records int
	events  int
	body    int // bytes of the bodies, on average
}

// mapChunk is ~2 MB of tail+json-parser records (shape 1).
func mapChunk(tb testing.TB) benchChunk {
	r := rand.New(rand.NewPCG(1, 2))
	var c benchChunk
	var bodies int
	for i := 0; len(c.chunk) < chunkSize; i++ {
		body := mp(tb, realisticDoc(r, i))
		bodies += len(body)
		c.chunk = v2(c.chunk, tsFixExt8(recSec+uint32(i/1000), uint32(i%1000)*1000000), body)
		c.records++
	}
	c.events, c.body = c.records, bodies/c.records
	return c
}

// logChunk is ~2 MB of tail records without a parser (shape 2).
func logChunk(tb testing.TB) benchChunk { return logLines(tb, 1) }

// logSecretsChunk is logChunk with every line a get of a secret.
func logSecretsChunk(tb testing.TB) benchChunk { return logLines(tb, 20) }

// logLines builds a log chunk from realisticDoc(r, i*every): every 20th
// line a get of a secret with every 1, every line with every 20.
func logLines(tb testing.TB, every int) benchChunk {
	r := rand.New(rand.NewPCG(1, 2))
	var c benchChunk
	var bodies int
	for i := 0; len(c.chunk) < chunkSize; i++ {
		body := msgp.AppendMapHeader(nil, 3)
		body = msgp.AppendString(body, "time")
		body = msgp.AppendString(body, "2026-11-25T10:00:00.123456789Z")
		body = msgp.AppendString(body, "stream")
		body = msgp.AppendString(body, "stdout")
		body = msgp.AppendString(body, "log")
		body = msgp.AppendString(body, realisticDoc(r, i*every))
		bodies += len(body)
		c.chunk = v2(c.chunk, tsFixExt8(recSec+uint32(i/1000), 0), body)
		c.records++
	}
	c.events, c.body = c.records, bodies/c.records
	return c
}

// eventListChunk is ~2 MB of http-input records, each an EventList of 100
// items as the audit webhook batches them (shape 3).
func eventListChunk(tb testing.TB) benchChunk {
	r := rand.New(rand.NewPCG(1, 2))
	var c benchChunk
	var bodies int
	for i := 0; len(c.chunk) < chunkSize; {
		items := make([]string, 100)
		for j := range items {
			items[j] = realisticDoc(r, i)
			i++
		}
		body := mp(tb, eventList(items...))
		bodies += len(body)
		c.chunk = v2(c.chunk, tsFixExt8(recSec, 0), body)
		c.records++
		c.events += len(items)
	}
	c.body = bodies / c.records
	return c
}

func benchDecode(b *testing.B, c benchChunk) { benchDecodeWith(b, c, Options{}) }

func benchDecodeWith(b *testing.B, c benchChunk, opts Options) {
	d := NewDecoder(opts)
	var secrets int
	emit := func(ev *audit.Event) {
		if ev.Resource == "secrets" && ev.Verb == "get" {
			secrets++
		}
	}
	if got := d.Decode(c.chunk, emit); got.Events != uint64(c.events) || got.Records != uint64(c.records) {
		b.Fatalf("decoded %+v, want %d records %d events", got, c.records, c.events)
	}
	b.SetBytes(int64(len(c.chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decode(c.chunk, emit)
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/float64(c.records), "ns/record")
	b.ReportMetric(ns/float64(c.events), "ns/event")
	b.ReportMetric(float64(c.body), "B/body")
}

// The chunks are built once per process, so that a benchmark's runs
// measure decoding only.
var built = map[string]benchChunk{}

func cached(tb testing.TB, name string, build func(testing.TB) benchChunk) benchChunk {
	c, ok := built[name]
	if !ok {
		c = build(tb)
		built[name] = c
	}
	return c
}

func BenchmarkDecodeMap(b *testing.B) { benchDecode(b, cached(b, "map", mapChunk)) }
func BenchmarkDecodeLog(b *testing.B) { benchDecode(b, cached(b, "log", logChunk)) }

// The raw path with the prefilter, and the worst case of both: every line
// a get of a secret (with the prefilter read twice, skimmed then whole).
func BenchmarkDecodeLogPrefilter(b *testing.B) {
	benchDecodeWith(b, cached(b, "log", logChunk), Options{Prefilter: true})
}
func BenchmarkDecodeLogAllMatching(b *testing.B) {
	benchDecode(b, cached(b, "logsecrets", logSecretsChunk))
}
func BenchmarkDecodeLogAllMatchingPrefilter(b *testing.B) {
	benchDecodeWith(b, cached(b, "logsecrets", logSecretsChunk), Options{Prefilter: true})
}
func BenchmarkDecodeEventList(b *testing.B) { benchDecode(b, cached(b, "eventlist", eventListChunk)) }

// BenchmarkDecodeNotAudit is other logs routed to the plugin: the cost of
// telling them apart.
func BenchmarkDecodeNotAudit(b *testing.B) {
	var c benchChunk
	for i := 0; len(c.chunk) < chunkSize; i++ {
		line := strings.Repeat(`x`, 200) + fmt.Sprint(i)
		c.chunk = v2(c.chunk, tsFixExt8(recSec, 0), mp(b, `{"level":"info","ts":"2026-11-25T10:00:00Z","msg":"`+line+`","kubernetes":{"pod_name":"a","namespace_name":"b","labels":{"app":"c"}}}`))
		c.records++
	}
	c.body = len(c.chunk) / c.records
	d := NewDecoder(Options{})
	emit := func(*audit.Event) {}
	b.SetBytes(int64(len(c.chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decode(c.chunk, emit)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.records), "ns/record")
}

// TestZeroAllocs: once warm, Decode allocates nothing, whatever it reads.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	mixed := append(append(groupStart(), v2(nil, tsFixExt8(recSec, 0), mp(t, otherLog))...), groupEnd()...)
	mixed = v2(mixed, tsUint(recSec), logBody("log", "plain text"))
	// RecordKey strings that are broken JSON, of another kind, or nested
	// past the depth limit, and an EventList line.
	mixed = v2(mixed, tsUint(recSec), logBody("log", sampleGet[:len(sampleGet)/2]))
	mixed = v2(mixed, tsUint(recSec), logBody("log", sampleGet+"}"))
	mixed = v2(mixed, tsUint(recSec), logBody("log", `{"level":"info","msg":"x"}`))
	mixed = v2(mixed, tsUint(recSec), logBody("log", `{"a":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}`))
	mixed = v2(mixed, tsUint(recSec), logBody("log", eventList(sampleGet, secondGet)))
	mixed = append(mixed, 0x91, 0xc0)
	mixed = v2(mixed, tsUint(recSec), append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "x"), append(make([]byte, 20000), 0xc0)...))
	for i := range 20000 {
		mixed[len(mixed)-20001+i] = 0x91
	}
	mixed = v2(mixed, tsFixExt8(0, 0), mp(t, noTimes))
	mixed = v2(mixed, tsUint(recSec), []byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	for name, chunk := range map[string][]byte{
		"map":       cached(t, "map", mapChunk).chunk[:200000],
		"log":       cached(t, "log", logChunk).chunk[:200000],
		"eventlist": cached(t, "eventlist", eventListChunk).chunk,
		"mixed":     mixed,
	} {
		d := NewDecoder(Options{})
		n := 0
		emit := func(*audit.Event) { n++ }
		d.Decode(chunk, emit)
		if allocs := testing.AllocsPerRun(5, func() { d.Decode(chunk, emit) }); allocs != 0 {
			t.Errorf("%s: %v allocations per Decode", name, allocs)
		}
	}
}
