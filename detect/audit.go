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
}

// Child returns the node for key inside an Object node, nil when the key is
// not read. The []byte to string conversion in the map index does not
// allocate.
func (n *Node) Child(key []byte) *Node {
	return n.children[string(key)]
}

// ChildString is Child for a key already held as a string.
func (n *Node) ChildString(key string) *Node {
	return n.children[key]
}

func leaf(field AuditField) *Node     { return &Node{Kind: String, Field: field} }
func leafList(field AuditField) *Node { return &Node{Kind: StringList, Field: field} }
func object(keys map[string]*Node) *Node {
	return &Node{Kind: Object, children: keys}
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
	keys["items"] = &Node{Kind: ObjectList, Field: AuditItems, children: EventSchema.children}
	return object(keys)
}()

// Record collects the leaves of one audit document while a decoder walks
// it. Values are borrowed from the decoder's buffer.
type Record struct {
	values  [numAuditFields]string
	ips     ipList
	present uint32
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

// Reset clears r for the next document, keeping its capacity.
func (r *Record) Reset() {
	r.values = [numAuditFields]string{}
	r.ips.reset()
	r.present = 0
}

// Set stores a string leaf. A repeated key replaces the earlier value, as
// in most JSON decoders (and in Elasticsearch's).
func (r *Record) Set(f AuditField, v string) {
	r.values[f] = v
	r.present |= 1 << f
}

// Has reports whether a leaf was seen, even with an empty value.
func (r *Record) Has(f AuditField) bool { return r.present&(1<<f) != 0 }

// Get returns a leaf's value ("" when absent).
func (r *Record) Get(f AuditField) string { return r.values[f] }

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
	return r.Has(AuditID) || r.Has(AuditStage) || r.values[AuditKind] == "Event"
}

// Event fills ev from the record. recordTime (Unix nanoseconds, 0 for none)
// is the time Fluent Bit attached to the record, used when the document
// carries no usable timestamp. It reports false when no time is known.
func (r *Record) Event(ev *Event, recordTime int64) bool {
	ev.Reset()
	ev.Time = firstTime(recordTime,
		r.values[AuditReceivedAt], r.values[AuditStageAt], r.values[AuditLegacyTimestamp])
	ev.Verb = r.values[AuditVerb]
	ev.Resource = r.values[AuditResource]
	ev.Name = r.values[AuditName]
	ev.Namespace = r.values[AuditNamespace]
	ev.User = r.values[AuditUser]
	ev.ImpersonatedUser = r.values[AuditImpersonatedUser]
	ev.UserAgent = r.values[AuditUserAgent]
	ev.Decision = r.values[AuditDecision]
	ev.AuditID = r.values[AuditID]
	ev.Stage = r.values[AuditStage]
	ev.SourceIPs = append(ev.SourceIPs, r.ips.first...)
	if r.ips.n > len(r.ips.first) {
		ev.SourceIPs = append(ev.SourceIPs, r.ips.last)
	}
	ev.SourceIPCount = r.ips.n
	return ev.Time != 0
}

// firstTime returns the first parsable timestamp, else the fallback.
func firstTime(fallback int64, candidates ...string) int64 {
	for _, s := range candidates {
		if s == "" {
			continue
		}
		if t, ok := ParseTime(s); ok {
			return t
		}
	}
	return fallback
}

// ParseTime reads an RFC 3339 timestamp (the API server writes
// microseconds and "Z") as Unix nanoseconds.
func ParseTime(s string) (int64, bool) {
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
