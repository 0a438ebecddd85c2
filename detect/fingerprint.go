package detect

import (
	"math"
	"sort"
)

// rec is one matching event as the engine keeps it, in 32 bytes.
type rec struct {
	t    int64
	slot int32 // the distinct value, as the fingerprint's slot
	// attrs interns the event's other listed values together (see
	// recordAttrs): they repeat across events far more than they vary.
	attrs strID
	// audit is the auditID when it is a UUID (the API server's own); any
	// other auditID is kept in attrs.
	audit [16]byte
}

// nameSlot is one distinct value of a fingerprint's counted field.
type nameSlot struct {
	name     strID
	nrec     int32  // records of this value still held
	inWin    int32  // records inside the sliding window
	mark     uint32 // scan generation, for distinct counting
	reported bool   // listed in an alert of the current mute period
	last     int64  // time of the newest record
}

// smallSlots is the size under which a fingerprint finds a slot by a linear
// scan instead of a map: most fingerprints read one or two secrets.
const smallSlots = 32

const noTime = math.MinInt64

// fingerprint is the state of one (user, source IP, user agent) group: its
// records in time order inside the retention horizon, its distinct values,
// the sliding window ending at its newest record, and its mute.
type fingerprint struct {
	key       string
	user      string
	ip        string
	ua        string
	uaMissing bool

	slots     []nameSlot
	slotOf    map[strID]int32 // only past smallSlots
	freeSlots []int32
	liveSlots int

	recs []rec // recs[head:] are live, sorted by t (stable for equal t)
	head int

	// The sliding window [winEnd-window, winEnd] over recs[winStart:].
	winStart    int
	winEnd      int64
	winDistinct int

	muted   bool
	until   int64 // end of the mute period
	heapIdx int

	prev, next *fingerprint // recency list, most recent first

	truncatedAt int64 // newest event time at which a cap dropped activity
}

func (f *fingerprint) live() []rec { return f.recs[f.head:] }

func (f *fingerprint) newest() int64 {
	if f.head == len(f.recs) {
		return noTime
	}
	return f.recs[len(f.recs)-1].t
}

// findSlot returns the slot of a value, or -1.
func (f *fingerprint) findSlot(name strID) int32 {
	if f.slotOf != nil {
		if i, ok := f.slotOf[name]; ok {
			return i
		}
		return -1
	}
	// A free slot has name 0, which no value has.
	for i := range f.slots {
		if f.slots[i].name == name {
			return int32(i)
		}
	}
	return -1
}

// addSlot takes a slot for a new value (the caller holds a pool reference
// on name for the slot).
func (f *fingerprint) addSlot(name strID) int32 {
	var i int32
	if n := len(f.freeSlots); n > 0 {
		i = f.freeSlots[n-1]
		f.freeSlots = f.freeSlots[:n-1]
		f.slots[i] = nameSlot{name: name, last: noTime}
	} else {
		i = int32(len(f.slots))
		f.slots = append(f.slots, nameSlot{name: name, last: noTime})
	}
	f.liveSlots++
	if f.slotOf == nil && len(f.slots) > smallSlots {
		f.slotOf = make(map[strID]int32, 2*smallSlots)
		for j := range f.slots {
			if s := &f.slots[j]; s.name != 0 {
				f.slotOf[s.name] = int32(j)
			}
		}
	} else if f.slotOf != nil {
		f.slotOf[name] = i
	}
	return i
}

// insert places r in time order (after records of equal time) and keeps
// the sliding window up to date. It returns the position.
func (f *fingerprint) insert(r rec, window int64) int {
	pos := len(f.recs)
	if n := len(f.recs); n > f.head && f.recs[n-1].t > r.t {
		// Out of order: find the place after records of equal time.
		live := f.recs[f.head:]
		pos = f.head + sort.Search(len(live), func(i int) bool { return live[i].t > r.t })
	}
	if pos == len(f.recs) {
		f.recs = append(f.recs, r)
	} else {
		f.recs = append(f.recs, rec{})
		copy(f.recs[pos+1:], f.recs[pos:])
		f.recs[pos] = r
	}
	s := &f.slots[r.slot]
	s.nrec++
	if r.t > s.last {
		s.last = r.t
	}
	switch {
	case r.t > f.winEnd:
		// Newer than every record: it is the last one, and the window
		// now ends at it.
		f.advanceWindow(r.t, window)
		f.enterWindow(s)
	case r.t >= f.winEnd-window:
		f.enterWindow(s)
	default:
		// Before the window: it shifts the window's first index.
		f.winStart++
	}
	return pos
}

