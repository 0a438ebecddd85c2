package model

import (
	"math"
	"sort"
)

// fpState is one fingerprint in stream mode.
type fpState struct {
	key      string
	events   []*event // its matching events so far, in time order
	muted    bool
	until    int64           // end of the mute period, when muted
	reported map[string]bool // names listed by the alerts of the current episode
}

type stream struct {
	s      Settings
	r      *Result
	fps    map[string]*fpState
	muted  map[string]*fpState // the fingerprints with muted set
	wm     int64
	bucket map[int64]int // alerts decided per interval of @timestamp
}

func newStream(s Settings, r *Result) *stream {
	return &stream{s: s, r: r, fps: map[string]*fpState{}, muted: map[string]*fpState{}, bucket: map[int64]int{}}
}

func (st *stream) run(events []*event) {
	if st.s.ReorderDelay == 0 {
		// One decision per event, in input order.
		for _, e := range events {
			st.advance(e.t)
			if e.match {
				st.checkNew(st.add(e), e.t)
			}
		}
	} else {
		// One decision per fingerprint and event time, once every event
		// of that time is in.
		for i := 0; i < len(events); {
			t := events[i].t
			st.advance(t)
			j := i
			touched := map[string]*fpState{}
			for ; j < len(events) && events[j].t == t; j++ {
				if events[j].match {
					f := st.add(events[j])
					touched[f.key] = f
				}
			}
			keys := make([]string, 0, len(touched))
			for k := range touched {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				st.checkNew(touched[k], t)
			}
			i = j
		}
	}
	// Shutdown: every mute end, as if the watermark had reached it.
	st.muteEnds(math.MaxInt64)
}

// advance moves the watermark to t and handles the mute ends it reaches.
func (st *stream) advance(t int64) {
	if t <= st.wm {
		return
	}
	st.wm = t
	st.muteEnds(t)
}

func (st *stream) add(e *event) *fpState {
	f := st.fps[e.key]
	if f == nil {
		f = &fpState{key: e.key}
		st.fps[f.key] = f
	}
	f.events = append(f.events, e)
	return f
}

// muteEnds handles every mute end U <= limit in order of (U, key), including
// those of mute periods created meanwhile.
func (st *stream) muteEnds(limit int64) {
	for {
		var next *fpState
		for _, f := range st.muted {
			if f.until > limit {
				continue
			}
			if next == nil || f.until < next.until || (f.until == next.until && f.key < next.key) {
				next = f
			}
		}
		if next == nil {
			return
		}
		st.muteEnd(next)
	}
}

// muteEnd: an update if [U - window, U) holds a name not reported in this
// episode, else the episode ends.
func (st *stream) muteEnd(f *fpState) {
	u := f.until
	evs := inWindow(f.events, u-int64(st.s.Window), u, true)
	fresh := false
	for _, e := range evs {
		if !f.reported[e.name] {
			fresh = true
		}
	}
	if !fresh {
		f.muted, f.reported = false, nil
		delete(st.muted, f.key)
		return
	}
	for _, e := range evs {
		f.reported[e.name] = true
	}
	f.until = u + int64(st.s.Suppress)
	st.alert("update", u, evs)
}

// checkNew: a new alert when an unmuted fingerprint holds threshold names in
// [t - window, t].
func (st *stream) checkNew(f *fpState, t int64) {
	if f.muted {
		return
	}
	evs := inWindow(f.events, t-int64(st.s.Window), t, false)
	if distinctNames(evs) < st.s.Threshold {
		return
	}
	f.muted, f.until, f.reported = true, t+int64(st.s.Suppress), map[string]bool{}
	for _, e := range evs {
		f.reported[e.name] = true
	}
	st.muted[f.key] = f
	st.alert("new", t, evs)
}

// alert emits, unless it is over max_alerts in its interval of @timestamp.
func (st *stream) alert(typ string, stamp int64, evs []*event) {
	b := stamp / int64(st.s.Interval)
	st.bucket[b]++
	if st.bucket[b] > st.s.MaxAlerts {
		st.r.Cut++
		return
	}
	st.r.Alerts = append(st.r.Alerts, buildAlert(st.s.grouping(), typ, "stream", stamp, stamp-int64(st.s.Window), evs))
}
