package detect

import (
	"container/heap"
	"net/netip"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// lookup finds or creates the fingerprint of a matching event and marks it
// most recently active.
func (e *Engine) lookup(ev *audit.Event, ip netip.Addr) *fingerprint {
	b := e.keyBuf[:0]
	uaMissing := false
	for _, g := range e.groupBy {
		switch g {
		case rule.FieldUser:
			b = append(appendAttr(b, ev.User), 0)
		case rule.FieldSourceIP:
			b = append(ip.AppendTo(b), 0)
		case rule.FieldUserAgent:
			// A missing user agent is a value of its own, distinct from
			// every string.
			if ev.UserAgent == "" {
				uaMissing = true
				b = append(b, 1)
			} else {
				b = appendAttr(append(b, 2), ev.UserAgent)
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
	// The group values are views into the key: one allocation. NUL, the
	// separator, is replaced inside values (appendAttr), so the parts are
	// the values: a user agent holding one is printed whole, and two
	// clients cannot share a key.
	parts := strings.Split(key, "\x00")
	i := 0
	for _, g := range e.groupBy {
		switch g {
		case rule.FieldUser:
			f.user = parts[i]
		case rule.FieldSourceIP:
			f.ip = parts[i]
		case rule.FieldUserAgent:
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
