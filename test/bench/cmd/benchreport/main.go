// Command benchreport runs the measurements of BENCHMARKS.md that go beyond
// one Go benchmark: the whole plugin (.so) driven through the C host next to
// the baselines on the same chunks, records and fingerprint scaling, memory
// per tracked name, and alert latency. test/bench/run.sh runs it; it writes
// results.json and results.md into -out.
//
//	benchreport [-quick] [-out build/bench] [-only inproc,host,scale,fp,names,latency,instr]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/bench"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

type config struct {
	quick     bool
	out       string
	only      map[string]bool
	so, null  string
	conv, bin string
	reps      int
	hostReps  int
	// scaleRounds: runs of the records scaling (the fingerprint scaling
	// makes one more).
	scaleRounds int
	baseEvents  int
	fpEvents    int
	tmp         string
}

// Report is results.json.
type Report struct {
	Mode     string            `json:"mode"`
	Started  string            `json:"started"`
	Seconds  float64           `json:"seconds"`
	Machine  map[string]string `json:"machine"`
	Corpus   []CorpusInfo      `json:"corpus"`
	InProc   []bench.RunResult `json:"in_process"`
	InProcNP []bench.RunResult `json:"in_process_all"`
	Host     []bench.HostRun   `json:"host"`
	Ratios   []Ratio           `json:"ratios"`
	Records  map[string][]bench.Segment
	// Every run of the scaling measurements (Records and FP hold the
	// lowest cost of each stretch or F over the runs).
	RecordsRuns []bench.Segment   `json:"records_runs"`
	FPRuns      []bench.FPResult  `json:"fingerprints_runs"`
	HostScale   []bench.HostRun   `json:"host_scale"`
	FP          []bench.FPResult  `json:"fingerprints"`
	Names       []bench.NameMem   `json:"names"`
	Repeats     []bench.RepeatMem `json:"repeats"`
	Latency     *bench.Latency    `json:"latency,omitempty"`
	Allocs      []bench.RunResult `json:"allocs_nonmatching"`
	Notes       []string          `json:"notes"`
}

// CorpusInfo describes a set.
type CorpusInfo struct {
	Name        string  `json:"name"`
	Shape       string  `json:"shape"`
	Records     int     `json:"records"`
	Chunks      int     `json:"chunks"`
	MeanRecord  float64 `json:"mean_record_bytes"`
	MeanLine    float64 `json:"mean_line_bytes"`
	SecretGets  float64 `json:"secret_get_share"`
	SpanSeconds float64 `json:"span_sec"`
}

// Ratio compares ours with a baseline: Speedup = baseline ns ÷ ours ns
// (for the floor: ours ÷ floor, the times ours is slower).
type Ratio struct {
	Shape    string  `json:"shape"`
	Ours     string  `json:"ours"`
	OursNs   float64 `json:"ours_ns"`
	Baseline string  `json:"baseline"`
	BaseNs   float64 `json:"baseline_ns"`
	Factor   float64 `json:"factor"`
	Meaning  string  `json:"meaning"`
}

