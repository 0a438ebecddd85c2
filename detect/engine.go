package detect

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// Cut is how many alerts max_alerts kept from being reported: those that
// would have been stamped in the interval starting at IntervalStart.
type Cut struct {
	IntervalStart int64
	Alerts        int
}

// Engine runs one rule over a stream of audit events on event time. It is
// not safe for concurrent use: the plugin serialises calls.
type Engine struct {
	rule *rule.Rule
	set  Settings
	f    *rule.Filter

	// The fingerprint's fields, in the rule's order. A field the rule
	// groups by and these do not (groupIP, groupUA false) is kept per
	// record instead and listed in alerts. groupNames is alert.group_by:
	// nil when the grouping is the rule's.
	groupBy          []rule.Field
	groupIP, groupUA bool
	groupNames       []string

	// Decided alerts and cuts, until the caller takes them.
	alerts []*Alert
	cuts   []Cut

	window, suppress, interval, lateness int64

	pool  *pool
	fps   map[string]*fingerprint
	mru   *fingerprint // recency list: most recently active first
	lru   *fingerprint
	mutes muteHeap
	// Stream mode with reorder_delay: decisions wait until the watermark
	// has passed them by the delay, then run in event-time order.
	delay  int64
	checks checkHeap

	// wm is the watermark: the largest event time seen (noTime before the
	// first event).
	wm int64
	// Schedule mode: the next evaluation to run, the last one run, and the
	// newest matching event time.
	nextEval, lastEval, newestMatch int64
	// Stream mode: alerts per interval of event time, for max_alerts.
	streamAlerts map[int64]int

	// Wall clock, for the future-time guard and the idle advance: the time
	// of the current batch, of the last batch, and the watermark then.
	arrival, lastArrival, wmAtArrival int64

	// evicted remembers, per bucket of fingerprint keys, the newest record
	// time of a fingerprint evicted under max_fingerprints (nil until the
	// first eviction). A fingerprint created later may be one of them come
	// back without its records: its alerts over windows that start at or
	// before that time are flagged truncated. Buckets keep it bounded; a
	// collision only flags more.
	evicted *[evictedBuckets]int64

	gen     uint32
	keyBuf  []byte
	attrBuf []byte
	stats   Stats
}

// Stats are the engine's counters and gauges.
type Stats struct {
	Events        uint64 // audit events seen
	NoTime        uint64 // events without a usable time (none, or outside 1970..2200): not processed
	FutureClamped uint64 // events stamped more than max_clock_skew ahead of the wall clock
	Candidates    uint64 // events with the rule's actions and resources
	Matched       uint64 // events passing the whole WHERE clause
	Late          uint64 // matching events older than an evaluation already run
	TooLate       uint64 // late events older than every window still open: dropped

	AlertsNew    uint64
	AlertsUpdate uint64
	AlertsCut    uint64 // alerts over max_alerts
	Evaluations  uint64 // schedule mode

	FingerprintsEvicted uint64 // over max_fingerprints
	NamesDropped        uint64 // events of new values over max_names_per_fingerprint
	EventsCoalesced     uint64 // repeated reads not kept under the per-fingerprint record cap
	RecordsEvicted      uint64 // oldest records evicted under that cap

	Fingerprints int
	Names        int
	Records      int
	Watermark    int64
}

// New returns an engine for rule r. The settings are taken as given: the
// plugin's configuration is where they are checked.
func New(r *rule.Rule, s Settings) (*Engine, error) {
	f, err := rule.Compile(r, s.SourceIP, s.Exclusions)
	if err != nil {
		return nil, err
	}
	groupBy, err := groupFields(r, s.GroupBy)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		rule: r, set: s, f: f, groupBy: groupBy,
		groupIP: slices.Contains(groupBy, rule.FieldSourceIP), groupUA: slices.Contains(groupBy, rule.FieldUserAgent),
		window: int64(s.Window), suppress: int64(s.Suppress), interval: int64(s.Interval),
		lateness: int64(s.AllowedLateness), delay: int64(s.ReorderDelay),
		pool: newPool(),
		fps:  make(map[string]*fingerprint),
		wm:   noTime, nextEval: noTime, lastEval: noTime, newestMatch: noTime,
		streamAlerts: make(map[int64]int),
	}
	if len(groupBy) != len(r.GroupBy) {
		for _, g := range groupBy {
			e.groupNames = append(e.groupNames, g.GroupName())
		}
	}
	return e, nil
}

