package detect

import (
	"time"
	"unsafe"
)

// The mapping from an audit.k8s.io Event document onto Event is defined
// once, here, as a tree of keys. Every decoder (JSON lines, Fluent Bit's
// msgpack records) walks its input with these nodes, hands leaf values to a
// Record, and lets Record.Event apply the remaining rules (which timestamp
// wins, what counts as missing). Decoders differ only in how they read
// bytes, never in what they read.

// AuditField names a leaf of the audit document that the rules read.
type AuditField uint8

const (
	noField AuditField = iota
	AuditVerb
	AuditResource
	AuditName
	AuditNamespace
	AuditUser
	AuditImpersonatedUser
	AuditUserAgent
	AuditDecision
	AuditID
	AuditStage
	AuditKind
	AuditReceivedAt
	AuditStageAt
	AuditLegacyTimestamp
	AuditSourceIPs // a list of strings
	AuditItems     // EventList.items: a list of Event objects
	numAuditFields
)

// NodeKind says how a decoder reads the value under a key.
type NodeKind uint8

const (
	// Skip: the value is not read (the zero Node).
	Skip NodeKind = iota
	// String: a string leaf; any other type counts as missing.
	String
	// StringList: an array of strings (a single string is taken as a
	// one-entry list, as Elasticsearch does).
	StringList
	// Object: a nested object whose keys are looked up in Child.
	Object
	// ObjectList: an array of objects, each an audit Event (EventList.items).
	ObjectList
)

// Node is one key of the mapping.
type Node struct {
	Kind     NodeKind
	Field    AuditField
	children map[string]*Node
	// fields is the set of leaves at or under this node (bit per field).
	fields uint32
}

// Child returns the node for key inside an Object node, nil when the key is
// not read.
func (n *Node) Child(key []byte) *Node {
	return n.children[string(key)]
}

// EachChild calls f for each key of an Object node, in no set order: for
// decoders that build their own index of the keys.
func (n *Node) EachChild(f func(key string, child *Node)) {
	for k, c := range n.children {
		f(k, c)
	}
}

// Fields is the set of leaves at or under the node, as a bit mask by
// AuditField: what a repeated key must clear before it is read again.
func (n *Node) Fields() uint32 { return n.fields }

func leaf(field AuditField) *Node {
	return &Node{Kind: String, Field: field, fields: 1 << field}
}

func leafList(field AuditField) *Node {
	return &Node{Kind: StringList, Field: field, fields: 1 << field}
}

func object(keys map[string]*Node) *Node {
	n := &Node{Kind: Object}
	n.setChildren(keys)
	return n
}

func (n *Node) setChildren(keys map[string]*Node) {
	n.children = keys
	for _, c := range keys {
		if c.Kind != ObjectList {
			n.fields |= c.fields
		}
	}
}

// EventSchema is an audit.k8s.io/v1 Event (also v1beta1 and the 2017 shape
// with "timestamp"), restricted to what the rules read.
var EventSchema = object(map[string]*Node{
	"kind":                     leaf(AuditKind),
	"auditID":                  leaf(AuditID),
	"stage":                    leaf(AuditStage),
	"verb":                     leaf(AuditVerb),
	"userAgent":                leaf(AuditUserAgent),
	"requestReceivedTimestamp": leaf(AuditReceivedAt),
	"stageTimestamp":           leaf(AuditStageAt),
	"timestamp":                leaf(AuditLegacyTimestamp),
	"sourceIPs":                leafList(AuditSourceIPs),
	"user":                     object(map[string]*Node{"username": leaf(AuditUser)}),
	"impersonatedUser":         object(map[string]*Node{"username": leaf(AuditImpersonatedUser)}),
	"objectRef": object(map[string]*Node{
		"resource":  leaf(AuditResource),
		"namespace": leaf(AuditNamespace),
		"name":      leaf(AuditName),
	}),
	"annotations": object(map[string]*Node{"authorization.k8s.io/decision": leaf(AuditDecision)}),
})

// BodySchema is what a decoder expects at the top of a document: an Event,
// or an EventList (what the API server's audit webhook posts) whose items
// are Events.
var BodySchema = func() *Node {
	keys := make(map[string]*Node, len(EventSchema.children)+1)
	for k, v := range EventSchema.children {
		keys[k] = v
	}
	items := &Node{Kind: ObjectList, Field: AuditItems}
	items.setChildren(EventSchema.children)
	keys["items"] = items
	return object(keys)
}()