func main() {
	testing.Init()
	var c config
	var only string
	var benchtime string
	flag.StringVar(&benchtime, "benchtime", "", "benchtime of each in-process measurement (default 2s, quick 1s)")
	flag.BoolVar(&c.quick, "quick", os.Getenv("BENCH_QUICK") == "1", "smaller inputs (BENCH_QUICK=1)")
	flag.StringVar(&c.out, "out", "build/bench", "output directory")
	flag.StringVar(&only, "only", "", "comma-separated sections: inproc,host,scale,fp,names,latency,instr (default all)")
	flag.StringVar(&c.so, "so", os.Getenv(host.EnvPlugin), "plugin .so (default $K8S_SECRET_ENUM_SO, else build/out_k8s_secret_enum.so)")
	flag.StringVar(&c.bin, "flbhost", os.Getenv(host.EnvBinary), "C host (default $FLBHOST, else build/flbhost)")
	flag.StringVar(&c.null, "null-so", "", "null plugin .so (default <out>/null.so)")
	flag.StringVar(&c.conv, "conv-so", "", "conventional plugin .so (default <out>/conventional.so)")
	flag.IntVar(&c.reps, "reps", 0, "repetitions of each throughput measurement (median; default 3, quick 1)")
	flag.StringVar(&c.tmp, "tmp", os.Getenv("BENCH_TMP"), "directory for the host's chunk files (default the system's)")
	flag.Parse()
	if benchtime == "" {
		benchtime = map[bool]string{true: "1s", false: "2s"}[c.quick]
	}
	if err := flag.Set("test.benchtime", benchtime); err != nil {
		fatal(err)
	}
	if c.null == "" {
		c.null = bench.DefaultSO(c.out, "null")
	}
	if c.conv == "" {
		c.conv = bench.DefaultSO(c.out, "conventional")
	}
	var err error
	if c.so == "" {
		if c.so, err = host.PluginPath(); err != nil {
			fatal(err)
		}
	}
	if c.bin == "" {
		if c.bin, err = host.BinaryPath(); err != nil {
			fatal(err)
		}
	}
	c.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.only[s] = true
		}
	}
	if c.reps == 0 {
		c.reps = 3
		if c.quick {
			c.reps = 1
		}
	}
	c.hostReps, c.scaleRounds = 5, 2
	if c.quick {
		c.hostReps, c.scaleRounds = 1, 1
	}
	c.baseEvents, c.fpEvents = 200000, 200000
	if c.quick {
		c.baseEvents, c.fpEvents = 50000, 50000
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		fatal(err)
	}
	start := time.Now()
	rep := &Report{Mode: map[bool]string{true: "quick", false: "full"}[c.quick], Started: start.UTC().Format(time.RFC3339),
		Machine: machine(), Records: map[string][]bench.Segment{}}
	run(&c, rep)
	rep.Seconds = time.Since(start).Seconds()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Machine["loadavg at end"] = strings.TrimSpace(string(b))
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(c.out, "results.json"), b, 0o644); err != nil {
		fatal(err)
	}
	md := markdown(rep)
	if err := os.WriteFile(filepath.Join(c.out, "results.md"), []byte(md), 0o644); err != nil {
		fatal(err)
	}
	fmt.Print(md)
	logf("done in %.0fs; %s", rep.Seconds, filepath.Join(c.out, "results.md"))
}

func (c *config) want(section string) bool { return len(c.only) == 0 || c.only[section] }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchreport:", err)
	os.Exit(1)
}