// groupFields checks a group_by against the rule's grouping and puts it in
// the rule's order, so that the order it was written in changes neither
// fingerprints nor alert ids.
func groupFields(r *rule.Rule, want []rule.Field) ([]rule.Field, error) {
	if want == nil {
		return r.GroupBy, nil
	}
	for _, g := range want {
		if !slices.Contains(r.GroupBy, g) {
			return nil, fmt.Errorf("group_by: the rule does not group by field %d", g)
		}
	}
	var out []rule.Field
	for _, g := range r.GroupBy {
		if slices.Contains(want, g) {
			out = append(out, g)
		}
	}
	if slices.Contains(r.GroupBy, rule.FieldUser) && !slices.Contains(out, rule.FieldUser) {
		// The alert, its summary and every destination's identity of an
		// alert name one user.
		return nil, errors.New("group_by must include the user")
	}
	return out, nil
}

// Settings returns the settings the engine runs with.
func (e *Engine) Settings() Settings { return e.set }

// TakeAlerts returns the alerts decided since the last call, in the order
// they were decided; they are the caller's to keep.
func (e *Engine) TakeAlerts() []*Alert {
	a := e.alerts
	e.alerts = nil
	return a
}

// TakeCuts returns what max_alerts cut since the last call.
func (e *Engine) TakeCuts() []Cut {
	c := e.cuts
	e.cuts = nil
	return c
}

// Arrive tells the engine the wall-clock time at which the next events
// arrive (once per batch: reading the clock per event would cost more than
// the event). Without it, as in a replay, wall time plays no part.
func (e *Engine) Arrive(now time.Time) {
	e.arrival = now.UnixNano()
}

// Process runs one event through the rule. ev and its strings are only
// read during the call.
func (e *Engine) Process(ev *audit.Event) {
	e.stats.Events++
	t := ev.Time
	if t != 0 && e.arrival != 0 && e.set.MaxClockSkew > 0 && t > e.arrival+int64(e.set.MaxClockSkew) {
		// One line stamped in the future must not drag the watermark
		// forward and close every window: it is taken as arriving now,
		// at the watermark (not at the wall clock, which a lagging
		// pipeline is behind).
		e.stats.FutureClamped++
		t = e.wm
		if t == noTime {
			t = e.arrival
		}
	}
	if t < audit.MinTime || t > audit.MaxTime {
		// No time, or one no audit log can hold (and whose window and
		// evaluation arithmetic would overflow).
		e.stats.NoTime++
		return
	}
	e.advance(t)
	if e.arrival != 0 {
		e.lastArrival, e.wmAtArrival = e.arrival, e.wm
	}
	if !e.f.Candidate(ev) {
		return
	}
	e.stats.Candidates++
	addr, ok := e.f.Match(ev)
	if !ok {
		return
	}
	e.stats.Matched++
	e.add(ev, t, addr)
}

// Tick moves the watermark on when the source has been idle for
// idle_timeout of wall-clock time: by the wall-clock time elapsed since the
// last event arrived, never past the wall clock itself. Without it, a quiet
// cluster would hold back due evaluations and update alerts.
func (e *Engine) Tick(now time.Time) {
	if e.set.IdleTimeout <= 0 || e.lastArrival == 0 || e.wm == noTime {
		return
	}
	wall := now.UnixNano()
	idle := wall - e.lastArrival
	if idle < int64(e.set.IdleTimeout) {
		return
	}
	target := e.wmAtArrival + idle
	if target > wall {
		target = wall
	}
	e.advance(target)
}

