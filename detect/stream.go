package detect

import "container/heap"

// maxRecheck bounds how many earlier-evaluated windows one out-of-order
// event re-evaluates, so that a flood of disordered events cannot make a
// single event cost more than that many scans.
const maxRecheck = 64

// streamCheck runs after a matching event was inserted at pos for an
// unmuted fingerprint. In time order, only the window ending at the event
// can cross the threshold. An event that arrived after later ones (within
// allowed_lateness) also joins the windows ending at those later events,
// which were evaluated without it: the earliest of them that now crosses is
// the alert, exactly as if the events had arrived in time order.
func (e *Engine) streamCheck(f *fingerprint, pos int, prevLast int64) {
	t := f.recs[pos].t
	threshold := e.set.Threshold
	if t == f.winEnd {
		if f.winDistinct >= threshold {
			e.alertNew(f, t)
		}
		return
	}
	// The value was already present in every window holding a record of it
	// at the same time, and in windows reaching back to an earlier record:
	// only windows ending in [lo, hi] can have gained a value.
	if prevLast == t {
		return
	}
	lo, hi := t, t+e.window
	if prevLast != noTime && prevLast < t && prevLast+e.window >= lo {
		lo = prevLast + e.window + 1
	}
	if prevLast > t {
		hi = prevLast - 1
	}
	if hi > f.winEnd {
		hi = f.winEnd
	}
	if d := e.decided(); hi > d {
		// Later windows are still to be decided, in order.
		hi = d
	}
	checked := 0
	last := int64(noTime)
	for i := pos; i < len(f.recs); i++ {
		c := f.recs[i].t
		if c > hi {
			break
		}
		if c < lo || c == last {
			continue
		}
		last = c
		var n int
		if c == f.winEnd {
			n = f.winDistinct
		} else {
			if checked == maxRecheck {
				continue
			}
			checked++
			e.gen++
			n = f.distinctIn(c-e.window, c, e.gen)
		}
		if n >= threshold {
			e.alertNew(f, c)
			return
		}
	}
}

// alertNew reports the window ending at t and mutes the fingerprint for
// the suppression period.
func (e *Engine) alertNew(f *fingerprint, t int64) {
	a := e.collect(f, t-e.window, t, t, AlertNew)
	f.muted, f.until = true, t+e.suppress
	heap.Push(&e.mutes, f)
	e.emit(a)
}

// checkUpdate runs when the watermark reaches the end U of a mute period:
// values in [U-window, U] not reported yet make an update stamped U and a
// new mute period; otherwise the fingerprint is no longer muted.
//
// An event stamped exactly U reaches the engine with the watermark that
// reaches U, and an arriving event first advances the watermark, then the
// due mute ends are handled, then the event itself: so the update never
// holds events at U itself (they belong to what follows). Reading the
// window as [U-window, U) makes that true whatever the arrival order.
func (e *Engine) checkUpdate(f *fingerprint, u int64) {
	last := u - 1
	unreported := false
	for _, r := range f.between(u-e.window, last) {
		if !f.slots[r.slot].reported {
			unreported = true
			break
		}
	}
	if !unreported {
		heap.Remove(&e.mutes, f.heapIdx)
		f.unmute(e.pool)
		return
	}
	a := e.collect(f, u-e.window, last, u, AlertUpdate)
	f.until = u + e.suppress
	heap.Fix(&e.mutes, f.heapIdx)
	e.emit(a)
}

// decide makes, in event-time order, the stream decisions due by upTo:
// the ends of mute periods and the deferred threshold checks of
// reorder_delay. A mute ending at the time of a check is handled first, as
// an in-order engine handles due mutes before the event that reaches them.
func (e *Engine) decide(upTo int64) {
	for {
		mute := e.mutes.Len() > 0 && e.mutes[0].until <= upTo
		chk := e.checks.Len() > 0 && e.checks[0].t <= upTo
		switch {
		case mute && (!chk || e.mutes[0].until <= e.checks[0].t):
			f := e.mutes[0]
			e.checkUpdate(f, f.until)
		case chk:
			c := heap.Pop(&e.checks).(check)
			// One decision per fingerprint and time, however many of its
			// events share that time: a second one would see the mute the
			// first may have ended at once (suppress 0) and report again.
			for e.checks.Len() > 0 && e.checks[0] == c {
				heap.Pop(&e.checks)
			}
			if c.f.key == "" || c.f.muted {
				continue // evicted since, or already reported
			}
			e.gen++
			if c.f.distinctIn(c.t-e.window, c.t, e.gen) >= e.set.Threshold {
				e.alertNew(c.f, c.t)
			}
		default:
			return
		}
	}
}

// check is a deferred threshold check of a fingerprint at an event time.
type check struct {
	t int64
	f *fingerprint
}

type checkHeap []check

func (h checkHeap) Len() int { return len(h) }
func (h checkHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].f.key < h[j].f.key
}
func (h checkHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *checkHeap) Push(x any)   { *h = append(*h, x.(check)) }
func (h *checkHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
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