func run(c *config, rep *Report) {
	// One core: the targets are per core, and a Go program's GC would
	// otherwise run on the second CPU for free.
	runtime.GOMAXPROCS(1)
	oneCore := []string{"GOMAXPROCS=1"}

	logf("corpus: %d realistic events", c.baseEvents)
	spec := bench.Realistic(c.baseEvents)
	lines := bench.Lines(spec)
	sets := map[chunk.Shape]*bench.Set{}
	for _, sh := range bench.Shapes {
		s, err := bench.Build(spec.Name, lines, sh)
		if err != nil {
			fatal(err)
		}
		sets[sh] = s
		rep.Corpus = append(rep.Corpus, info(s, lines))
	}
	lines = nil

	recv, err := receiver.New(receiver.Options{})
	if err != nil {
		fatal(err)
	}
	defer recv.Close()
	props := [][2]string{{"alert_url", recv.URL()}, {"stats_interval", "0"}}

	inproc := map[string]bench.RunResult{} // kind/shape
	if c.want("inproc") {
		// Rounds of every kind, so that other load on the machine spreads
		// over all of them; the median of each figure over the rounds.
		runs := map[string][]bench.RunResult{}
		var order []string
		for i := 0; i < c.reps; i++ {
			for _, sh := range bench.Shapes {
				for _, k := range bench.Kinds {
					key := string(k) + "/" + bench.ShapeName(sh)
					if i == 0 {
						order = append(order, key)
					}
					r := bench.Measure(sets[sh], k)
					logf("in-process %s", r)
					runs[key] = append(runs[key], r)
					rep.InProcNP = append(rep.InProcNP, r)
				}
			}
		}
		for _, key := range order {
			m := medianOf(runs[key])
			inproc[key] = m
			rep.InProc = append(rep.InProc, m)
		}
		// Allocations per non-matching record.
		nlines := bench.Lines(bench.Realistic(20000))
		var non [][]byte
		for _, l := range nlines {
			if !bench.IsSecretGet(l) {
				non = append(non, l)
			}
		}
		for _, sh := range bench.Shapes {
			s, err := bench.Build("nonmatching", non, sh)
			if err != nil {
				fatal(err)
			}
			r := bench.Measure(s, bench.KindPipeline)
			logf("non-matching %s", r)
			rep.Allocs = append(rep.Allocs, r)
		}
	}

	hostBy := map[string]bench.HostRun{} // plugin/shape/procs
	if c.want("host") {
		passes := 2
		if c.quick {
			passes = 1
		}
		type variant struct {
			label, so string
			env       []string
			reps      int
		}
		variants := []variant{
			{"ours", c.so, oneCore, c.hostReps},
			{"ours", c.so, nil, c.hostReps},
			{"conventional", c.conv, oneCore, 1},
			{"null", c.null, oneCore, c.hostReps},
		}
		runs := map[string][]bench.HostRun{}
		var order []string
		for i := 0; i < c.hostReps; i++ {
			for _, sh := range bench.Shapes {
				for _, v := range variants {
					if i >= v.reps {
						continue
					}
					recv.Reset()
					r, err := bench.RunHost(bench.HostOptions{Bin: c.bin, SO: v.so, Plugin: v.label, Props: props, Env: v.env,
						TmpDir: c.tmp, Set: sets[sh], Passes: passes})
					if err != nil {
						fatal(fmt.Errorf("%s %s: %w", v.label, bench.ShapeName(sh), err))
					}
					logf("host %s %s procs=%s: %d records %.0f ns/record (median flush %.0f) %.0f records/s cpu %.2f s/M rss %d MB alerts %d+%d",
						v.label, r.Shape, procs(r.GoMaxProcs), r.Records, r.NsPerRecord, r.MedianNs, r.RecordsPerSec, r.CPUSecPerM, r.MaxRSSKB>>10,
						r.AlertsNew, r.AlertsUpdate)
					key := v.label + "/" + r.Shape + "/" + r.GoMaxProcs
					if i == 0 {
						order = append(order, key)
					}
					runs[key] = append(runs[key], r)
				}
			}
		}
		for _, key := range order {
			m := bench.Median(runs[key])
			rep.Host = append(rep.Host, m)
			hostBy[key] = m
		}
		rep.Ratios = ratios(inproc, hostBy)
	}

	if c.want("scale") {
		total, logTotal := 10_000_000, 10_000_000
		if c.quick {
			total, logTotal = 1_000_000, 200_000
		}
		for _, sh := range bench.Shapes {
			n := total
			if sh == chunk.LogString {
				n = logTotal
			}
			var cps []int
			for cp := 10_000; cp <= n; cp *= 10 {
				cps = append(cps, cp)
			}
			if cps[len(cps)-1] != n {
				cps = append(cps, n)
			}
			// Two runs (one in quick mode); each stretch reports the lower
			// of its costs (other load on the machine only adds) and both
			// are kept in results.json.
			var merged []bench.Segment
			for round := 0; round < c.scaleRounds; round++ {
				logf("scaling: %d records, %s bodies (run %d)", n, bench.ShapeName(sh), round+1)
				segs, err := bench.ScaleRecords(sets[sh], n, cps)
				if err != nil {
					fatal(err)
				}
				for i, sg := range segs {
					logf("  %9d records: %.0f ns/record (median chunk %.0f, CPU %.0f) heap %.2f MB fingerprints %d names %d", sg.Records, sg.NsPerRecord, sg.MedianNs, sg.CPUNs, sg.HeapMB, sg.Fingerprints, sg.Names)
					if round == 0 {
						merged = append(merged, sg)
						merged[i].Runs, merged[i].WorstNs = 1, sg.NsPerRecord
						continue
					}
					m := &merged[i]
					m.Runs++
					m.WorstNs = max(m.WorstNs, sg.NsPerRecord)
					if sg.NsPerRecord < m.NsPerRecord {
						m.NsPerRecord, m.MedianNs, m.CPUNs = sg.NsPerRecord, sg.MedianNs, sg.CPUNs
					}
				}
				rep.RecordsRuns = append(rep.RecordsRuns, segs...)
			}
			rep.Records[bench.ShapeName(sh)] = merged
		}
		// Through the host: peak RSS against records (the null plugin on the
		// same chunk file gives the host's own share: the chunks it holds).
		sizes := []int{10_000, 100_000, 1_000_000}
		if c.quick {
			sizes = []int{10_000, 100_000}
		}
		s := sets[chunk.ParsedMap]
		for _, n := range sizes {
			passes := (n + s.Total - 1) / s.Total
			for _, v := range []struct{ label, so string }{{"ours", c.so}, {"null", c.null}} {
				recv.Reset()
				r, err := bench.RunHost(bench.HostOptions{Bin: c.bin, SO: v.so, Plugin: v.label, Props: props, Env: oneCore,
					TmpDir: c.tmp, Set: s, Passes: passes, MaxRecords: n})
				if err != nil {
					fatal(err)
				}
				logf("host scale %s %d records: %.0f ns/record cpu %.2f s/M rss %d MB", v.label, r.Records, r.NsPerRecord, r.CPUSecPerM, r.MaxRSSKB>>10)
				rep.HostScale = append(rep.HostScale, r)
			}
		}
	}

	if c.want("fp") {
		fpSpec := bench.Spec{Name: "fingerprints", Events: c.fpEvents, Seed: 2, Rate: 20000, NoPlanted: true, Fingerprints: true}
		logf("corpus: %d events, matching events on placeholder fingerprints", c.fpEvents)
		fpLines := bench.Lines(fpSpec)
		s, err := bench.Build(fpSpec.Name, fpLines, chunk.ParsedMap)
		if err != nil {
			fatal(err)
		}
		rep.Corpus = append(rep.Corpus, info(s, fpLines))
		fpLines = nil
		fs := []int{1, 10, 100, 1000, 10_000, 100_000}
		if c.quick {
			fs = []int{1, 100, 10_000}
		}
		// Rounds over every F, so that other load spreads over all of them;
		// each F reports its lowest cost and the spread.
		best := map[int]*bench.FPResult{}
		for round := 0; round < c.scaleRounds+1; round++ {
			for _, f := range fs {
				n := max(1_000_000, 40*f)
				if c.quick {
					n = max(300_000, 10*f)
				}
				r, err := bench.ScaleFingerprints(s, f, n, "threshold", "1000", "max_names_per_fingerprint", "1000", "max_fingerprints", "200000")
				if err != nil {
					fatal(err)
				}
				logf("fingerprints %6d: %d records %.0f ns/record (median chunk %.0f, CPU %.0f) tracked %d names %d heap %.1f MB evicted %d alerts %d",
					f, r.Records, r.NsPerRecord, r.MedianNs, r.CPUNs, r.Fingerprints, r.Names, r.HeapMB, r.Evicted, r.Alerts)
				rep.FPRuns = append(rep.FPRuns, r)
				b, ok := best[f]
				if !ok {
					r.Runs, r.WorstNs = 1, r.NsPerRecord
					best[f] = &r
					continue
				}
				b.Runs++
				b.WorstNs = max(b.WorstNs, r.NsPerRecord)
				if r.NsPerRecord < b.NsPerRecord {
					b.NsPerRecord, b.MedianNs, b.CPUNs = r.NsPerRecord, r.MedianNs, r.CPUNs
				}
			}
		}
		for _, f := range fs {
			rep.FP = append(rep.FP, *best[f])
		}
	}

	if c.want("names") {
		limit := 1_000_000
		if c.quick {
			limit = 100_000
		}
		for _, f := range []int{1, 10, 100, 1000, 10_000, 100_000} {
			for _, k := range []int{1, 10, 100, 1000} {
				if f*k > limit {
					continue
				}
				m, err := bench.MeasureNames(f, k)
				if err != nil {
					fatal(err)
				}
				logf("names: %6d fingerprints × %4d names: %d bytes, %.1f bytes/name (%.1f besides the %d-byte name's %d-byte copy)",
					f, k, m.HeapBytes, m.PerName, m.PerNameEx, m.NameLen, m.NameAlloc)
				rep.Names = append(rep.Names, m)
			}
		}
		bench.Marginals(rep.Names)
		for _, f := range []int{1, 1000} {
			for _, rr := range []int{1, 10, 100, 1000, 10_000} {
				if f*rr > limit*10 {
					continue
				}
				m, err := bench.MeasureRepeats(f, rr)
				if err != nil {
					fatal(err)
				}
				logf("repeats: %5d fingerprints × 1 name × %5d reads: %.0f bytes/fingerprint, %d records held, %d coalesced",
					f, rr, m.PerFP, m.Records, m.Coalesced)
				rep.Repeats = append(rep.Repeats, m)
			}
		}
	}

	if c.want("latency") {
		n, gap := 250, 20*time.Millisecond
		if c.quick {
			n = 60
		}
		lspec := bench.Realistic(c.baseEvents / 2)
		lspec.Name, lspec.NoPlanted = "latency", true
		llines := bench.Lines(lspec)
		s, err := bench.Build(lspec.Name, llines, chunk.ParsedMap)
		if err != nil {
			fatal(err)
		}
		chunks, where, err := bench.LatencyChunks(s, n)
		if err != nil {
			fatal(err)
		}
		recv.Reset()
		lprops := append(append([][2]string(nil), props...), [2]string{"max_alerts", "100000"})
		r, err := bench.RunHost(bench.HostOptions{Bin: c.bin, SO: c.so, Plugin: "ours", Props: lprops, Env: oneCore,
			TmpDir: c.tmp, Chunks: chunks, FlushGap: gap})
		if err != nil {
			fatal(err)
		}
		flushes := make([]bench.HostFlush, len(chunks))
		for _, f := range r.Flushes {
			flushes[f.Chunk] = bench.HostFlush{T0: f.T0, T1: f.T1}
		}
		l, err := bench.LatencyOf(recv.Alerts(), len(recv.Requests()), flushes, where, gap)
		if err != nil {
			fatal(err)
		}
		logf("latency: %d/%d alerts in %d requests: p50 %.2f ms p99 %.2f ms max %.2f ms (flush p50 %.2f ms)",
			l.Alerts, l.Expected, l.Requests, l.P50ms, l.P99ms, l.MaxMs, l.FlushP50ms)
		rep.Latency = &l
	}

	if c.want("instr") {
		// Chunk files for the callgrind instruction counts (run.sh): two
		// passes of a few chunks each; benchinstr counts the second.
		// instr-<shape>-1.bin holds the first pass only: the host's count
		// of the second pass is the difference.
		k := 4
		for _, sh := range bench.Shapes {
			s := sets[sh]
			var chunks [][]byte
			for p := 0; p < 2; p++ {
				s.Apply(p)
				for i := 0; i < k && i < len(s.Chunks); i++ {
					chunks = append(chunks, append([]byte(nil), s.Chunks[i]...))
				}
			}
			base := filepath.Join(c.out, "instr-"+bench.ShapeName(sh))
			if err := host.WriteChunkFile(base+".bin", chunks); err != nil {
				fatal(err)
			}
			if err := host.WriteChunkFile(base+"-1.bin", chunks[:len(chunks)/2]); err != nil {
				fatal(err)
			}
		}
	}
	rep.Notes = append(rep.Notes, "in-process and host runs with GOMAXPROCS=1 unless gomaxprocs says otherwise")
}

