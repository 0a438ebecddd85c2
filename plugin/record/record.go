package record

import (
	"errors"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// Options configures a Decoder.
type Options struct {
	// RecordKey is the body key whose string value is read as an audit JSON
	// line when the body map is not itself an audit event. Default "log".
	RecordKey string
	// Prefilter reads a RecordKey string with
	// audit.JSONParser.ParsePrefiltered instead of Parse: an event that
	// cannot match (its verb is not get, or its bytes hold neither
	// `secrets` nor `\u`) keeps only its time and what tells an audit
	// event, with the same counts and the same events for the rule. Off by
	// default: it measured no cheaper (BENCHMARKS.md, "A necessary-bytes
	// prefilter").
	Prefilter bool
}

// DefaultRecordKey is the RecordKey used when Options leaves it empty.
const DefaultRecordKey = "log"

// Counts says what a Decode call (or several, summed with Add) found.
// Every record read is counted once in Records and once in exactly one of
// AuditRecords, GroupMarkers, NotAudit, Malformed and Truncated. Events and
// NoTime count events, not records: an EventList record holds many.
type Counts struct {
	Records      uint64 // records read, including the skipped ones
	Events       uint64 // audit events emitted
	AuditRecords uint64 // records holding an audit Event, an EventList or an audit JSON line
	GroupMarkers uint64 // group start/end records (Fluent Bit >= 3.1), skipped
	NotAudit     uint64 // well-formed records that are not audit logs, skipped
	Malformed    uint64 // corrupt records, skipped; the records after them are read
	Truncated    uint64 // a record whose end cannot be found: decoding stopped there
	NoTime       uint64 // audit events with no time at all, not emitted
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Records += o.Records
	c.Events += o.Events
	c.AuditRecords += o.AuditRecords
	c.GroupMarkers += o.GroupMarkers
	c.NotAudit += o.NotAudit
	c.Malformed += o.Malformed
	c.Truncated += o.Truncated
	c.NoTime += o.NoTime
}

// maxDepth bounds the nesting of a record body (the body map is depth 1),
// as audit.JSONParser (and encoding/json) bound a JSON document: a body
// nested deeper is malformed.
const maxDepth = 10000

// maxPending bounds the EventList items held back until their record is
// known to be complete (the API server batches at most 400 by default).
// Past it, the rest of the record is checked first and the items are then
// emitted as they are read.
const maxPending = 1024

// Sentinel errors: the failure paths allocate nothing either.
var (
	errShape = errors.New("not a Fluent Bit record")
	errDepth = errors.New("nested too deep")
)

// Decoder decodes flush payloads. It keeps its buffers from one call to the
// next, so that decoding allocates nothing once warm. It is not safe for
// concurrent use: keep one per flushing goroutine.
type Decoder struct {
	recordKey string
	// recordKeyInSchema: the RecordKey is also a key the body schema
	// reads, so it must be looked for among those too.
	recordKeyInSchema bool
	prefilter         bool

	emit    func(*audit.Event) // the caller's, during Decode
	counts  Counts             // of the current Decode
	time    int64              // the current record's time, Unix ns, 0 for none
	body    audit.Record       // the body map's leaves
	pending []audit.Record     // EventList items held back; reused
	ev      audit.Event        // handed to emit
	stack   []uint32           // skipValue's pending counts, one per open container
	json    *audit.JSONParser  // for RecordKey strings, made on first use
	onJSON  func(*audit.Event) // d.emitJSON, bound once
	ext     eventTime

	// Per record.
	sawItems bool   // the body has an "items" key (EventList)
	checked  bool   // the rest of the record is known to be complete: emit items at once
	npending int    // items in pending
	logLine  []byte // the RecordKey string; nil: none
	hasLog   bool
}

// NewDecoder returns a Decoder.
func NewDecoder(opts Options) *Decoder {
	d := &Decoder{recordKey: opts.RecordKey, prefilter: opts.Prefilter, stack: make([]uint32, 0, 32)}
	if d.recordKey == "" {
		d.recordKey = DefaultRecordKey
	}
	d.recordKeyInSchema = audit.BodySchema.Child([]byte(d.recordKey)) != nil
	d.onJSON = d.emitJSON
	return d
}

// Decode reads one flush payload and calls emit for each audit event, in
// payload order. The *audit.Event and its strings are valid only during
// the call to emit: they alias chunk, which Decode neither copies nor keeps.
// emit is held only during the call; pass a func value made once (not a
// new closure per call) to keep Decode free of allocations. A nil emit
// only counts.
func (d *Decoder) Decode(chunk []byte, emit func(*audit.Event)) Counts {
	if emit == nil {
		emit = discard
	}
	d.emit, d.counts = emit, Counts{}
	for b := chunk; len(b) > 0; {
		d.counts.Records++
		rest, err := d.record(b)
		if err != nil {
			var deep bool
			if rest, deep, err = d.skipValue(b, 0); err != nil {
				d.counts.Truncated++
				break
			}
			_ = deep
			d.counts.Malformed++
		}
		b = rest
	}
	d.emit = nil
	return d.counts
}

func discard(*audit.Event) {}

// record reads the record at the start of b and returns what follows it.
// It counts the record's outcome only when it returns no error; the caller
// counts the failures.
func (d *Decoder) record(b []byte) ([]byte, error) {
	body, ok := d.v2Header(b)
	if !ok {
		var marker bool
		var err error
		if body, marker, err = d.header(b); err != nil || marker {
			return body, err
		}
	}
	return d.readBody(body)
}
