package bench

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/bench/conventional"
)

// Pipeline is the plugin's flush path in-process, as plugin/instance.go
// runs it (without the cgo call and the lock): Arrive, then the chunk
// decoded by record.Decoder straight into detect.Engine.Process; alerts are
// encoded to JSON as the plugin's emit does before handing them to the
// sender.
type Pipeline struct {
	Dec        *record.Decoder
	Eng        *detect.Engine
	process    func(*audit.Event)
	Alerts     int
	AlertBytes int
	Counts     record.Counts
}

// NewPipeline builds a pipeline with the plugin's defaults changed by kv
// (property, value pairs).
func NewPipeline(kv ...string) (*Pipeline, error) {
	e, err := NewEngine(kv...)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{Dec: record.NewDecoder(record.Options{}), Eng: e}
	p.process = p.Eng.Process
	return p, nil
}

// NewEngine is the engine with the plugin's defaults changed by kv
// (property, value pairs), read by the plugin's settings table.
func NewEngine(kv ...string) (*detect.Engine, error) {
	m := config.MapGetter{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	c, err := config.Parse(m, config.Replay)
	if err != nil {
		return nil, err
	}
	return detect.New(config.Rule, c.Engine)
}

// take encodes the alerts as the plugin does before handing them over.
func (p *Pipeline) take() {
	for _, a := range p.Eng.TakeAlerts() {
		if body, err := a.MarshalJSON(); err == nil {
			p.Alerts++
			p.AlertBytes += len(body)
		}
	}
}

// Flush runs one chunk through the pipeline.
func (p *Pipeline) Flush(chunk []byte) record.Counts {
	p.Eng.Arrive(time.Now())
	c := p.Dec.Decode(chunk, p.process)
	p.Counts.Add(c)
	p.take()
	return c
}

// Floor reads every byte of b once, 8 at a time, doing no work: the
// memory-bandwidth bound of anything that looks at the whole chunk.
func Floor(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for len(b) >= 32 {
		s0 += binary.LittleEndian.Uint64(b)
		s1 += binary.LittleEndian.Uint64(b[8:])
		s2 += binary.LittleEndian.Uint64(b[16:])
		s3 += binary.LittleEndian.Uint64(b[24:])
		b = b[32:]
	}
	for len(b) >= 8 {
		s0 += binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		s1 += uint64(c)
	}
	return s0 + s1 + s2 + s3
}

// Sink keeps results alive so that the compiler cannot drop the work.
var Sink uint64

// Kind names what a chunk benchmark runs.
type Kind string

const (
	KindPipeline     Kind = "pipeline"     // ours: record.Decoder + engine (the plugin's flush, in-process)
	KindDecode       Kind = "decode"       // ours: record.Decoder only
	KindConventional Kind = "conventional" // baseline 1: fluent-bit-go decoder + map lookups (+ encoding/json for log bodies)
	KindStdJSON      Kind = "stdjson"      // baseline 2: encoding/json of each raw line into a struct
	KindFloor        Kind = "floor"        // baseline 3: one pass over the chunk bytes
)

// Kinds in report order.
var Kinds = []Kind{KindPipeline, KindDecode, KindConventional, KindStdJSON, KindFloor}

// ChunkBench returns a benchmark that runs kind over the set's chunks, one
// chunk per b.N iteration, cycling. Each pass after the first is the next
// repetition of the set (Apply, untimed), so that the engine sees new event
// times. It reports ns/record, records/s, MB/s of payload and
// allocs/record.
func ChunkBench(s *Set, kind Kind, props ...string) func(b *testing.B) {
	return func(b *testing.B) {
		var p *Pipeline
		if kind == KindPipeline {
			var err error
			if p, err = NewPipeline(props...); err != nil {
				b.Fatal(err)
			}
		}
		dec := record.NewDecoder(record.Options{})
		var ev conventional.Event
		run := func(c int) {
			ch := s.Chunks[c]
			switch kind {
			case KindPipeline:
				p.Flush(ch)
			case KindDecode:
				Sink += dec.Decode(ch, nil).Events
			case KindConventional:
				Sink += uint64(conventional.DecodeBytes(ch).SecretGets)
			case KindStdJSON:
				for _, l := range s.Lines[c] {
					if conventional.FromJSON(l, &ev) && ev.Resource == "secrets" {
						Sink++
					}
				}
			case KindFloor:
				Sink += Floor(ch)
			}
		}
		rep := 0
		s.Apply(rep)
		// Warm up: one pass for ours (the decoder's buffers, the engine's
		// state), a chunk for the baselines (which keep no state).
		warm := len(s.Chunks)
		if kind != KindPipeline && kind != KindDecode {
			warm = 1
		}
		for c := 0; c < warm; c++ {
			run(c)
		}
		rep++
		s.Apply(rep)
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		records, bytes := 0, 0
		per := make([]float64, 0, min(b.N, 1<<16))
		var cpu int64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c := i % len(s.Chunks)
			if c == 0 && i > 0 && kind == KindPipeline {
				// Only the engine keeps state that event times matter to.
				b.StopTimer()
				rep++
				s.Apply(rep)
				b.StartTimer()
			}
			t, cpu0 := time.Now(), ProcessCPU()
			run(c)
			cpu += ProcessCPU() - cpu0
			if len(per) < cap(per) {
				per = append(per, float64(time.Since(t).Nanoseconds())/float64(s.Records[c]))
			}
			records += s.Records[c]
			bytes += len(s.Chunks[c])
		}
		b.StopTimer()
		b.ReportMetric(Median64(per), "med-ns/record")
		b.ReportMetric(float64(cpu)/float64(records), "cpu-ns/record")
		runtime.ReadMemStats(&ms1)
		ns := float64(b.Elapsed().Nanoseconds())
		b.ReportMetric(ns/float64(records), "ns/record")
		b.ReportMetric(float64(records)/(ns/1e9), "records/s")
		b.ReportMetric(float64(bytes)/(ns/1e9)/1e6, "MB/s")
		b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(records), "allocs/record")
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(records), "B/record")
		if p != nil {
			b.ReportMetric(float64(p.Alerts)/float64(rep+1), "alerts/pass")
		}
	}
}

