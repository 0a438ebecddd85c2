package model

import (
	"sort"
)

// Result is what the rule makes of an input.
type Result struct {
	// Alerts in emission order, as encoding/json decodes an alert.
	Alerts []map[string]any
	// Matching is the number of matching events (the engine's Matched).
	Matching int
	// AuditEvents counts audit events, with a time or not (the engine's
	// Events); Timeless those without a usable time (NoTime).
	AuditEvents, Timeless int
	// Cut is the number of alerts max_alerts kept back.
	Cut int
}

// Run applies the rule to lines (see the package comment). Events are taken
// in time order (a stable sort): the model's inputs are time-ordered, and for
// per-time stream decisions and schedule mode the arrival order within the
// allowed disorder makes no difference.
func Run(s Settings, lines [][]byte) *Result {
	events, n := decode(s, lines)
	sort.SliceStable(events, func(i, j int) bool { return events[i].t < events[j].t })
	r := &Result{AuditEvents: n, Timeless: n - len(events)}
	for _, e := range events {
		if e.match {
			r.Matching++
		}
	}
	if s.Mode == "schedule" {
		runSchedule(s, events, r)
	} else {
		newStream(s, r).run(events)
	}
	return r
}

// Input is a decoded input, for repeated Views.
type Input struct {
	g             grouping
	byFingerprint map[string][]*event // matching events by alert.fingerprint
}

// Decode reads lines once for View.
func Decode(s Settings, lines [][]byte) *Input {
	events, _ := decode(s, lines)
	in := &Input{g: s.grouping(), byFingerprint: map[string][]*event{}}
	for _, e := range events {
		if e.match {
			fp := fingerprintHex(e.key)
			in.byFingerprint[fp] = append(in.byFingerprint[fp], e)
		}
	}
	return in
}

// View is what the rule knows of one fingerprint in one window: its
// matching events with time in [start, end] (or [start, end) when halfOpen),
// among the first `read` audit events of the input. It is described as an
// alert with the given stamp, type and mode; nil when there is no such
// event. Tests use it to check an engine alert made under memory caps.
func (in *Input) View(fingerprint string, start, end int64, halfOpen bool, read int, typ, mode string) map[string]any {
	var evs []*event
	for _, e := range in.byFingerprint[fingerprint] {
		if e.seq >= read || e.t < start || e.t > end || (halfOpen && e.t == end) {
			continue
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return nil
	}
	return buildAlert(in.g, typ, mode, end, start, evs)
}

// inWindow returns the events of evs (sorted by time) with time in [a, b],
// or [a, b) when halfOpen.
func inWindow(evs []*event, a, b int64, halfOpen bool) []*event {
	lo := sort.Search(len(evs), func(i int) bool { return evs[i].t >= a })
	hi := sort.Search(len(evs), func(i int) bool {
		if halfOpen {
			return evs[i].t >= b
		}
		return evs[i].t > b
	})
	if hi < lo {
		return nil
	}
	return evs[lo:hi]
}

func distinctNames(evs []*event) int {
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.name] = true
	}
	return len(seen)
}
