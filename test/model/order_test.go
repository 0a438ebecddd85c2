package model

import (
	"math/rand"
	"sort"
	"testing"
	"time"
)

// lineTimes are the event times of a line's audit events (none for a line
// without any).
func lineTimes(line []byte) []int64 {
	var out []int64
	for _, obj := range candidates(line) {
		if !isAuditEvent(obj) {
			continue
		}
		if t, ok := eventTime(obj); ok {
			out = append(out, t)
		}
	}
	return out
}

// disorder is how far an input goes back in time: the largest amount by
// which an event's time precedes an event read before it. times holds each
// line's event times.
func disorder(times [][]int64, order []int) time.Duration {
	var wm, worst int64
	for _, i := range order {
		for _, t := range times[i] {
			wm = max(wm, t)
			worst = max(worst, wm-t)
		}
	}
	return time.Duration(worst)
}

// shuffle moves each line by up to jitter of event time (ties in any order)
// and halves the jitter until the disorder of the result is within the bound:
// below it when strict (stream: reorder_delay), at most it otherwise
// (schedule: allowed_lateness). It returns the lines and their disorder.
func shuffle(r *rand.Rand, lines [][]byte, bound time.Duration, strict bool) ([][]byte, time.Duration) {
	times := make([][]int64, len(lines))
	keys := make([]int64, len(lines))
	var last int64
	for i, l := range lines {
		times[i] = lineTimes(l)
		if len(times[i]) > 0 {
			last = times[i][0]
		}
		keys[i] = last // a line without a time stays near its neighbours
	}
	for jitter := int64(bound); ; jitter /= 2 {
		order := make([]int, len(lines))
		key := make([]int64, len(lines))
		tie := make([]int64, len(lines))
		for i := range order {
			order[i], key[i], tie[i] = i, keys[i], r.Int63()
			if jitter > 0 {
				key[i] += r.Int63n(jitter)
			}
		}
		sort.Slice(order, func(a, b int) bool {
			x, y := order[a], order[b]
			if key[x] != key[y] {
				return key[x] < key[y]
			}
			return tie[x] < tie[y]
		})
		if d := disorder(times, order); d < bound || (!strict && d == bound) {
			out := make([][]byte, len(lines))
			for i, j := range order {
				out[i] = lines[j]
			}
			return out, d
		}
		if jitter == 0 {
			// Ties put an EventList spanning several times before a line
			// of its first time: keep the generated order.
			return lines, 0
		}
	}
}

// TestDifferentialOutOfOrder: the engine given the traffic out of order within
// reorder_delay (stream) or allowed_lateness (schedule) alerts as the model
// does on the ordered traffic.
func TestDifferentialOutOfOrder(t *testing.T) {
	var n totals
	start := time.Now()
	span := time.Duration(*flagHours * float64(time.Hour))
	var worst time.Duration
	for i := 0; i < *flagConfigs; i++ {
		seed := *flagSeed + int64(i)
		r := rand.New(rand.NewSource(seed))
		s := RandomSettings(r)
		bound, strict := s.AllowedLateness, false
		if s.Mode == "stream" {
			if s.ReorderDelay == 0 {
				s.ReorderDelay = pickDuration(r, time.Millisecond, 20*time.Second)
			}
			bound, strict = s.ReorderDelay, true
		}
		lines, d := shuffle(r, Generate(seed, TrafficParams{Span: span, Window: s.Window, Suppress: s.Suppress}),
			bound, strict)
		worst = max(worst, d)
		if !same(t, seed, s, lines, lines, &n) {
			return
		}
	}
	n.checkGrouped(t)
	t.Logf("%s over %v of event time each (disorder up to %v), in %v", &n, span, worst,
		time.Since(start).Round(time.Millisecond))
}
