// Package bench holds the performance measurements of BENCHMARKS.md: the
// deterministic inputs (audit lines from test/gen turned into Fluent Bit
// flush payloads), the plugin's flush path run in-process, the baselines it
// is compared with, and the scaling and memory measurements. The Benchmark
// functions of bench_test.go and the whole-plugin report of cmd/benchreport
// share everything here, so that every figure is measured on the same chunks.
//
// Nothing in this package asserts on time; run it with `make bench`.
package bench

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/gen"
)

// Spec selects a deterministic audit stream.
type Spec struct {
	Name   string
	Events int     // lines in one pass of the set (the base)
	Seed   int64   // gen seed
	Rate   float64 // events per second of event time (0: gen's 2000)
	// RequestResponse is gen's RequestResponseShare: 0 gives the realistic
	// Metadata-level mix of ~0.9 KB lines (no request/response objects),
	// a positive share adds RequestResponse lines up to hundreds of KB.
	RequestResponse float64
	// NoPlanted leaves out gen's planted harvests and decoys (no alerts).
	NoPlanted bool
	// Fingerprints rewrites every `get secrets` line to one client
	// fingerprint of a fixed-width placeholder user (bench-fp-NNNNNNN, the
	// same source IP and user agent), so that Set.F chooses how many
	// fingerprints the matching events are spread over.
	Fingerprints bool
}

// Realistic is the stream of the throughput targets: the API server's
// Metadata-level mix (~0.94 KB a line, 5% of events `get secrets`, planted
// harvests and decoys), seed 1.
func Realistic(events int) Spec {
	return Spec{Name: "realistic", Events: events, Seed: 1}
}

// Lines generates the spec's audit lines.
func Lines(s Spec) [][]byte {
	cfg := gen.Config{Events: s.Events, Seed: s.Seed, Rate: s.Rate, RequestResponseShare: -1}
	if s.RequestResponse > 0 {
		cfg.RequestResponseShare = s.RequestResponse
	}
	if s.NoPlanted {
		cfg.Harvests, cfg.Decoys = -1, -1
	}
	g := gen.New(cfg)
	out := make([][]byte, 0, s.Events)
	for {
		l, ok := g.Next()
		if !ok {
			break
		}
		if s.Fingerprints && IsSecretGet(l) {
			l = placeholderFingerprint(l)
		}
		out = append(out, bytes.Clone(l))
	}
	return out
}

// IsSecretGet reports whether a gen line is a `get` on `secrets`.
func IsSecretGet(l []byte) bool {
	return bytes.Contains(l, []byte(`"verb":"get"`)) && bytes.Contains(l, []byte(`"objectRef":{"resource":"secrets"`))
}

// FPPrefix starts the placeholder user of Spec.Fingerprints; FPDigits
// digits follow it.
const (
	FPPrefix = "bench-fp-"
	FPDigits = 7
)

func placeholderFingerprint(l []byte) []byte {
	l = replaceValue(l, `"username":"`, `"`, FPPrefix+"0000000")
	l = replaceValue(l, `"sourceIPs":[`, `]`, `"10.99.0.1"`)
	if bytes.Contains(l, []byte(`"userAgent":"`)) {
		l = replaceValue(l, `"userAgent":"`, `"`, "bench-client/1.0")
	} else {
		l = bytes.Replace(l, []byte(`,"sourceIPs":`), []byte(`,"userAgent":"bench-client/1.0","sourceIPs":`), 1)
	}
	return l
}

// replaceValue replaces what follows the first `open` up to the next
// `close` with v.
func replaceValue(l []byte, open, close, v string) []byte {
	i := bytes.Index(l, []byte(open))
	if i < 0 {
		return l
	}
	i += len(open)
	j := bytes.Index(l[i:], []byte(close))
	if j < 0 {
		return l
	}
	out := make([]byte, 0, len(l)+len(v))
	out = append(out, l[:i]...)
	out = append(out, v...)
	return append(out, l[i+j:]...)
}

