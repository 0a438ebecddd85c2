package model

import "sort"

// runSchedule evaluates every multiple T of interval whose window
// [T - window, T] holds a matching event.
func runSchedule(s Settings, events []*event, r *Result) {
	var matching []*event
	for _, e := range events {
		if e.match {
			matching = append(matching, e)
		}
	}
	if len(matching) == 0 {
		return
	}
	iv, w := int64(s.Interval), int64(s.Window)
	ceil := func(t int64) int64 { return (t + iv - 1) / iv * iv }
	last := matching[len(matching)-1].t
	for T := ceil(matching[0].t); T-w <= last; {
		evs := inWindow(matching, T-w, T, false)
		if len(evs) == 0 {
			// Nothing until the next event: skip the empty evaluations.
			next := inWindow(matching, T+1, last, false)[0]
			T = ceil(next.t)
			continue
		}
		evaluate(s, T, evs, r)
		T += iv
	}
}

type hit struct {
	evs   []*event
	count int
}

// evaluate runs one evaluation over the events of its window.
func evaluate(s Settings, T int64, evs []*event, r *Result) {
	groups := map[string][]*event{}
	for _, e := range evs {
		groups[e.key] = append(groups[e.key], e)
	}
	var hits []hit
	for _, g := range groups {
		if n := distinctNames(g); n >= s.Threshold {
			hits = append(hits, hit{g, n})
		}
	}
	// A field group_by leaves out varies within a fingerprint: only the
	// grouped ones are compared (and they tell fingerprints apart).
	g := s.grouping()
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		x, y := a.evs[0], b.evs[0]
		switch {
		case a.count != b.count:
			return a.count > b.count
		case x.user != y.user:
			return x.user < y.user
		case g.ip && x.ip != y.ip:
			return x.ip < y.ip
		case g.ua && x.hasUA != y.hasUA:
			return x.hasUA
		case g.ua:
			return x.ua < y.ua
		}
		return false
	})
	for i, h := range hits {
		if i >= s.MaxAlerts {
			r.Cut++
			continue
		}
		r.Alerts = append(r.Alerts, buildAlert(g, "new", "schedule", T, T-int64(s.Window), h.evs))
	}
}
