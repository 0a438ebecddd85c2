package audit

// Event is one Kubernetes audit event reduced to the fields the rules read.
//
// Decoders fill it from the bytes they are reading without copying: its
// strings may alias the caller's buffer and are valid only until the call
// that handed the Event over returns. The engine copies what it keeps.
// A missing or empty value is "" (the rule treats both as null).
type Event struct {
	// Time is the event time in Unix nanoseconds: requestReceivedTimestamp,
	// else stageTimestamp, else the legacy timestamp, else the time the
	// record carries.
	Time int64

	Verb             string // event.action
	Resource         string // objectRef.resource
	Name             string // objectRef.name
	Namespace        string // objectRef.namespace
	User             string // user.username: the authenticated caller
	ImpersonatedUser string // impersonatedUser.username, context for the alert
	UserAgent        string
	Decision         string // annotations["authorization.k8s.io/decision"]
	AuditID          string
	Stage            string

	// SourceIPs holds the entries of sourceIPs in order, bounded: the first
	// MaxSourceIPs-1 entries and always the last one. SourceIPCount is the
	// number of entries the event really had.
	SourceIPs     []string
	SourceIPCount int
}

// MaxSourceIPs bounds the sourceIPs entries kept per event: a request can
// carry thousands (an X-Forwarded-For header is client-controlled), but only
// the first, the last and a few for context are ever used.
const MaxSourceIPs = 16

// Reset clears ev for reuse, keeping the SourceIPs capacity.
func (ev *Event) Reset() {
	ips := ev.SourceIPs[:0]
	*ev = Event{SourceIPs: ips}
}