func (f *fingerprint) enterWindow(s *nameSlot) {
	if s.inWin == 0 {
		f.winDistinct++
	}
	s.inWin++
}

func (f *fingerprint) leaveWindow(s *nameSlot) {
	if s.inWin--; s.inWin == 0 {
		f.winDistinct--
	}
}

// advanceWindow moves the window's end to end, where the record just
// appended (not yet in the window) sits.
func (f *fingerprint) advanceWindow(end, window int64) {
	f.winEnd = end
	for f.recs[f.winStart].t < end-window {
		f.leaveWindow(&f.slots[f.recs[f.winStart].slot])
		f.winStart++
	}
}

// distinctIn counts distinct values with a record in [from, to].
func (f *fingerprint) distinctIn(from, to int64, gen uint32) int {
	n := 0
	for _, r := range f.between(from, to) {
		if s := &f.slots[r.slot]; s.mark != gen {
			s.mark = gen
			n++
		}
	}
	return n
}

// between returns the live records with time in [from, to].
func (f *fingerprint) between(from, to int64) []rec {
	live := f.live()
	i := sort.Search(len(live), func(i int) bool { return live[i].t >= from })
	j := i + sort.Search(len(live)-i, func(k int) bool { return live[i+k].t > to })
	return live[i:j]
}

// dropBefore releases the records older than horizon.
func (f *fingerprint) dropBefore(horizon int64, p *pool) (dropped int) {
	for f.head < len(f.recs) && f.recs[f.head].t < horizon {
		f.release(f.head, p)
		f.head++
		dropped++
	}
	if f.winStart < f.head {
		f.winStart = f.head
	}
	if f.head == len(f.recs) {
		f.recs, f.head, f.winStart, f.winEnd = f.recs[:0], 0, 0, noTime
	} else if f.head > 64 && f.head > len(f.recs)/2 {
		n := copy(f.recs, f.recs[f.head:])
		f.recs = f.recs[:n]
		f.winStart -= f.head
		f.head = 0
	}
	return dropped
}

// removeOldest releases the oldest record (the per-fingerprint record cap
// evicts it).
func (f *fingerprint) removeOldest(p *pool) {
	if f.head < len(f.recs) {
		f.release(f.head, p)
		f.head++
		if f.winStart < f.head {
			f.winStart = f.head
		}
	}
}

func (f *fingerprint) release(i int, p *pool) {
	r := &f.recs[i]
	slot := r.slot
	s := &f.slots[slot]
	// Every record from winStart on is inside the window.
	if i >= f.winStart {
		f.leaveWindow(s)
	}
	s.nrec--
	p.release(r.attrs)
	*r = rec{}
	if s.nrec == 0 && !s.reported {
		f.freeSlot(slot, p)
	}
}

func (f *fingerprint) freeSlot(i int32, p *pool) {
	s := &f.slots[i]
	if f.slotOf != nil {
		delete(f.slotOf, s.name)
	}
	p.release(s.name)
	*s = nameSlot{last: noTime}
	f.freeSlots = append(f.freeSlots, i)
	f.liveSlots--
}

// unmute ends the mute period: reported values are forgotten, and values
// kept only because they had been reported are freed.
func (f *fingerprint) unmute(p *pool) {
	f.muted = false
	for i := range f.slots {
		s := &f.slots[i]
		if !s.reported {
			continue
		}
		s.reported = false
		if s.nrec == 0 {
			f.freeSlot(int32(i), p)
		}
	}
}

// releaseAll frees everything the fingerprint holds in the pool.
func (f *fingerprint) releaseAll(p *pool) {
	for i := f.head; i < len(f.recs); i++ {
		p.release(f.recs[i].attrs)
	}
	for i := range f.slots {
		p.release(f.slots[i].name)
	}
	*f = fingerprint{}
}
