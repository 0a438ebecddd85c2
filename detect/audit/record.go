package audit

// Record collects the leaves of one audit document while a decoder walks
// it. Values are borrowed from the decoder's buffer.
type Record struct {
	values  [numFields]string
	ips     ipList
	present uint32
	minute  minuteCache
}

// ipList keeps the first MaxSourceIPs-1 entries of a sourceIPs list and the
// last one, so a client-supplied X-Forwarded-For with thousands of entries
// costs nothing.
type ipList struct {
	first []string
	last  string
	n     int
}

func (l *ipList) reset() {
	l.first, l.last, l.n = l.first[:0], "", 0
}

func (l *ipList) add(v string) {
	l.n++
	if len(l.first) < MaxSourceIPs-1 {
		l.first = append(l.first, v)
		return
	}
	l.last = v
}

// Reset clears r for the next document, keeping its capacity. Values are
// only read under the present mask, so clearing the mask is enough.
func (r *Record) Reset() {
	r.ips.reset()
	r.present = 0
}

// Set stores a string leaf. A repeated key replaces the earlier value, as
// in most JSON decoders (and in Elasticsearch's).
func (r *Record) Set(f Field, v string) {
	r.values[f] = v
	r.present |= 1 << f
}

// Unset removes leaves (a bit mask by Field, see Node.Fields): a
// repeated key whose value is null or of another type, or a repeated object,
// replaces what the earlier one set.
func (r *Record) Unset(mask uint32) {
	r.present &^= mask
	if mask&(1<<SourceIPs) != 0 {
		r.ips.reset()
	}
}

// Has reports whether a leaf was seen, even with an empty value.
func (r *Record) Has(f Field) bool { return r.present&(1<<f) != 0 }

// Get returns a leaf's value ("" when absent).
func (r *Record) Get(f Field) string {
	if r.present&(1<<f) == 0 {
		return ""
	}
	return r.values[f]
}

// StartSourceIPs begins a sourceIPs list; a repeated key replaces the
// earlier list.
func (r *Record) StartSourceIPs() {
	r.ips.reset()
	r.present |= 1 << SourceIPs
}

// AddSourceIP appends one sourceIPs entry.
func (r *Record) AddSourceIP(v string) { r.ips.add(v) }

func (r *Record) setSourceIPs(l *ipList) {
	r.StartSourceIPs()
	r.ips.first = append(r.ips.first, l.first...)
	r.ips.last, r.ips.n = l.last, l.n
}

// IsAuditEvent tells an audit Event from other logs routed to the plugin by
// a loose Match: it must name a verb and carry one of the fields every
// audit Event has.
func (r *Record) IsAuditEvent() bool {
	if !r.Has(Verb) {
		return false
	}
	return r.Has(AuditID) || r.Has(Stage) || r.Get(Kind) == "Event"
}

// Event fills ev from the record. recordTime (Unix nanoseconds, 0 for none)
// is the time Fluent Bit attached to the record, used when the document
// carries no usable timestamp. It reports false when no time is known.
func (r *Record) Event(ev *Event, recordTime int64) bool {
	ev.Reset()
	ev.Time = r.Time(recordTime)
	ev.Verb = r.Get(Verb)
	ev.Resource = r.Get(Resource)
	ev.Name = r.Get(Name)
	ev.Namespace = r.Get(Namespace)
	ev.User = r.Get(User)
	ev.ImpersonatedUser = r.Get(ImpersonatedUser)
	ev.UserAgent = r.Get(UserAgent)
	ev.Decision = r.Get(Decision)
	ev.AuditID = r.Get(AuditID)
	ev.Stage = r.Get(Stage)
	ev.SourceIPs = append(ev.SourceIPs, r.ips.first...)
	if r.ips.n > len(r.ips.first) {
		ev.SourceIPs = append(ev.SourceIPs, r.ips.last)
	}
	ev.SourceIPCount = r.ips.n
	return ev.Time != 0
}

// Time is the event time Event gives (Unix ns): the first usable
// timestamp, else fallback.
func (r *Record) Time(fallback int64) int64 {
	return r.firstTime(fallback, ReceivedAt, StageAt, LegacyTimestamp)
}

// firstTime returns the time of the first of the fields that holds a
// parsable timestamp the engine accepts, else the fallback. A time out of
// that range counts as none, like an unparsable one: whether the next field
// is used must not depend on how far out of range the first one is.
func (r *Record) firstTime(fallback int64, fields ...Field) int64 {
	for _, f := range fields {
		if s := r.Get(f); s != "" {
			if t, ok := r.minute.parseTime(s); ok && t >= MinTime && t <= MaxTime {
				return t
			}
		}
	}
	return fallback
}
