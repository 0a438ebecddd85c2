package bench

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// Segment is the cost of the records between two checkpoints of a long run.
type Segment struct {
	From, To    int     `json:"-"`
	Records     int     `json:"records"` // records processed when the segment ended
	NsPerRecord float64 `json:"ns_per_record"`
	MedianNs    float64 `json:"median_chunk_ns_per_record"`
	CPUNs       float64 `json:"cpu_ns_per_record"`
	// HeapMB is the live heap (after a GC) the pipeline holds at the
	// checkpoint: HeapAlloc less what it was before the pipeline was made.
	HeapMB       float64 `json:"heap_mb"`
	Fingerprints int     `json:"fingerprints"`
	Names        int     `json:"names"`
	Alerts       int     `json:"alerts"`
	// Set when runs are merged: how many, and the highest NsPerRecord.
	Runs    int     `json:"runs,omitempty"`
	WorstNs float64 `json:"worst_ns_per_record,omitempty"`
}

// ScaleRecords runs total records through one pipeline, pass after pass
// of the set (each pass shifted in event time), and reports the cost per
// record of each stretch between checkpoints (the first checkpoint
// crossed at a chunk boundary), with the heap and the engine's state there.
// Only the pipeline's Flush calls are timed.
func ScaleRecords(s *Set, total int, checkpoints []int, props ...string) ([]Segment, error) {
	base := heapAfterGC()
	p, err := NewPipeline(props...)
	if err != nil {
		return nil, err
	}
	var out []Segment
	done, segStart := 0, 0
	var segNs, segCPU int64
	var per []float64
	next := 0
	for rep := 0; done < total && next < len(checkpoints); rep++ {
		s.Apply(rep)
		for c, ch := range s.Chunks {
			t, cpu0 := time.Now(), ProcessCPU()
			p.Flush(ch)
			d := time.Since(t).Nanoseconds()
			segCPU += ProcessCPU() - cpu0
			segNs += d
			per = append(per, float64(d)/float64(s.Records[c]))
			done += s.Records[c]
			if next < len(checkpoints) && done >= checkpoints[next] {
				seg := Segment{From: segStart, To: done, Records: done, NsPerRecord: float64(segNs) / float64(done-segStart),
					MedianNs: Median64(per), CPUNs: float64(segCPU) / float64(done-segStart)}
				per, segCPU = per[:0], 0
				fillHeap(&seg, p.Eng, base)
				seg.Alerts = p.Alerts
				out = append(out, seg)
				segStart, segNs = done, 0
				next++
			}
			if done >= total {
				break
			}
		}
	}
	return out, nil
}

func fillHeap(seg *Segment, e *detect.Engine, base uint64) {
	seg.HeapMB = (float64(heapAfterGC()) - float64(base)) / (1 << 20)
	st := e.Stats()
	seg.Fingerprints, seg.Names = st.Fingerprints, st.Names
}

// FPResult is the cost per record with the set's matching events spread
// over F fingerprints.
type FPResult struct {
	F            int     `json:"f"`
	Records      int     `json:"records"`
	NsPerRecord  float64 `json:"ns_per_record"` // after the first pass (warm-up)
	MedianNs     float64 `json:"median_chunk_ns_per_record"`
	CPUNs        float64 `json:"cpu_ns_per_record"`
	Fingerprints int     `json:"fingerprints"` // tracked at the end
	Names        int     `json:"names"`
	HeapMB       float64 `json:"heap_mb"` // live heap of the pipeline at the end
	Evicted      uint64  `json:"evicted"`
	Alerts       int     `json:"alerts"`
	Runs         int     `json:"runs,omitempty"`
	WorstNs      float64 `json:"worst_ns_per_record,omitempty"`
}