// RunResult is one ChunkBench result in report units.
type RunResult struct {
	Kind           Kind    `json:"kind"`
	Shape          string  `json:"shape"`
	NsPerRecord    float64 `json:"ns_per_record"`
	MedianNs       float64 `json:"median_chunk_ns_per_record"` // median over chunks: less sensitive to other load
	CPUNs          float64 `json:"cpu_ns_per_record"`          // process CPU time: not counting time other programs took
	Runs           int     `json:"runs,omitempty"`
	BestNs         float64 `json:"best_ns_per_record,omitempty"` // lowest NsPerRecord of the runs
	RecordsPerSec  float64 `json:"records_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"`
	AllocsPerRec   float64 `json:"allocs_per_record"`
	BytesPerRecord float64 `json:"bytes_per_record"`
	Chunks         int     `json:"chunks"`
}

// Measure runs ChunkBench with testing.Benchmark (outside `go test`) and
// returns its figures.
func Measure(s *Set, kind Kind, props ...string) RunResult {
	r := testing.Benchmark(ChunkBench(s, kind, props...))
	return RunResult{Kind: kind, Shape: ShapeName(s.Shape), NsPerRecord: r.Extra["ns/record"], MedianNs: r.Extra["med-ns/record"], CPUNs: r.Extra["cpu-ns/record"],
		RecordsPerSec: r.Extra["records/s"], MBPerSec: r.Extra["MB/s"], AllocsPerRec: r.Extra["allocs/record"],
		BytesPerRecord: r.Extra["B/record"], Chunks: r.N}
}

func (r RunResult) String() string {
	return fmt.Sprintf("%-12s %-3s %9.1f ns/record (median chunk %7.1f, CPU %7.1f) %12.0f records/s %8.1f MB/s %6.3f allocs/record (%d chunks)",
		r.Kind, r.Shape, r.NsPerRecord, r.MedianNs, r.CPUNs, r.RecordsPerSec, r.MBPerSec, r.AllocsPerRec, r.Chunks)
}

// Median64 is the median of xs (0 for none); xs is sorted in place.
func Median64(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	return xs[len(xs)/2]
}