// Set is the spec's lines as Fluent Bit flush payloads of one body shape,
// cut at ~2 MB like Fluent Bit's chunks. Apply rewrites the payloads in
// place for the next pass (repetition) over the same records: event times
// move on by Span, and placeholder fingerprints rotate, so that a pass
// repeated many times is a stream of new events, not a replay.
type Set struct {
	Name    string
	Shape   chunk.Shape
	Chunks  [][]byte
	Records []int      // records (= audit events) per chunk
	Starts  [][]int    // offset of each record in its chunk
	Lines   [][][]byte // the JSON lines of each chunk's records
	Total   int        // records in one pass
	Bytes   int        // payload bytes in one pass
	Span    int64      // event time (ns) one pass moves on by
	// F > 0 spreads the placeholder fingerprints over F users:
	// user index (i + rep*Matching) mod F for the i-th placeholder.
	F        int
	Matching int // placeholders per pass

	times [][]timePatch
	users [][]userPatch
	rep   int
	first int64 // smallest event time of the pass
}

type timePatch struct {
	off  int32
	orig int64 // Unix ns
}

type userPatch struct {
	off int32
	idx int32
}

// Shapes are the two body shapes of the targets.
var Shapes = []chunk.Shape{chunk.ParsedMap, chunk.LogString}

// ShapeName is a short name for reports.
func ShapeName(s chunk.Shape) string {
	switch s {
	case chunk.ParsedMap:
		return "map"
	case chunk.LogString:
		return "log"
	}
	return s.String()
}

// Build encodes lines as payloads of shape (records in the V2 format with a
// fixext8 EventTime, as Fluent Bit 2.1+ sends them; a LogString body is
// {"log": line}, what tail without a parser gives).
func Build(name string, lines [][]byte, shape chunk.Shape) (*Set, error) {
	o := chunk.Options{Shape: shape, FixedTime: gen.DefaultStart}
	recs, err := encodeParallel(lines, o)
	if err != nil {
		return nil, err
	}
	s := &Set{Name: name, Shape: shape, rep: -1, first: 1<<63 - 1}
	var last int64
	var cur []byte
	var starts []int
	var curLines [][]byte
	var tp []timePatch
	var up []userPatch
	flush := func() {
		if len(starts) == 0 {
			return
		}
		s.Chunks = append(s.Chunks, cur)
		s.Records = append(s.Records, len(starts))
		s.Starts = append(s.Starts, starts)
		s.Lines = append(s.Lines, curLines)
		s.times = append(s.times, tp)
		s.users = append(s.users, up)
		s.Bytes += len(cur)
		cur, starts, curLines, tp, up = nil, nil, nil, nil, nil
	}
	for i, r := range recs {
		if len(starts) > 0 && len(cur)+len(r) > chunk.DefaultChunkSize {
			flush()
		}
		if cur == nil {
			cur = make([]byte, 0, chunk.DefaultChunkSize+64<<10)
		}
		base := len(cur)
		starts = append(starts, base)
		curLines = append(curLines, lines[i])
		for _, off := range findTimes(r) {
			t, ok := parseMicro(r[off : off+tsLen])
			if !ok {
				return nil, fmt.Errorf("bench: bad timestamp %q", r[off:off+tsLen])
			}
			tp = append(tp, timePatch{off: int32(base + off), orig: t})
			s.first = min(s.first, t)
			last = max(last, t)
		}
		if k := bytes.Index(r, []byte(FPPrefix)); k >= 0 {
			up = append(up, userPatch{off: int32(base + k + len(FPPrefix)), idx: int32(s.Matching)})
			s.Matching++
		}
		cur = append(cur, r...)
		s.Total++
	}
	flush()
	if s.Total > 1 {
		s.Span = (last - s.first) + (last-s.first)/int64(s.Total-1)
	}
	// Whole microseconds: the timestamps have no finer digits.
	s.Span = (s.Span + 999) / 1000 * 1000
	if s.Span <= 0 {
		s.Span = int64(time.Second)
	}
	return s, nil
}