// ScaleFingerprints runs total records of a Spec.Fingerprints set with its
// matching events spread over f fingerprints. The first pass is a warm-up
// and is not timed.
func ScaleFingerprints(s *Set, f, total int, props ...string) (FPResult, error) {
	if s.Matching == 0 {
		return FPResult{}, fmt.Errorf("bench: set %s has no placeholder fingerprints", s.Name)
	}
	base := heapAfterGC()
	p, err := NewPipeline(props...)
	if err != nil {
		return FPResult{}, err
	}
	s.F, s.rep = f, -1
	var ns, cpu int64
	var per []float64
	done, timed := 0, 0
	for rep := 0; done < total; rep++ {
		s.Apply(rep)
		for c, ch := range s.Chunks {
			t, cpu0 := time.Now(), ProcessCPU()
			p.Flush(ch)
			if rep > 0 {
				cpu += ProcessCPU() - cpu0
				d := time.Since(t).Nanoseconds()
				ns += d
				timed += s.Records[c]
				per = append(per, float64(d)/float64(s.Records[c]))
			}
			done += s.Records[c]
			if done >= total && rep > 0 {
				break
			}
		}
	}
	var seg Segment
	fillHeap(&seg, p.Eng, base)
	st := p.Eng.Stats()
	return FPResult{F: f, Records: done, NsPerRecord: float64(ns) / float64(timed), MedianNs: Median64(per), CPUNs: float64(cpu) / float64(timed), Fingerprints: seg.Fingerprints,
		Names: seg.Names, HeapMB: seg.HeapMB, Evicted: st.FingerprintsEvicted,
		Alerts: p.Alerts}, nil
}

// NameMem is the engine's heap for F fingerprints holding K distinct
// secret names each.
type NameMem struct {
	F         int     `json:"f"`
	K         int     `json:"k"`
	Names     int     `json:"names"`
	HeapBytes int64   `json:"heap_bytes"`  // heap growth (after GC) for all of it
	PerName   float64 `json:"per_name"`    // HeapBytes / names
	NameLen   int     `json:"name_len"`    // bytes of each name
	NameAlloc int     `json:"name_alloc"`  // the allocation holding a copy of the name (size class)
	PerNameEx float64 `json:"per_name_ex"` // PerName less NameAlloc: the state besides the name
	// Marginal is the heap one more name costs: (HeapBytes − the heap of
	// F fingerprints with one name each) ÷ (F×(K−1)), name copy included;
	// PerFP is what a fingerprint costs besides its names. Set by Marginals.
	Marginal   float64 `json:"marginal_per_name,omitempty"`
	MarginalEx float64 `json:"marginal_per_name_ex,omitempty"`
	PerFP      float64 `json:"per_fingerprint,omitempty"`
}

// Marginals fills Marginal and PerFP from the K=1 row of the same F.
func Marginals(rows []NameMem) {
	one := map[int]NameMem{}
	for _, r := range rows {
		if r.K == 1 {
			one[r.F] = r
		}
	}
	for i := range rows {
		r := &rows[i]
		o, ok := one[r.F]
		if !ok || r.K == 1 {
			continue
		}
		r.Marginal = float64(r.HeapBytes-o.HeapBytes) / float64(r.F*(r.K-1))
		r.MarginalEx = r.Marginal - float64(r.NameAlloc)
		r.PerFP = float64(o.HeapBytes)/float64(r.F) - r.Marginal
	}
}

// NameLen is the length of the names MeasureNames inserts.
const NameLen = 20

