package detect

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Event times the engine accepts: after the Unix epoch and before 2200.
// Kubernetes did not exist before the one, and the other keeps every sum of
// a time and a duration far from overflowing.
var (
	minEventTime = int64(1)
	maxEventTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// Options connect an Engine to its surroundings.
type Options struct {
	// Emit receives each alert, synchronously, in the order decided. The
	// Alert is the receiver's to keep.
	Emit func(*Alert)
	// OnCut is told when max_alerts cut alerts: the alerts that would have
	// been stamped in the interval starting at intervalStart, and how many.
	OnCut func(intervalStart int64, cut int)
}

// Engine runs one rule over a stream of audit events on event time. It is
// not safe for concurrent use: the plugin serialises calls.
type Engine struct {
	rule *Rule
	set  Settings
	f    *filter
	opts Options

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

// New returns an engine for rule r. Settings are validated again here so
// that a bad value can never reach the detector.
func New(r *Rule, s Settings, opts Options) (*Engine, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	f, err := newFilter(r, &s)
	if err != nil {
		return nil, err
	}
	if opts.Emit == nil {
		opts.Emit = func(*Alert) {}
	}
	e := &Engine{
		rule: r, set: s, f: f, opts: opts,
		window: int64(s.Window), suppress: int64(s.Suppress), interval: int64(s.Interval),
		lateness: int64(s.AllowedLateness), delay: int64(s.ReorderDelay),
		pool: newPool(),
		fps:  make(map[string]*fingerprint),
		wm:   noTime, nextEval: noTime, lastEval: noTime, newestMatch: noTime,
		streamAlerts: make(map[int64]int),
	}
	return e, nil
}

// Settings returns the settings the engine runs with.
func (e *Engine) Settings() Settings { return e.set }

// Rule returns the engine's rule.
func (e *Engine) Rule() *Rule { return e.rule }

// Arrive tells the engine the wall-clock time at which the next events
// arrive (once per batch: reading the clock per event would cost more than
// the event). Without it, as in a replay, wall time plays no part.
func (e *Engine) Arrive(now time.Time) {
	e.arrival = now.UnixNano()
}

// Process runs one event through the rule. ev and its strings are only
// read during the call.
func (e *Engine) Process(ev *Event) {
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
	if t < minEventTime || t > maxEventTime {
		// No time, or one no audit log can hold (and whose window and
		// evaluation arithmetic would overflow).
		e.stats.NoTime++
		return
	}
	e.advance(t)
	if e.arrival != 0 {
		e.lastArrival, e.wmAtArrival = e.arrival, e.wm
	}
	if !e.f.candidate(ev) {
		return
	}
	e.stats.Candidates++
	addr, ok := e.f.match(ev)
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

// Watermark returns the largest event time seen, in Unix nanoseconds (0
// before any event).
func (e *Engine) Watermark() int64 {
	if e.wm == noTime {
		return 0
	}
	return e.wm
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

func (e *Engine) add(ev *Event, t int64, ip netip.Addr) {
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

	name := bounded(fieldValue(ev, e.rule.Distinct))
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
	r.attrs = e.refAttrs(ev, auditID)
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

// lookup finds or creates the fingerprint of a matching event and marks it
// most recently active.
func (e *Engine) lookup(ev *Event, ip netip.Addr) *fingerprint {
	b := e.keyBuf[:0]
	uaMissing := false
	for _, g := range e.rule.GroupBy {
		switch g {
		case FieldUser:
			b = append(append(b, bounded(ev.User)...), 0)
		case FieldSourceIP:
			b = append(ip.AppendTo(b), 0)
		case FieldUserAgent:
			// A missing user agent is a value of its own, distinct from
			// every string.
			if ev.UserAgent == "" {
				uaMissing = true
				b = append(b, 1)
			} else {
				b = append(append(b, 2), bounded(ev.UserAgent)...)
			}
			b = append(b, 0)
		}
	}
	e.keyBuf = b
	if f, ok := e.fps[string(b)]; ok {
		e.touch(f)
		return f
	}
	if len(e.fps) >= e.set.MaxFingerprints {
		e.evictOne()
	}
	key := string(b)
	f := &fingerprint{key: key, heapIdx: -1, winEnd: noTime, truncatedAt: noTime, uaMissing: uaMissing}
	if e.evicted != nil {
		f.truncatedAt = e.evicted[keyBucket(key)]
	}
	// The group values are views into the key: one allocation.
	parts := strings.Split(key, "\x00")
	i := 0
	for _, g := range e.rule.GroupBy {
		switch g {
		case FieldUser:
			f.user = parts[i]
		case FieldSourceIP:
			f.ip = parts[i]
		case FieldUserAgent:
			if !uaMissing {
				f.ua = parts[i][1:]
			}
		}
		i++
	}
	e.fps[key] = f
	e.pushFront(f)
	return f
}

// evictOne makes room for a new fingerprint: the least recently active
// one goes, unless it is muted (an update may still be due), in which case
// a few more candidates are tried first.
func (e *Engine) evictOne() {
	e.sweep(8)
	if len(e.fps) < e.set.MaxFingerprints {
		return
	}
	victim := e.lru
	for i := 0; i < 8 && victim != nil && victim.muted; i++ {
		victim = victim.prev
	}
	if victim == nil {
		victim = e.lru
	}
	e.stats.FingerprintsEvicted++
	if t := victim.lastActivity(); t != noTime {
		e.noteEvicted(keyBucket(victim.key), t)
	}
	e.remove(victim)
}

// lastActivity is the newest event time the fingerprint knows of: its
// newest record, or a newer event a cap dropped.
func (f *fingerprint) lastActivity() int64 { return max(f.newest(), f.truncatedAt) }

// evictedBuckets is the size of Engine.evicted: 32 KiB, allocated only by
// an engine that evicts.
const evictedBuckets = 4096

func (e *Engine) noteEvicted(bucket int, t int64) {
	if e.evicted == nil {
		e.evicted = new([evictedBuckets]int64)
		for i := range e.evicted {
			e.evicted[i] = noTime
		}
	}
	if t > e.evicted[bucket] {
		e.evicted[bucket] = t
	}
}

// keyBucket hashes a fingerprint key (FNV-1a): deterministic, so that a
// replay flags the same alerts every time.
func keyBucket(key string) int {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return int(h % evictedBuckets)
}

// sweep drops fingerprints whose last activity has left every window,
// least recently active first, at most n per call.
func (e *Engine) sweep(n int) {
	horizon := e.horizon()
	for i := 0; i < n && e.lru != nil; i++ {
		f := e.lru
		if f.muted {
			e.touch(f)
			continue
		}
		if f.lastActivity() >= horizon {
			// Still in a window: its records, or the knowledge that
			// some of its activity there was dropped.
			return
		}
		e.remove(f)
	}
}

func (e *Engine) remove(f *fingerprint) {
	if f.heapIdx >= 0 {
		heap.Remove(&e.mutes, f.heapIdx)
	}
	e.unlink(f)
	delete(e.fps, f.key)
	f.releaseAll(e.pool)
}

func (e *Engine) pushFront(f *fingerprint) {
	f.prev, f.next = nil, e.mru
	if e.mru != nil {
		e.mru.prev = f
	}
	e.mru = f
	if e.lru == nil {
		e.lru = f
	}
}

func (e *Engine) unlink(f *fingerprint) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		e.mru = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		e.lru = f.prev
	}
	f.prev, f.next = nil, nil
}

func (e *Engine) touch(f *fingerprint) {
	if e.mru == f {
		return
	}
	e.unlink(f)
	e.pushFront(f)
}

func (f *fingerprint) truncate(t int64) {
	if t > f.truncatedAt {
		f.truncatedAt = t
	}
}

// emit applies max_alerts in stream mode (per interval of event time) and
// hands the alert over.
func (e *Engine) emit(a *Alert) {
	if e.set.Mode == ModeStream {
		bucket := floorDiv(a.Timestamp, e.interval)
		if e.streamAlerts[bucket] >= e.set.MaxAlerts {
			e.stats.AlertsCut++
			if e.opts.OnCut != nil {
				e.opts.OnCut(bucket*e.interval, 1)
			}
			return
		}
		e.streamAlerts[bucket]++
		if len(e.streamAlerts) > 8 {
			for b := range e.streamAlerts {
				if b < bucket-4 {
					delete(e.streamAlerts, b)
				}
			}
		}
	}
	if a.Type == AlertUpdate {
		e.stats.AlertsUpdate++
	} else {
		e.stats.AlertsNew++
	}
	e.opts.Emit(a)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// muteHeap orders muted fingerprints by the end of their mute period.
type muteHeap []*fingerprint

func (h muteHeap) Len() int { return len(h) }
func (h muteHeap) Less(i, j int) bool {
	if h[i].until != h[j].until {
		return h[i].until < h[j].until
	}
	return h[i].key < h[j].key
}
func (h muteHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *muteHeap) Push(x any) {
	f := x.(*fingerprint)
	f.heapIdx = len(*h)
	*h = append(*h, f)
}
func (h *muteHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	f.heapIdx = -1
	return f
}

// String describes the settings in one line, for the start-up log.
func (s Settings) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode=%s threshold=%d window=%s suppress=%s interval=%s allowed_lateness=%s reorder_delay=%s idle_timeout=%s max_clock_skew=%s max_alerts=%d source_ip=%s",
		s.Mode, s.Threshold, s.Window, s.Suppress, s.Interval, s.AllowedLateness, s.ReorderDelay, s.IdleTimeout, s.MaxClockSkew, s.MaxAlerts, s.SourceIP)
	keys := make([]string, 0, len(s.Exclusions))
	for k := range s.Exclusions {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := strings.Join(s.Exclusions[k], ",")
		if v == "" {
			v = NoneValue
		}
		fmt.Fprintf(&b, " %s=%s", k, v)
	}
	fmt.Fprintf(&b, " max_fingerprints=%d max_names_per_fingerprint=%d", s.MaxFingerprints, s.MaxNamesPerFingerprint)
	return b.String()
}

// recordCap bounds the records a fingerprint keeps for the values it
// holds: four per value (a request's two stages and a repeat) and a few
// dozen more, so that a client re-reading the same secret all day costs a
// handful of records, not one per read. Past it, repeats are coalesced.
func recordCap(values int) int { return 4*values + 64 }

// maxValueLen bounds a value the engine keeps. Names, users and user
// agents come from request paths and headers a client controls: kept
// whole, one request could make an alert too large to deliver.
const maxValueLen = 1024

// bounded returns a value of at most maxValueLen bytes: a longer one is cut
// (at a character boundary) and ends with a digest of the whole value, so
// that distinct values stay distinct.
func bounded(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	h := sha256.New()
	io.WriteString(h, s)
	digest := hex.EncodeToString(h.Sum(nil)[:16])
	cut := maxValueLen - len(digest) - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…" + digest
}
