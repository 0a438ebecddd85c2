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
func (e *Engine) checkUpdate(f *fingerprint, u int64) {
	unreported := false
	for _, r := range f.between(u-e.window, u) {
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
	a := e.collect(f, u-e.window, u, u, AlertUpdate)
	f.until = u + e.suppress
	heap.Fix(&e.mutes, f.heapIdx)
	e.emit(a)
}