// Record collects the leaves of one audit document while a decoder walks
// it. Values are borrowed from the decoder's buffer.
type Record struct {
	values  [numAuditFields]string
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
func (r *Record) Set(f AuditField, v string) {
	r.values[f] = v
	r.present |= 1 << f
}

// Unset removes leaves (a bit mask by AuditField, see Node.Fields): a
// repeated key whose value is null or of another type, or a repeated object,
// replaces what the earlier one set.
func (r *Record) Unset(mask uint32) {
	r.present &^= mask
	if mask&(1<<AuditSourceIPs) != 0 {
		r.ips.reset()
	}
}

// Has reports whether a leaf was seen, even with an empty value.
func (r *Record) Has(f AuditField) bool { return r.present&(1<<f) != 0 }

// Get returns a leaf's value ("" when absent).
func (r *Record) Get(f AuditField) string {
	if r.present&(1<<f) == 0 {
		return ""
	}
	return r.values[f]
}

// StartSourceIPs begins a sourceIPs list; a repeated key replaces the
// earlier list.
func (r *Record) StartSourceIPs() {
	r.ips.reset()
	r.present |= 1 << AuditSourceIPs
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
	if !r.Has(AuditVerb) {
		return false
	}
	return r.Has(AuditID) || r.Has(AuditStage) || r.Get(AuditKind) == "Event"
}

// Event fills ev from the record. recordTime (Unix nanoseconds, 0 for none)
// is the time Fluent Bit attached to the record, used when the document
// carries no usable timestamp. It reports false when no time is known.
func (r *Record) Event(ev *Event, recordTime int64) bool {
	ev.Reset()
	ev.Time = r.firstTime(recordTime, AuditReceivedAt, AuditStageAt, AuditLegacyTimestamp)
	ev.Verb = r.Get(AuditVerb)
	ev.Resource = r.Get(AuditResource)
	ev.Name = r.Get(AuditName)
	ev.Namespace = r.Get(AuditNamespace)
	ev.User = r.Get(AuditUser)
	ev.ImpersonatedUser = r.Get(AuditImpersonatedUser)
	ev.UserAgent = r.Get(AuditUserAgent)
	ev.Decision = r.Get(AuditDecision)
	ev.AuditID = r.Get(AuditID)
	ev.Stage = r.Get(AuditStage)
	ev.SourceIPs = append(ev.SourceIPs, r.ips.first...)
	if r.ips.n > len(r.ips.first) {
		ev.SourceIPs = append(ev.SourceIPs, r.ips.last)
	}
	ev.SourceIPCount = r.ips.n
	return ev.Time != 0
}

// firstTime returns the time of the first of the fields that holds a
// parsable timestamp the engine accepts, else the fallback. A time out of
// that range counts as none, like an unparsable one: whether the next field
// is used must not depend on how far out of range the first one is.
func (r *Record) firstTime(fallback int64, fields ...AuditField) int64 {
	for _, f := range fields {
		if s := r.Get(f); s != "" {
			if t, ok := r.minute.parseTime(s); ok && t >= minEventTime && t <= maxEventTime {
				return t
			}
		}
	}
	return fallback
}

// ParseTime reads an RFC 3339 timestamp (the API server writes
// microseconds and "Z") as Unix nanoseconds.
func ParseTime(s string) (int64, bool) {
	if ns, ok := parseUTC(s); ok {
		return ns, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	// Years outside 1678..2262 do not fit int64 nanoseconds; such an event
	// time is meaningless for a real-time detector.
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}

// borrow views b as a string without copying. The string is valid only as
// long as b is neither modified nor released: the contract of Event.
func borrow(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Borrow is borrow for decoders outside this package.
func Borrow(b []byte) string { return borrow(b) }

// parseUTC reads the one layout the API server writes,
// 2006-01-02T15:04:05.999999999Z, without time.Parse's generality (every
// audit event pays for its timestamp). Anything else, including values
// time.Parse would reject, goes to time.Parse; a fuzz test holds the two
// to the same answers.
func parseUTC(s string) (int64, bool) {
	if len(s) < 20 || len(s) > 30 {
		return 0, false
	}
	minute, ok := parseMinute(s[:16])
	if !ok {
		return 0, false
	}
	within, ok := parseWithinMinute(s[16:])
	return minute + within, ok
}

// parseMinute reads "2006-01-02T15:04" as Unix nanoseconds.
func parseMinute(s string) (int64, bool) {
	if len(s) != 16 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	min, ok5 := digits(s[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || year < 1678 || year > 2261 || month < 1 || month > 12 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || min > 59 {
		return 0, false
	}
	days := daysFromCivil(year, month, day)
	return ((days*24+int64(hour))*60 + int64(min)) * 60 * 1e9, true
}

// parseWithinMinute reads ":05.999999999Z" (the fraction optional, 1 to 9
// digits) as nanoseconds.
func parseWithinMinute(s string) (int64, bool) {
	if len(s) < 4 || s[0] != ':' || s[len(s)-1] != 'Z' {
		return 0, false
	}
	sec, ok := digits(s[1:3])
	if !ok || sec > 59 {
		return 0, false
	}
	var frac int64
	rest := s[3 : len(s)-1]
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		f, ok := digits(rest[1:])
		if !ok {
			return 0, false
		}
		frac = int64(f)
		for i := len(rest) - 1; i < 9; i++ {
			frac *= 10
		}
	}
	return int64(sec)*1e9 + frac, true
}

// minuteCache remembers the minute of the last timestamp read: the API
// server stamps consecutive events within the same minute, so the calendar
// arithmetic is done about once a minute instead of once per event.
type minuteCache struct {
	prefix [16]byte // "2006-01-02T15:04"
	ns     int64
	set    bool // an empty cache matches nothing, not 16 NUL bytes
}

// parseTime is ParseTime with the cache.
func (c *minuteCache) parseTime(s string) (int64, bool) {
	if len(s) >= 20 && len(s) <= 30 {
		if c.set && s[:16] == string(c.prefix[:]) {
			if within, ok := parseWithinMinute(s[16:]); ok {
				return c.ns + within, true
			}
		} else if minute, ok := parseMinute(s[:16]); ok {
			if within, ok := parseWithinMinute(s[16:]); ok {
				copy(c.prefix[:], s)
				c.ns, c.set = minute, true
				return minute + within, true
			}
		}
	}
	return ParseTime(s)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int(c)
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