// MeasureNames inserts F×K matching events (one per distinct name, all
// inside one window, below the threshold so nothing alerts) into a fresh
// engine and measures the live heap it grew by, with runtime.ReadMemStats
// after a GC on both sides. Every name is distinct across fingerprints (the
// engine interns equal names once: distinct ones are its worst case). The
// event strings are views into a scratch buffer, as the decoders give them.
func MeasureNames(F, K int) (NameMem, error) {
	e, err := NewEngine("threshold", "1000000", "max_names_per_fingerprint", "1000000",
		"max_fingerprints", fmt.Sprint(F+1), "window", "1h")
	if err != nil {
		return NameMem{}, err
	}
	start := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC).UnixNano()
	var (
		nameBuf = make([]byte, NameLen)
		userBuf = []byte(FPPrefix + "0000000")
		idBuf   = []byte("00000000-0000-4000-8000-000000000000")
		ips     = []string{"10.1.2.3"}
	)
	ev := &audit.Event{Verb: "get", Resource: "secrets", Namespace: "prod", UserAgent: "bench-client/1.0",
		Decision: "allow", Stage: "ResponseComplete", SourceIPs: ips, SourceIPCount: 1}
	view := func(b []byte) string { return unsafe.String(&b[0], len(b)) }
	before := heapAfterGC()
	n := 0
	for f := 0; f < F; f++ {
		putDigits(userBuf[len(FPPrefix):], int64(f))
		for k := 0; k < K; k++ {
			copy(nameBuf, "secret-")
			putDigits(nameBuf[7:], int64(n))
			putDigits(idBuf[24:], int64(n))
			ev.Time = start + int64(n)*int64(time.Microsecond)
			ev.Name, ev.User, ev.AuditID = view(nameBuf), view(userBuf), view(idBuf)
			e.Process(ev)
			n++
		}
	}
	after := heapAfterGC()
	st := e.Stats()
	runtime.KeepAlive(e)
	if st.Names != F*K || st.Fingerprints != F {
		return NameMem{}, fmt.Errorf("bench: engine holds %d fingerprints, %d names; want %d, %d", st.Fingerprints, st.Names, F, F*K)
	}
	r := NameMem{F: F, K: K, Names: n, HeapBytes: int64(after) - int64(before), NameLen: NameLen, NameAlloc: sizeClass(NameLen)}
	r.PerName = float64(r.HeapBytes) / float64(n)
	r.PerNameEx = r.PerName - float64(r.NameAlloc)
	return r, nil
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// sizeClass is the size of the allocation Go makes for n bytes (small
// size classes).
func sizeClass(n int) int {
	for _, c := range []int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256} {
		if n <= c {
			return c
		}
	}
	return n
}

// RepeatMem is the engine's heap for F fingerprints that each read the
// same secret R times inside one window (a controller or kubelet re-reading
// its secrets): state that grows with matching events, not with names.
type RepeatMem struct {
	F           int     `json:"f"`
	R           int     `json:"reads"`
	HeapBytes   int64   `json:"heap_bytes"`
	PerFP       float64 `json:"per_fingerprint"`
	Records     int     `json:"records_held"`
	Coalesced   uint64  `json:"coalesced"`
	Names       int     `json:"names"`
	ReadEveryMs float64 `json:"read_every_ms"`
}

// MeasureRepeats inserts, for each of F fingerprints, R reads of one
// secret name spaced evenly over 5 minutes (inside the 6-minute window),
// with the plugin's defaults, and measures the heap the engine grew by.
func MeasureRepeats(F, R int) (RepeatMem, error) {
	e, err := NewEngine("max_fingerprints", fmt.Sprint(F+1))
	if err != nil {
		return RepeatMem{}, err
	}
	start := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC).UnixNano()
	step := int64(5*time.Minute) / int64(R)
	userBuf := []byte(FPPrefix + "0000000")
	idBuf := []byte("00000000-0000-4000-8000-000000000000")
	ev := &audit.Event{Verb: "get", Resource: "secrets", Namespace: "prod", Name: "db-password", UserAgent: "bench-client/1.0",
		Decision: "allow", Stage: "ResponseComplete", SourceIPs: []string{"10.1.2.3"}, SourceIPCount: 1}
	view := func(b []byte) string { return unsafe.String(&b[0], len(b)) }
	before := heapAfterGC()
	n := 0
	// Time-ordered: read r of every fingerprint, then read r+1.
	for r := 0; r < R; r++ {
		for f := 0; f < F; f++ {
			putDigits(userBuf[len(FPPrefix):], int64(f))
			putDigits(idBuf[24:], int64(n))
			ev.Time = start + int64(r)*step + int64(f)
			ev.User, ev.AuditID = view(userBuf), view(idBuf)
			e.Process(ev)
			n++
		}
	}
	after := heapAfterGC()
	st := e.Stats()
	runtime.KeepAlive(e)
	return RepeatMem{F: F, R: R, HeapBytes: int64(after) - int64(before), PerFP: (float64(after) - float64(before)) / float64(F),
		Records: st.Records, Coalesced: st.EventsCoalesced, Names: st.Names, ReadEveryMs: float64(step) / 1e6}, nil
}