// Close ends the stream: every muted fingerprint is handled as if the
// watermark had reached the end of its mute period, and in schedule mode
// every evaluation whose window holds a matching event runs.
func (e *Engine) Close() {
	if e.set.Mode == ModeStream {
		e.decide(math.MaxInt64)
		return
	}
	if e.nextEval == noTime {
		return
	}
	for t := e.nextEval; t-e.window <= e.newestMatch; t += e.interval {
		e.evaluate(t)
		e.lastEval, e.nextEval = t, t+e.interval
	}
}

// Stats returns the counters and the current gauges.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Fingerprints = len(e.fps)
	for _, f := range e.fps {
		s.Names += f.liveSlots
		s.Records += len(f.recs) - f.head
	}
	s.Watermark = e.wm
	return s
}

func (e *Engine) advance(t int64) {
	if t <= e.wm {
		return
	}
	e.wm = t
	if e.set.Mode == ModeStream {
		e.decide(e.decided())
	} else {
		e.runDueEvaluations()
	}
	e.sweep(4)
}

// horizon is the oldest event time any window still to be evaluated can
// hold; older records are dropped and older events are too late.
func (e *Engine) horizon() int64 {
	if e.set.Mode == ModeSchedule {
		if e.nextEval == noTime {
			return noTime
		}
		return e.nextEval - e.window
	}
	return e.decided() - e.window - e.lateness
}

// decided is the event time up to which stream decisions have been made:
// the watermark, less reorder_delay.
func (e *Engine) decided() int64 {
	if e.wm == noTime {
		return noTime
	}
	return e.wm - e.delay
}

// late reports whether a matching event at t missed an evaluation that
// already ran. In stream mode, an event within allowed_lateness of the
// watermark still takes its place in time order.
func (e *Engine) late(t int64) bool {
	if e.set.Mode == ModeSchedule {
		return e.lastEval != noTime && t <= e.lastEval
	}
	return t < e.decided()-e.lateness
}

func (e *Engine) add(ev *audit.Event, t int64, ip netip.Addr) {
	horizon := e.horizon()
	if t < horizon {
		e.stats.Late++
		e.stats.TooLate++
		return
	}
	late := e.late(t)
	if late {
		e.stats.Late++
	}
	f := e.lookup(ev, ip)
	f.dropBefore(horizon, e.pool)

	name := bounded(e.rule.Distinct.Of(ev))
	slot := int32(-1)
	if id, ok := e.pool.index[name]; ok {
		slot = f.findSlot(id)
	}
	if slot < 0 {
		if f.liveSlots >= e.set.MaxNamesPerFingerprint {
			e.stats.NamesDropped++
			f.truncate(t)
			return
		}
		slot = f.addSlot(e.pool.ref(name))
	}
	if len(f.recs)-f.head >= recordCap(f.liveSlots) {
		s := &f.slots[slot]
		if s.nrec > 0 && s.last >= t-e.window/4 {
			// A repeat of a value read moments ago adds nothing to the
			// distinct count: under the cap it is not kept.
			e.stats.EventsCoalesced++
			f.truncate(t)
			return
		}
		f.removeOldest(e.pool)
		e.stats.RecordsEvicted++
		f.truncate(t)
	}
	prevLast := f.slots[slot].last
	r := rec{t: t, slot: slot}
	var auditID string
	if u, ok := parseAuditUUID(ev.AuditID); ok {
		r.audit = u
	} else {
		auditID = ev.AuditID
	}
	r.attrs = e.refAttrs(ev, ip, auditID)
	pos := f.insert(r, e.window)
	if t > e.newestMatch {
		e.newestMatch = t
	}
	if e.set.Mode == ModeStream {
		switch {
		case late:
			// It joins the windows still to be decided, nothing more.
		case t > e.decided():
			heap.Push(&e.checks, check{t: t, f: f})
		case !f.muted:
			e.streamCheck(f, pos, prevLast)
		}
	}
}