// medianOf takes the median of each figure over the runs.
func medianOf(runs []bench.RunResult) bench.RunResult {
	m := runs[0]
	pick := func(f func(bench.RunResult) float64) float64 {
		var xs []float64
		for _, r := range runs {
			xs = append(xs, f(r))
		}
		return bench.Median64(xs)
	}
	m.NsPerRecord = pick(func(r bench.RunResult) float64 { return r.NsPerRecord })
	m.MedianNs = pick(func(r bench.RunResult) float64 { return r.MedianNs })
	m.CPUNs = pick(func(r bench.RunResult) float64 { return r.CPUNs })
	m.RecordsPerSec = pick(func(r bench.RunResult) float64 { return r.RecordsPerSec })
	m.MBPerSec = pick(func(r bench.RunResult) float64 { return r.MBPerSec })
	m.AllocsPerRec = pick(func(r bench.RunResult) float64 { return r.AllocsPerRec })
	m.BytesPerRecord = pick(func(r bench.RunResult) float64 { return r.BytesPerRecord })
	m.Runs, m.BestNs = len(runs), runs[0].NsPerRecord
	for _, r := range runs {
		m.BestNs = min(m.BestNs, r.NsPerRecord)
	}
	return m
}

func procs(s string) string {
	if s == "" {
		return fmt.Sprint(runtime.NumCPU())
	}
	return s
}

