package bench

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/gen"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// HarvestUser is the user of the harvest planted in latency chunk i.
func HarvestUser(i int) string { return fmt.Sprintf("latency-harvester-%05d", i) }

// LatencyChunks builds n chunks from the set's passes (background traffic
// with no alerts of its own) and plants in chunk i one harvest of user
// HarvestUser(i): three `get secrets` of distinct names at three record
// positions, stamped with the times of the records they are put before, so
// that the third one (at a position spread evenly over the chunk from one
// chunk to the next) makes the fingerprint cross the threshold inside
// chunk i. It returns the chunks and, per chunk, the crossing position as
// a fraction of the chunk's records.
func LatencyChunks(s *Set, n int) ([][]byte, []float64, error) {
	out := make([][]byte, 0, n)
	where := make([]float64, 0, n)
	d := record.NewDecoder(record.Options{})
	o := chunk.Options{Shape: s.Shape, FixedTime: gen.DefaultStart}
	var times []int64
	collect := func(ev *audit.Event) { times = append(times, ev.Time) }
	for i := 0; i < n; i++ {
		c := i % len(s.Chunks)
		s.Apply(i / len(s.Chunks))
		ch := s.Chunks[c]
		times = times[:0]
		d.Decode(ch, collect)
		recs := s.Records[c]
		if len(times) != recs {
			return nil, nil, fmt.Errorf("bench: chunk %d: %d events for %d records", c, len(times), recs)
		}
		// The crossing record's position walks over the chunk: golden-ratio
		// steps cover [0, 1) evenly.
		frac := math.Mod(float64(i)*0.6180339887, 1)
		p3 := int(frac * float64(recs-1))
		pos := []int{p3 / 3, 2 * p3 / 3, p3}
		// Each planted read is stamped with the watermark where it is put
		// (the largest event time before it): a record's own time can be
		// minutes old (a watch's ResponseComplete carries the time the watch
		// began), and an event that far behind is late and alerts nothing.
		var lines [][]byte
		for k, p := range pos {
			wm := times[0]
			for _, t := range times[:p+1] {
				wm = max(wm, t)
			}
			lines = append(lines, harvestLine(i, k, wm))
		}
		hrecs, err := chunk.Records(lines, o)
		if err != nil {
			return nil, nil, err
		}
		starts := s.Starts[c]
		b := make([]byte, 0, len(ch)+3*1024)
		prev := 0
		for k, p := range pos {
			b = append(b, ch[prev:starts[p]]...)
			b = append(b, hrecs[k]...)
			prev = starts[p]
		}
		b = append(b, ch[prev:]...)
		out = append(out, b)
		where = append(where, float64(p3)/float64(recs))
	}
	return out, where, nil
}

func harvestLine(i, k int, t int64) []byte {
	ts := time.Unix(0, t).UTC().Format("2006-01-02T15:04:05.000000Z")
	name := fmt.Sprintf("harvested-%d-%d", i, k)
	id := fmt.Sprintf("00000000-0000-4000-8000-%06d%06d", i, k)
	return []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"` + id +
		`","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/secrets/` + name + `","verb":"get",` +
		`"user":{"username":"` + HarvestUser(i) + `","groups":["system:authenticated"]},"sourceIPs":["10.250.` +
		strconv.Itoa(i/250%250) + `.` + strconv.Itoa(i%250+1) + `"],"userAgent":"python-requests/2.31.0",` +
		`"objectRef":{"resource":"secrets","namespace":"prod","name":"` + name + `","apiVersion":"v1"},` +
		`"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"` + ts + `","stageTimestamp":"` + ts +
		`","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`)
}

// Latency is the time from the start of the FLBPluginFlushCtx call whose
// chunk holds a crossing event to the alert's arrival at the receiver.
type Latency struct {
	Alerts   int     `json:"alerts"`
	Expected int     `json:"expected"`
	Requests int     `json:"requests"` // POSTs received (batches)
	FlushGap string  `json:"flush_gap"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	MinMs    float64 `json:"min_ms"`
	// From the end of that flush instead (negative: the alert arrived
	// while the flush was still reading the rest of the chunk).
	AfterEndP50ms float64 `json:"after_end_p50_ms"`
	AfterEndP99ms float64 `json:"after_end_p99_ms"`
	FlushP50ms    float64 `json:"flush_p50_ms"`
	FlushMaxms    float64 `json:"flush_max_ms"`
	// Where in its chunk the crossing record sat, on average (0..1).
	MeanPosition float64 `json:"mean_position"`
}

// LatencyOf matches the alerts to their flushes.
func LatencyOf(alerts []receiver.Alert, requests int, flushes []HostFlush, where []float64, gap time.Duration) (Latency, error) {
	l := Latency{Expected: len(flushes), Requests: requests, FlushGap: gap.String()}
	var fromStart, fromEnd, dur []float64
	seen := map[int]bool{}
	for _, a := range alerts {
		u, _ := a.Get("user.name")
		name, _ := u.(string)
		if !strings.HasPrefix(name, "latency-harvester-") {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(name, "latency-harvester-"))
		if err != nil || i >= len(flushes) {
			return l, fmt.Errorf("bench: unexpected alert user %q", name)
		}
		if typ, _ := a.Get("alert.type"); typ != "new" || seen[i] {
			continue
		}
		seen[i] = true
		f := flushes[i]
		fromStart = append(fromStart, ms(a.Time.Sub(f.T0)))
		fromEnd = append(fromEnd, ms(a.Time.Sub(f.T1)))
	}
	for _, f := range flushes {
		dur = append(dur, ms(f.T1.Sub(f.T0)))
	}
	l.Alerts = len(fromStart)
	if l.Alerts == 0 {
		return l, fmt.Errorf("bench: no latency alert arrived")
	}
	sort.Float64s(fromStart)
	sort.Float64s(fromEnd)
	sort.Float64s(dur)
	l.P50ms, l.P90ms, l.P99ms = pct(fromStart, 0.5), pct(fromStart, 0.9), pct(fromStart, 0.99)
	l.MinMs, l.MaxMs = fromStart[0], fromStart[len(fromStart)-1]
	l.AfterEndP50ms, l.AfterEndP99ms = pct(fromEnd, 0.5), pct(fromEnd, 0.99)
	l.FlushP50ms, l.FlushMaxms = pct(dur, 0.5), dur[len(dur)-1]
	for _, w := range where {
		l.MeanPosition += w / float64(len(where))
	}
	return l, nil
}

// HostFlush is the part of host.Flush latency needs.
type HostFlush struct{ T0, T1 time.Time }

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []float64, p float64) float64 {
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}
