package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

// HostRun is one run of a plugin .so under the C host (test/host's
// flbhost, which loads and calls it as Fluent Bit's Go proxy does).
type HostRun struct {
	Plugin     string  `json:"plugin"` // ours, conventional, null
	Shape      string  `json:"shape"`
	GoMaxProcs string  `json:"gomaxprocs"` // "" = the Go default (every CPU)
	Records    int     `json:"records"`
	Chunks     int     `json:"chunks"`
	Bytes      int64   `json:"bytes"`
	FlushSec   float64 `json:"flush_sec"` // Σ (t1 − t0) of the flushes
	// NsPerRecord and RecordsPerSec are from FlushSec: time inside
	// FLBPluginFlushCtx as the host sees it (the host's copy of the chunk
	// and the coroutine stack included, like Fluent Bit's).
	NsPerRecord   float64 `json:"ns_per_record"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// MedianNs is the median over flushes of each flush's time per record:
	// less sensitive to other load on a shared machine than the sum.
	MedianNs float64 `json:"median_flush_ns_per_record"`
	// Runs and BestNs: how many runs the figures are the median of, and
	// the lowest NsPerRecord among them (set by Median).
	Runs     int     `json:"runs,omitempty"`
	BestNs   float64 `json:"best_ns_per_record,omitempty"`
	MBPerSec float64 `json:"mb_per_sec"`
	// CPUSecPerM is the whole host process's CPU time (user+sys, every
	// thread: loading the chunk file, GC, the sender) per million records.
	CPUSecPerM float64 `json:"cpu_sec_per_m"`
	UserCPU    float64 `json:"user_cpu_sec"`
	SysCPU     float64 `json:"sys_cpu_sec"`
	// MaxRSSKB is the host process's peak RSS (VmHWM: getrusage's maxrss
	// would include the RSS of this process, which starts the host with
	// vfork), the chunks it holds included.
	MaxRSSKB int     `json:"max_rss_kb"`
	Wall     float64 `json:"wall_sec"`
	// From the plugin's stats line at exit (ours only).
	PluginRecords int `json:"plugin_records,omitempty"`
	PluginEvents  int `json:"plugin_events,omitempty"`
	Matching      int `json:"matching,omitempty"`
	AlertsNew     int `json:"alerts_new,omitempty"`
	AlertsUpdate  int `json:"alerts_update,omitempty"`

	Flushes []host.Flush `json:"-"`
}

// HostOptions describes a HostRun.
type HostOptions struct {
	Bin, SO  string
	Plugin   string // label
	Props    [][2]string
	Env      []string
	TmpDir   string
	FlushGap time.Duration
	// Chunks are written to the host's chunk file; when nil, the set's
	// passes 0..Passes-1 are (up to MaxRecords records, at a chunk
	// boundary, when > 0).
	Chunks     [][]byte
	Set        *Set
	Passes     int
	MaxRecords int
	Timeout    time.Duration
}

var statsRE = regexp.MustCompile(`stats: flushes=(\d+) records=(\d+) audit_events=(\d+) matching=(\d+) .* alerts\(new=(\d+) update=(\d+)`)

// RunHost writes the chunk file and runs the host over it.
func RunHost(o HostOptions) (HostRun, error) {
	f, err := os.CreateTemp(o.TmpDir, "bench-chunks-*.bin")
	if err != nil {
		return HostRun{}, err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 4<<20)
	r := HostRun{Plugin: o.Plugin}
	var perChunk []int
	write := func(ch []byte, records int) error {
		perChunk = append(perChunk, records)
		r.Chunks++
		r.Records += records
		r.Bytes += int64(len(ch))
		return host.WriteFrames(w, [][]byte{ch})
	}
	if o.Chunks != nil {
		for _, ch := range o.Chunks {
			if err := write(ch, 0); err != nil {
				return r, err
			}
		}
	} else {
		r.Shape = ShapeName(o.Set.Shape)
	pass:
		for rep := 0; rep < o.Passes; rep++ {
			o.Set.Apply(rep)
			for c, ch := range o.Set.Chunks {
				if err := write(ch, o.Set.Records[c]); err != nil {
					return r, err
				}
				if o.MaxRecords > 0 && r.Records >= o.MaxRecords {
					break pass
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		return r, err
	}
	if err := f.Close(); err != nil {
		return r, err
	}
	for _, e := range o.Env {
		if len(e) > 11 && e[:11] == "GOMAXPROCS=" {
			r.GoMaxProcs = e[11:]
		}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	bin, env := o.Bin, o.Env
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	res, err := host.Run(ctx, host.Config{Bin: bin, SO: o.SO, FlushGap: o.FlushGap,
		Instances: []host.Instance{{Props: o.Props}},
		ExtraArgs: []string{"--chunks", "0", f.Name()}, Env: env})
	r.Wall = time.Since(start).Seconds()
	if err != nil {
		return r, fmt.Errorf("host: %v\n%s", err, tail(res.Stderr))
	}
	if res.ExitCode != 0 || res.Signal != "" || !res.Done {
		return r, fmt.Errorf("host exit %d signal %q done=%v errors=%v\n%s", res.ExitCode, res.Signal, res.Done, res.Errors, tail(res.Stderr))
	}
	fl := res.FlushesOf(0)
	if len(fl) != r.Chunks {
		return r, fmt.Errorf("host flushed %d of %d chunks", len(fl), r.Chunks)
	}
	var sum time.Duration
	var per []float64
	for _, x := range fl {
		if x.RC != 1 {
			return r, fmt.Errorf("flush %d returned %d\n%s", x.Chunk, x.RC, tail(res.Stderr))
		}
		sum += x.Duration()
		if x.Chunk < len(perChunk) && perChunk[x.Chunk] > 0 {
			per = append(per, float64(x.Duration().Nanoseconds())/float64(perChunk[x.Chunk]))
		}
	}
	r.MedianNs = Median64(per)
	r.Flushes = fl
	r.FlushSec = sum.Seconds()
	if r.Records > 0 {
		r.NsPerRecord = float64(sum.Nanoseconds()) / float64(r.Records)
		r.RecordsPerSec = float64(r.Records) / r.FlushSec
		r.CPUSecPerM = (res.Usage.UserCPU + res.Usage.SystemCPU).Seconds() / float64(r.Records) * 1e6
	}
	r.MBPerSec = float64(r.Bytes) / r.FlushSec / 1e6
	r.UserCPU, r.SysCPU = res.Usage.UserCPU.Seconds(), res.Usage.SystemCPU.Seconds()
	r.MaxRSSKB = res.Usage.MaxRSSKB
	if m := statsRE.FindAllStringSubmatch(res.Stderr, -1); len(m) > 0 {
		last := m[len(m)-1]
		r.PluginRecords, _ = strconv.Atoi(last[2])
		r.PluginEvents, _ = strconv.Atoi(last[3])
		r.Matching, _ = strconv.Atoi(last[4])
		r.AlertsNew, _ = strconv.Atoi(last[5])
		r.AlertsUpdate, _ = strconv.Atoi(last[6])
		if o.Chunks == nil && r.PluginRecords != r.Records {
			return r, fmt.Errorf("the plugin counted %d records, %d were sent", r.PluginRecords, r.Records)
		}
	}
	return r, nil
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// Median returns the run with the median NsPerRecord.
func Median(runs []HostRun) HostRun {
	s := append([]HostRun(nil), runs...)
	sort.Slice(s, func(i, j int) bool { return s[i].NsPerRecord < s[j].NsPerRecord })
	m := s[len(s)/2]
	m.Runs, m.BestNs = len(s), s[0].NsPerRecord
	return m
}

// MedianResult returns the result with the median NsPerRecord.
func MedianResult(runs []RunResult) RunResult {
	s := append([]RunResult(nil), runs...)
	sort.Slice(s, func(i, j int) bool { return s[i].NsPerRecord < s[j].NsPerRecord })
	return s[len(s)/2]
}

// DefaultSO returns the .so next to the out directory's plugins.
func DefaultSO(dir, name string) string { return filepath.Join(dir, name+".so") }