func info(s *bench.Set, lines [][]byte) CorpusInfo {
	sg := 0
	for _, l := range lines {
		if bench.IsSecretGet(l) {
			sg++
		}
	}
	return CorpusInfo{Name: s.Name, Shape: bench.ShapeName(s.Shape), Records: s.Total, Chunks: len(s.Chunks),
		MeanRecord: s.MeanRecordBytes(), MeanLine: s.MeanLineBytes(), SecretGets: float64(sg) / float64(len(lines)),
		SpanSeconds: float64(s.Span) / 1e9}
}

func ratios(in map[string]bench.RunResult, hostBy map[string]bench.HostRun) []Ratio {
	var out []Ratio
	for _, sh := range []string{"map", "log"} {
		ours, ok := hostBy["ours/"+sh+"/1"]
		if !ok {
			continue
		}
		add := func(oursName string, oursNs float64, base string, baseNs float64, floor bool) {
			if baseNs == 0 || oursNs == 0 {
				return
			}
			r := Ratio{Shape: sh, Ours: oursName, OursNs: oursNs, Baseline: base, BaseNs: baseNs}
			if floor {
				r.Factor, r.Meaning = oursNs/baseNs, "ours is this many times slower than the floor"
			} else {
				r.Factor, r.Meaning = baseNs/oursNs, "ours is this many times faster"
			}
			out = append(out, r)
		}
		pipe := in["pipeline/"+sh].NsPerRecord
		for _, o := range []struct {
			name string
			ns   float64
		}{{"whole plugin (host)", ours.NsPerRecord}, {"in-process decode+engine", pipe}} {
			add(o.name, o.ns, "(1) fluent-bit-go decoder + lookups", in["conventional/"+sh].NsPerRecord, false)
			add(o.name, o.ns, "(2) encoding/json of the raw line", in["stdjson/"+sh].NsPerRecord, false)
			add(o.name, o.ns, "(3) floor: one pass over the bytes", in["floor/"+sh].NsPerRecord, true)
		}
		// CPU time instead of wall time: what other programs on the
		// machine take does not count.
		cpu := in["pipeline/"+sh].CPUNs
		add("in-process decode+engine, CPU", cpu, "(1), CPU", in["conventional/"+sh].CPUNs, false)
		add("in-process decode+engine, CPU", cpu, "(2), CPU", in["stdjson/"+sh].CPUNs, false)
		add("in-process decode+engine, CPU", cpu, "(3), CPU", in["floor/"+sh].CPUNs, true)
		if conv, ok := hostBy["conventional/"+sh+"/1"]; ok {
			add("whole plugin (host)", ours.NsPerRecord, "(1) as a .so under the host", conv.NsPerRecord, false)
		}
		if null, ok := hostBy["null/"+sh+"/1"]; ok {
			add("whole plugin (host)", ours.NsPerRecord, "null .so under the host (host + cgo share)", null.NsPerRecord, true)
			// The plugin's own CPU: the host process's CPU less the null
			// plugin's on the same chunk file (loading it, copying chunks).
			own := (ours.CPUSecPerM - null.CPUSecPerM) * 1e3
			add("whole plugin, own CPU (host CPU − null's)", own, "(1), CPU", in["conventional/"+sh].CPUNs, false)
			add("whole plugin, own CPU (host CPU − null's)", own, "(2), CPU", in["stdjson/"+sh].CPUNs, false)
			add("whole plugin, own CPU (host CPU − null's)", own, "(3), CPU", in["floor/"+sh].CPUNs, true)
		}
	}
	return out
}

