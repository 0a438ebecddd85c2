package bench

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
)

// The corpus of these benchmarks: BENCH_EVENTS lines (default 100000) of
// the realistic stream, as parsed-map and log-string payloads. Built once
// per process.
var (
	corpusOnce sync.Once
	corpus     map[chunk.Shape]*Set
	corpusErr  error
)

func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

func sets(tb testing.TB) map[chunk.Shape]*Set {
	tb.Helper()
	corpusOnce.Do(func() {
		spec := Realistic(benchEvents())
		lines := Lines(spec)
		corpus = map[chunk.Shape]*Set{}
		for _, sh := range Shapes {
			s, err := Build(spec.Name, lines, sh)
			if err != nil {
				corpusErr = err
				return
			}
			corpus[sh] = s
		}
	})
	if corpusErr != nil {
		tb.Fatal(corpusErr)
	}
	return corpus
}

// Stage: raw JSON line → Event (detect.JSONParser), on the realistic lines.
func BenchmarkStageJSONLine(b *testing.B) {
	s := sets(b)[chunk.LogString]
	var lines [][]byte
	n := 0
	for _, ls := range s.Lines {
		lines = append(lines, ls...)
		for _, l := range ls {
			n += len(l)
		}
	}
	p := audit.NewJSONParser()
	emit := func(*audit.Event) {}
	b.SetBytes(int64(n / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(lines[i%len(lines)], 0, emit)
	}
}

// Stage: msgpack record → Event (record.Decoder), per chunk.
func BenchmarkStageDecode(b *testing.B) {
	for _, sh := range Shapes {
		b.Run(ShapeName(sh), ChunkBench(sets(b)[sh], KindDecode))
	}
}

// Stage: the engine per event of the realistic mix (decoded beforehand;
// event times move on by one pass each pass).
func BenchmarkStageEngineRealistic(b *testing.B) {
	s := sets(b)[chunk.ParsedMap]
	s.Apply(0)
	var evs []audit.Event
	d := record.NewDecoder(record.Options{})
	for _, ch := range s.Chunks {
		d.Decode(ch, func(ev *audit.Event) {
			c := *ev
			c.Verb, c.Resource, c.Name, c.Namespace = strings.Clone(c.Verb), strings.Clone(c.Resource), strings.Clone(c.Name), strings.Clone(c.Namespace)
			c.User, c.ImpersonatedUser, c.UserAgent = strings.Clone(c.User), strings.Clone(c.ImpersonatedUser), strings.Clone(c.UserAgent)
			c.Decision, c.AuditID, c.Stage = strings.Clone(c.Decision), strings.Clone(c.AuditID), strings.Clone(c.Stage)
			c.SourceIPs = nil
			for _, ip := range ev.SourceIPs {
				c.SourceIPs = append(c.SourceIPs, strings.Clone(ip))
			}
			evs = append(evs, c)
		})
	}
	p, err := NewPipeline()
	if err != nil {
		b.Fatal(err)
	}
	e := p.Eng
	for i := range evs {
		e.Process(&evs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(evs)
		if k == 0 {
			for j := range evs {
				evs[j].Time += s.Span
			}
		}
		e.Process(&evs[k])
	}
	b.ReportMetric(float64(p.Alerts)/float64(b.N)*1e6, "alerts/Mevents")
}

// Ours: the plugin's flush path in-process (decode + engine), per chunk.
func BenchmarkPipeline(b *testing.B) {
	for _, sh := range Shapes {
		b.Run(ShapeName(sh), ChunkBench(sets(b)[sh], KindPipeline))
	}
}

// Baselines on the same chunks: (1) fluent-bit-go's decoder into generic
// maps and lookups (encoding/json for log bodies), (2) encoding/json of each
// raw line into a struct, (3) one pass over the bytes.
func BenchmarkBaseline(b *testing.B) {
	for _, k := range []Kind{KindConventional, KindStdJSON, KindFloor} {
		for _, sh := range Shapes {
			b.Run(string(k)+"/"+ShapeName(sh), ChunkBench(sets(b)[sh], k))
		}
	}
}

// TestZeroAllocsNonMatching: once warm, the flush path allocates nothing
// for records that do not match (the realistic mix without its secret
// gets), in both body shapes. (An allocation count, not a time.)
func TestZeroAllocsNonMatching(t *testing.T) {
	lines := Lines(Realistic(20000))
	var non [][]byte
	for _, l := range lines {
		if !IsSecretGet(l) {
			non = append(non, l)
		}
	}
	for _, sh := range Shapes {
		s, err := Build("nonmatching", non, sh)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPipeline()
		if err != nil {
			t.Fatal(err)
		}
		s.Pass(0, func(_ int, ch []byte) { p.Flush(ch) })
		rep := 1
		for c, ch := range s.Chunks {
			allocs := testing.AllocsPerRun(3, func() {
				s.Apply(rep) // no allocation: rewrites in place
				rep++
				p.Flush(ch)
			})
			if allocs != 0 {
				t.Errorf("%s chunk %d (%d records): %v allocations per flush", ShapeName(sh), c, s.Records[c], allocs)
			}
		}
	}
}
