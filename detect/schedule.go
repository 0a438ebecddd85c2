package detect

import "sort"

// runDueEvaluations runs every evaluation the watermark has passed by more
// than allowed_lateness, in order. Evaluation times are the multiples of
// interval since the Unix epoch, as Elastic schedules its rule runs.
func (e *Engine) runDueEvaluations() {
	due := e.wm - e.lateness // evaluation T runs once wm > T + lateness
	if e.nextEval == noTime {
		// The first event: evaluations whose time has passed by more than
		// the lateness ran before we started; the next one is the first
		// still open.
		e.nextEval = ceilMultiple(due, e.interval)
		return
	}
	for due > e.nextEval {
		if e.newestMatch == noTime || e.newestMatch < e.nextEval-e.window {
			// No matching event can be in this window or any later one
			// before the watermark: skip the empty evaluations at once.
			next := ceilMultiple(due, e.interval)
			e.lastEval = next - e.interval
			e.nextEval = next
			return
		}
		e.evaluate(e.nextEval)
		e.lastEval = e.nextEval
		e.nextEval += e.interval
	}
}

type scheduled struct {
	f *fingerprint
	n int
}

// evaluate is one run of the rule over [t-window, t]: every group with at
// least threshold distinct values alerts, at most max_alerts of them,
// ordered by distinct values (descending), then user, source IP and user
// agent (a missing one last).
func (e *Engine) evaluate(t int64) {
	e.stats.Evaluations++
	from := t - e.window
	var hits []scheduled
	for _, f := range e.fps {
		if len(f.between(from, t)) == 0 {
			continue
		}
		e.gen++
		if n := f.distinctIn(from, t, e.gen); n >= e.set.Threshold {
			hits = append(hits, scheduled{f, n})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if a.n != b.n {
			return a.n > b.n
		}
		if a.f.user != b.f.user {
			return a.f.user < b.f.user
		}
		if a.f.ip != b.f.ip {
			return a.f.ip < b.f.ip
		}
		if a.f.uaMissing != b.f.uaMissing {
			return b.f.uaMissing
		}
		return a.f.ua < b.f.ua
	})
	if cut := len(hits) - e.set.MaxAlerts; cut > 0 {
		hits = hits[:e.set.MaxAlerts]
		e.stats.AlertsCut += uint64(cut)
		e.cut(t, cut)
	}
	for _, h := range hits {
		e.emit(e.collect(h.f, from, t, t, AlertNew))
	}
}

// ceilMultiple is the smallest multiple of m at or after t.
func ceilMultiple(t, m int64) int64 {
	q := floorDiv(t, m) * m
	if q < t {
		q += m
	}
	return q
}