func machine() map[string]string {
	m := map[string]string{"go": runtime.Version(), "nproc": fmt.Sprint(runtime.NumCPU()), "goarch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch k {
			case "model name", "cache size", "cpu MHz", "flags":
				if _, seen := m[k]; !seen {
					if k == "flags" {
						var keep []string
						for _, f := range strings.Fields(v) {
							switch f {
							case "avx2", "avx512f", "sse4_2", "bmi2", "hypervisor":
								keep = append(keep, f)
							}
						}
						v = strings.Join(keep, " ")
					}
					m[k] = v
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		m["memory"] = strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:"))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg at start"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("gcc", "--version").Output(); err == nil {
		l, _, _ := strings.Cut(string(out), "\n")
		m["gcc"] = l
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-tags" {
				m["tags"] = s.Value
			}
		}
	}
	return m
}

func markdown(r *Report) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# benchreport (%s mode, %s, %.0f s)\n\n", r.Mode, r.Started, r.Seconds)
	keys := make([]string, 0, len(r.Machine))
	for k := range r.Machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w("- %s: %s\n", k, r.Machine[k])
	}
	w("\n## Corpus\n\n| set | shape | records/pass | chunks | mean record B | mean line B | get secrets | event time/pass |\n|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range r.Corpus {
		w("| %s | %s | %d | %d | %.0f | %.0f | %.1f%% | %.1f s |\n", c.Name, c.Shape, c.Records, c.Chunks, c.MeanRecord, c.MeanLine, 100*c.SecretGets, c.SpanSeconds)
	}
	if len(r.InProc) > 0 {
		w("\n## In-process, per record (GOMAXPROCS=1, median)\n\n| what | shape | ns/record | best of runs | median chunk ns/record | CPU ns/record | records/s | MB/s | allocs/record | B/record |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.InProc {
			w("| %s | %s | %.0f | %.0f (%d) | %.0f | %.0f | %.0f | %.1f | %.4f | %.1f |\n", x.Kind, x.Shape, x.NsPerRecord, x.BestNs, x.Runs, x.MedianNs, x.CPUNs, x.RecordsPerSec, x.MBPerSec, x.AllocsPerRec, x.BytesPerRecord)
		}
		for _, x := range r.Allocs {
			w("| pipeline, non-matching records only | %s | %.0f | | %.0f | %.0f | %.0f | %.1f | %.4f | %.1f |\n", x.Shape, x.NsPerRecord, x.MedianNs, x.CPUNs, x.RecordsPerSec, x.MBPerSec, x.AllocsPerRec, x.BytesPerRecord)
		}
	}
	if len(r.Host) > 0 {
		w("\n## Whole plugin through the C host (median)\n\n| plugin | shape | GOMAXPROCS | records | ns/record (Σ flush) | best of runs | median flush ns/record | records/s (Σ flush) | MB/s | CPU s / M records | peak RSS MB | alerts new+update |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.Host {
			w("| %s | %s | %s | %d | %.0f | %.0f (%d) | %.0f | %.0f | %.0f | %.2f | %.0f | %d+%d |\n", x.Plugin, x.Shape, procs(x.GoMaxProcs), x.Records, x.NsPerRecord, x.BestNs, x.Runs, x.MedianNs, x.RecordsPerSec, x.MBPerSec, x.CPUSecPerM, float64(x.MaxRSSKB)/1024, x.AlertsNew, x.AlertsUpdate)
		}
	}
	if len(r.Ratios) > 0 {
		w("\n## Ratios\n\n| shape | ours | ns/record | baseline | ns/record | factor |\n|---|---|--:|---|--:|--:|\n")
		for _, x := range r.Ratios {
			unit := "× faster"
			if strings.Contains(x.Meaning, "slower") {
				unit = "× the floor"
			}
			w("| %s | %s | %.0f | %s | %.0f | %.2f%s |\n", x.Shape, x.Ours, x.OursNs, x.Baseline, x.BaseNs, x.Factor, unit)
		}
	}
	for _, sh := range []string{"map", "log"} {
		segs := r.Records[sh]
		if len(segs) == 0 {
			continue
		}
		w("\n## Cost per record against records processed (%s bodies, in-process, one engine)\n\n| records | ns/record in the stretch (lowest of runs) | highest of runs | median chunk ns/record | CPU ns/record | pipeline heap MB (live, after GC) | fingerprints | names | alerts so far |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n", sh)
		for _, s := range segs {
			w("| %d | %.0f | %.0f (%d) | %.0f | %.0f | %.2f | %d | %d | %d |\n", s.Records, s.NsPerRecord, s.WorstNs, s.Runs, s.MedianNs, s.CPUNs, s.HeapMB, s.Fingerprints, s.Names, s.Alerts)
		}
	}
	if len(r.HostScale) > 0 {
		w("\n## Through the host against records (map bodies, GOMAXPROCS=1)\n\n| plugin | records | ns/record (Σ flush) | median flush ns/record | CPU s / M records | peak RSS MB | chunk data MB |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.HostScale {
			w("| %s | %d | %.0f | %.0f | %.2f | %.0f | %.0f |\n", x.Plugin, x.Records, x.NsPerRecord, x.MedianNs, x.CPUSecPerM, float64(x.MaxRSSKB)/1024, float64(x.Bytes)/(1<<20))
		}
	}
	if len(r.FP) > 0 {
		w("\n## Cost per record against active fingerprints (map bodies, in-process)\n\n| fingerprints (F) | records | ns/record (lowest of runs) | highest of runs | median chunk ns/record | CPU ns/record | tracked at end | names | pipeline heap MB | evicted |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.FP {
			w("| %d | %d | %.0f | %.0f (%d) | %.0f | %.0f | %d | %d | %.2f | %d |\n", x.F, x.Records, x.NsPerRecord, x.WorstNs, x.Runs, x.MedianNs, x.CPUNs, x.Fingerprints, x.Names, x.HeapMB, x.Evicted)
		}
	}
	if len(r.Names) > 0 {
		w("\n## Engine heap against fingerprints × names\n\n| fingerprints | names each | names | heap growth | bytes/name (average) | marginal bytes/name | marginal besides the name's copy | bytes/fingerprint besides names |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.Names {
			mg, mx, pf := "", "", ""
			if x.K > 1 {
				mg, mx, pf = fmt.Sprintf("%.1f", x.Marginal), fmt.Sprintf("%.1f", x.MarginalEx), fmt.Sprintf("%.0f", x.PerFP)
			}
			w("| %d | %d | %d | %.2f MB | %.1f | %s | %s | %s |\n", x.F, x.K, x.Names, float64(x.HeapBytes)/(1<<20), x.PerName, mg, mx, pf)
		}
	}
	if len(r.Repeats) > 0 {
		w("\n## Engine heap against repeated reads of one name (defaults: max_names_per_fingerprint 1000)\n\n| fingerprints | reads each (in 5 min) | heap growth | bytes/fingerprint | records held | reads coalesced |\n|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.Repeats {
			w("| %d | %d | %.2f MB | %.0f | %d | %d |\n", x.F, x.R, float64(x.HeapBytes)/(1<<20), x.PerFP, x.Records, x.Coalesced)
		}
	}
	if l := r.Latency; l != nil {
		w("\n## Alert latency (flush t0 → arrival at the receiver)\n\n")
		w("| alerts | requests | flush gap | p50 ms | p90 ms | p99 ms | max ms | after flush end p50 / p99 ms | flush p50 / max ms | crossing position |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		w("| %d/%d | %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f / %.2f | %.2f / %.2f | %.2f |\n", l.Alerts, l.Expected, l.Requests, l.FlushGap,
			l.P50ms, l.P90ms, l.P99ms, l.MaxMs, l.AfterEndP50ms, l.AfterEndP99ms, l.FlushP50ms, l.FlushMaxms, l.MeanPosition)
	}
	return b.String()
}