func encodeParallel(lines [][]byte, o chunk.Options) ([][]byte, error) {
	n := runtime.GOMAXPROCS(0)
	out := make([][]byte, len(lines))
	errs := make([]error, n)
	var wg sync.WaitGroup
	per := (len(lines) + n - 1) / n
	for w := 0; w < n; w++ {
		lo, hi := w*per, min((w+1)*per, len(lines))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			recs, err := chunk.Records(lines[lo:hi], o)
			if err != nil {
				errs[w] = err
				return
			}
			copy(out[lo:hi], recs)
		}(w, lo, hi)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Apply rewrites the payloads for pass rep (0 is the pass as generated).
func (s *Set) Apply(rep int) {
	if rep == s.rep {
		return
	}
	s.rep = rep
	shift := int64(rep) * s.Span
	for c, ch := range s.Chunks {
		for _, p := range s.times[c] {
			formatMicro(ch[p.off:int(p.off)+tsLen], p.orig+shift)
		}
		if s.F > 0 {
			for _, p := range s.users[c] {
				idx := (int64(p.idx) + int64(rep)*int64(s.Matching)) % int64(s.F)
				putDigits(ch[p.off:int(p.off)+FPDigits], idx)
			}
		}
	}
}

// Rep is the pass the payloads currently hold.
func (s *Set) Rep() int { return s.rep }

// MeanRecordBytes is the average record size in the payloads.
func (s *Set) MeanRecordBytes() float64 { return float64(s.Bytes) / float64(s.Total) }

// MeanLineBytes is the average size of the JSON lines.
func (s *Set) MeanLineBytes() float64 {
	n := 0
	for _, ls := range s.Lines {
		for _, l := range ls {
			n += len(l)
		}
	}
	return float64(n) / float64(s.Total)
}

// Pass calls f for each payload of pass rep, after Apply(rep).
func (s *Set) Pass(rep int, f func(c int, chunk []byte)) {
	s.Apply(rep)
	for c, ch := range s.Chunks {
		f(c, ch)
	}
}

// ---- timestamps: 2026-01-15T09:00:00.000000Z (gen's form, fixed width) ----

const tsLen = len("2026-01-15T09:00:00.000000Z")

var timeKeys = [][]byte{[]byte("requestReceivedTimestamp"), []byte("stageTimestamp")}

// findTimes returns the offsets of the timestamp values in one record
// (parsed map or JSON text): each key is followed, within a few bytes (a
// msgpack string header or `":"`), by the 27 bytes of the value.
func findTimes(r []byte) []int {
	var out []int
	for _, key := range timeKeys {
		from := 0
		for {
			i := bytes.Index(r[from:], key)
			if i < 0 {
				break
			}
			at := from + i + len(key)
			from = at
			for k := at; k < at+4 && k+tsLen <= len(r); k++ {
				if isMicro(r[k : k+tsLen]) {
					out = append(out, k)
					break
				}
			}
		}
	}
	return out
}

func isMicro(b []byte) bool {
	const pat = "dddd-dd-ddTdd:dd:dd.ddddddZ"
	for i := 0; i < tsLen; i++ {
		if pat[i] == 'd' {
			if b[i] < '0' || b[i] > '9' {
				return false
			}
		} else if b[i] != pat[i] {
			return false
		}
	}
	return true
}

func parseMicro(b []byte) (int64, bool) {
	t, err := time.Parse("2006-01-02T15:04:05.000000Z", string(b))
	if err != nil {
		return 0, false
	}
	return t.UnixNano(), true
}

// formatMicro writes t (Unix ns, UTC) into b in gen's form, without
// allocating.
func formatMicro(b []byte, t int64) {
	secs := t / 1e9
	micros := (t % 1e9) / 1e3
	days := secs / 86400
	rem := secs % 86400
	y, m, d := civil(days)
	put := func(at, n int, v int64) {
		for i := at + n - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, 4, y)
	b[4] = '-'
	put(5, 2, m)
	b[7] = '-'
	put(8, 2, d)
	b[10] = 'T'
	put(11, 2, rem/3600)
	b[13] = ':'
	put(14, 2, rem%3600/60)
	b[16] = ':'
	put(17, 2, rem%60)
	b[19] = '.'
	put(20, 6, micros)
	b[26] = 'Z'
}

// civil converts days since 1970-01-01 to a date (Howard Hinnant's
// civil_from_days).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func putDigits(b []byte, v int64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// FPUser is the placeholder user of fingerprint i.
func FPUser(i int) string {
	s := strconv.Itoa(i)
	for len(s) < FPDigits {
		s = "0" + s
	}
	return FPPrefix + s
}
