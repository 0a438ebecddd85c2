// Package record decodes the payload that Fluent Bit hands a Go output
// plugin's flush callback into audit events, without copying it.
//
// A payload is msgpack records back to back, with no outer array:
//
//	Fluent Bit >= 2.1: [[timestamp, metadata], body]
//	older:             [timestamp, body]
//
// The timestamp is an EventTime (ext type 0, 8 bytes: uint32 BE seconds,
// uint32 BE nanoseconds, as fixext8 or ext8), or seconds as an integer or a
// float. Since Fluent Bit 3.1 records whose timestamp seconds are
// 0xFFFFFFFF / 0xFFFFFFFE (int32 -1 / -2) open and close a group; they carry
// no log and are skipped (flb_log_event.h, flb_log_event_decoder.c).
//
// The body is read in one pass with the mapping shared with the JSON
// decoder (detect.BodySchema), in one of three shapes:
//
//  1. the audit Event itself (tail input with a json parser): the map's
//     leaves are the Event's;
//  2. a string holding the audit JSON line under Options.RecordKey ("log":
//     tail input without a parser), used only when the map itself is not an
//     audit Event; it is read by detect.JSONParser;
//  3. an audit.k8s.io EventList with "items" (the API server's audit webhook
//     posting to the http input): one event per item.
//
// Policy for everything else (see Counts):
//   - a body of none of these shapes is counted NotAudit; a RecordKey string
//     that is not JSON, or is JSON of another kind, is NotAudit too (it is a
//     plain log line that a loose Match routed here); a RecordKey string
//     that starts like a JSON object but does not parse is Malformed;
//   - a record that is not well-formed msgpack, is not [header, map], has a
//     header array that is not [timestamp, metadata], or whose body nests
//     deeper than 10000 levels is Malformed, and decoding goes on after it
//     when its end can still be found (any complete msgpack value has one);
//     when it cannot (the payload ends inside it, or an invalid byte hides
//     its end) the record is counted Truncated and decoding stops there;
//   - a timestamp of another type (string, nil, an ext that is not type 0
//     of 8 bytes, a negative or overflowing number) is taken as no record
//     time, not as a malformed record: the audit document carries its own;
//   - a value of the wrong type for a leaf (a number for verb, a string for
//     user, ...) counts as missing; non-string keys are skipped;
//   - an event with no time at all (no parsable timestamp in the document
//     and no record time) is counted NoTime and not emitted.
//
// A record emits its events only when it is complete and well-formed: the
// body's own event after the whole body is read, an EventList's items once
// the record is known to be complete (the first 1024 are held back until
// then; past that, the rest of the record is checked before any is
// emitted). So a Malformed or Truncated record emits nothing, except what
// detect.JSONParser emits from an EventList in a RecordKey string before a
// JSON syntax error, which it does not take back.
//
// Repeated keys follow detect.JSONParser: the last one wins, wholesale (a
// later null unsets a leaf, a repeated object replaces every leaf of the
// earlier one), so both decoders give the same Events for a document.
//
// Zero-copy: Event strings alias the payload. Nothing is allocated per
// record once a Decoder is warm, except by detect.JSONParser for a
// RecordKey string that is broken JSON (json-iterator's error).
//
// Reading is split in two (see fast.go): the few encodings that make up
// nearly every byte of an audit record (the Fluent Bit >= 2.1 header with
// an EventTime, fixmap/fixarray, fixstr/str8, fixed-size scalars) are read
// inline by index, and everything else, including every malformed byte, by
// github.com/tinylib/msgp's zero-copy readers (Read*Bytes, NextType, Skip).
// A test holds the inline readers to msgp for every lead byte, and a fuzz
// target holds the decoder to the JSON decoder with the encodings mixed.
// Keys are looked up in keyIndex, a per-node table laid out for the walk.
// Values the rule does not read are skipped by skipValue, with an explicit
// stack instead of msgp.Skip's recursion, so that nesting is bounded like
// the JSON decoder's and a hostile record costs one record, not the rest
// of the chunk.
package record

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/tinylib/msgp/msgp"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
)

// Options configures a Decoder.
type Options struct {
	// RecordKey is the body key whose string value is read as an audit JSON
	// line when the body map is not itself an audit event. Default "log".
	RecordKey string
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
// as json-iterator bounds a JSON document: a body nested deeper is
// malformed.
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

	emit    func(*detect.Event) // the caller's, during Decode
	counts  Counts              // of the current Decode
	time    int64               // the current record's time, Unix ns, 0 for none
	body    detect.Record       // the body map's leaves
	pending []detect.Record     // EventList items held back; reused
	ev      detect.Event        // handed to emit
	stack   []uint32            // skipValue's pending counts, one per open container
	json    *detect.JSONParser  // for RecordKey strings, made on first use
	onJSON  func(*detect.Event) // d.emitJSON, bound once
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
	d := &Decoder{recordKey: opts.RecordKey, stack: make([]uint32, 0, 32)}
	if d.recordKey == "" {
		d.recordKey = DefaultRecordKey
	}
	d.recordKeyInSchema = detect.BodySchema.Child([]byte(d.recordKey)) != nil
	d.onJSON = d.emitJSON
	return d
}

// Decode reads one flush payload and calls emit for each audit event, in
// payload order. The *detect.Event and its strings are valid only during
// the call to emit: they alias chunk, which Decode neither copies nor keeps.
// emit is held only during the call; pass a func value made once (not a
// new closure per call) to keep Decode free of allocations. A nil emit
// only counts.
func (d *Decoder) Decode(chunk []byte, emit func(*detect.Event)) Counts {
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

func discard(*detect.Event) {}

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

// v2Header reads, without a call, the header every Fluent Bit >= 2.1
// record starts with: [[EventTime as fixext8, {} or a small map], and
// returns what follows (the body). ok is false for anything else, which
// header reads.
func (d *Decoder) v2Header(b []byte) (body []byte, ok bool) {
	// 0x92 0x92 0xd7 0x00 <sec:4> <nsec:4> <metadata>
	if len(b) < 14 || b[0] != 0x92 || b[1] != 0x92 || b[2] != 0xd7 || b[3] != 0 {
		return b, false
	}
	sec, nsec := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	if sec >= 0xFFFFFFFE { // a group marker
		return b, false
	}
	if b[12] == leadFixmap { // empty metadata, as almost always
		d.time = int64(sec)*1e9 + int64(nsec)
		return b[13:], true
	}
	rest, err := d.skip(b[12:], 2)
	if err != nil {
		return b, false
	}
	d.time = int64(sec)*1e9 + int64(nsec)
	return rest, true
}

// header reads a record's [[timestamp, metadata], or [timestamp, and
// returns what follows it. A group marker record is skipped whole and
// counted: marker is then true and rest is what follows the record.
func (d *Decoder) header(b []byte) (rest []byte, marker bool, err error) {
	if msgp.NextType(b) != msgp.ArrayType {
		return b, false, errShape
	}
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return b, false, err
	}
	if n != 2 {
		return b, false, errShape
	}

	// [[timestamp, metadata], body] or [timestamp, body].
	if msgp.NextType(b) == msgp.ArrayType {
		if n, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			return b, false, err
		}
		if n != 2 {
			return b, false, errShape
		}
		if d.time, marker, b, err = d.timestamp(b); err != nil {
			return b, false, err
		}
		if marker {
			b, err = d.skipMarker(b, 2)
			return b, true, err
		}
		// The metadata (a map in every Fluent Bit version) is not read.
		if b, err = d.skip(b, 2); err != nil {
			return b, false, err
		}
	} else {
		if d.time, marker, b, err = d.timestamp(b); err != nil {
			return b, false, err
		}
		if marker {
			b, err = d.skipMarker(b, 1)
			return b, true, err
		}
	}
	return b, false, nil
}

// readBody reads a record's body and returns what follows it.
func (d *Decoder) readBody(b []byte) ([]byte, error) {
	var n uint32
	var err error
	if m, ok := fixmapLen(b); ok {
		n, b = m, b[1:]
	} else {
		if msgp.NextType(b) != msgp.MapType {
			return b, errShape
		}
		if n, b, err = msgp.ReadMapHeaderBytes(b); err != nil {
			return b, err
		}
	}
	d.body.Reset()
	d.sawItems, d.checked, d.hasLog, d.logLine, d.npending = false, false, false, nil, 0
	if b, err = d.walk(b, n, bodyIndex, &d.body, 1, true); err != nil {
		return b, err
	}
	d.flushPending()

	switch {
	case d.body.IsAuditEvent():
		d.counts.AuditRecords++
		d.emitRecord(&d.body)
	case d.sawItems:
		d.counts.AuditRecords++
	case d.hasLog:
		d.parseLine(d.logLine)
	default:
		d.counts.NotAudit++
	}
	return b, nil
}

// skipMarker skips the rest of a group marker record: count values (the
// metadata and the body, or the body) whose content does not matter.
func (d *Decoder) skipMarker(b []byte, count int) ([]byte, error) {
	for ; count > 0; count-- {
		var err error
		if b, _, err = d.skipValue(b, 0); err != nil {
			return b, err
		}
	}
	d.counts.GroupMarkers++
	return b, nil
}

// eventTime is Fluent Bit's EventTime, msgpack extension type 0: 4 bytes
// of seconds and 4 of nanoseconds, big-endian.
type eventTime struct {
	sec, nsec uint32
	ok        bool
}

func (*eventTime) ExtensionType() int8 { return 0 }
func (*eventTime) Len() int            { return 8 }
func (e *eventTime) MarshalBinaryTo(b []byte) error {
	binary.BigEndian.PutUint32(b, e.sec)
	binary.BigEndian.PutUint32(b[4:], e.nsec)
	return nil
}
func (e *eventTime) UnmarshalBinary(b []byte) error {
	e.ok = len(b) == 8
	if e.ok {
		e.sec, e.nsec = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	}
	return nil
}

// maxSeconds keeps seconds*1e9 + nanoseconds (< 2^32) within int64.
const maxSeconds = (math.MaxInt64 - math.MaxUint32) / 1_000_000_000

// timestamp reads a record timestamp: the time in Unix ns (0 when it is
// not a valid time) and whether it marks a group start or end (seconds
// 0xFFFFFFFF or 0xFFFFFFFE, -1 or -2 read as a signed 32-bit value).
func (d *Decoder) timestamp(b []byte) (t int64, marker bool, rest []byte, err error) {
	var sec, nsec int64
	switch msgp.NextType(b) {
	case msgp.ExtensionType:
		d.ext.ok = false
		if rest, err = msgp.ReadExtensionBytes(b, &d.ext); err != nil {
			// Another extension type: no record time, the value skipped.
			rest, _, err = d.skipValue(b, 1)
			return 0, false, rest, err
		}
		if !d.ext.ok {
			return 0, false, rest, nil
		}
		sec, nsec = int64(d.ext.sec), int64(d.ext.nsec)
	case msgp.UintType:
		var u uint64
		if u, rest, err = msgp.ReadUint64Bytes(b); err != nil {
			return 0, false, b, err
		}
		if u > math.MaxInt64 {
			return 0, false, rest, nil
		}
		sec = int64(u)
	case msgp.IntType:
		if sec, rest, err = msgp.ReadInt64Bytes(b); err != nil {
			return 0, false, b, err
		}
	case msgp.Float64Type, msgp.Float32Type:
		var f float64
		if f, rest, err = msgp.ReadFloat64Bytes(b); err != nil {
			return 0, false, b, err
		}
		switch {
		case f == -1 || f == -2:
			sec = int64(f)
		case f >= 0 && f < maxSeconds: // false for NaN
			whole := math.Trunc(f)
			sec, nsec = int64(whole), int64((f-whole)*1e9)
		default:
			return 0, false, rest, nil
		}
	default:
		// Not a time: skipped, the record has no time of its own.
		rest, _, err = d.skipValue(b, 1)
		return 0, false, rest, err
	}
	switch sec {
	case -1, -2, 0xFFFFFFFF, 0xFFFFFFFE:
		return 0, true, rest, nil
	}
	if sec < 0 || sec > maxSeconds {
		return 0, false, rest, nil
	}
	return sec*1e9 + nsec, false, rest, nil
}

// readKey reads a map key: a str or a bin; ok is false for any other type
// (the entry is then skipped). Keys are strings in every Fluent Bit
// record, so the str reader is tried first without asking the type.
func readKey(b []byte) (key, rest []byte, ok bool, err error) {
	key, rest, err = msgp.ReadMapKeyZC(b)
	if err == nil {
		return key, rest, true, nil
	}
	if len(b) == 0 || errors.Is(err, msgp.ErrShortBytes) {
		return nil, b, false, err
	}
	switch msgp.NextType(b) {
	case msgp.StrType, msgp.BinType, msgp.InvalidType:
		return nil, b, false, err
	}
	return nil, b, false, nil
}

// readString reads a str or bin value; ok is false for another type, which
// is then skipped.
func (d *Decoder) readString(b []byte, depth int) (s string, rest []byte, ok bool, err error) {
	if v, rest, ok := fastStr(b); ok {
		return detect.Borrow(v), rest, true, nil
	}
	// A leaf is a str in every audit record: try that first, ask the type
	// only when it is not.
	v, rest, err := msgp.ReadStringZC(b)
	if err == nil {
		return detect.Borrow(v), rest, true, nil
	}
	switch msgp.NextType(b) {
	case msgp.StrType:
		v, rest, err = msgp.ReadStringZC(b)
	case msgp.BinType:
		v, rest, err = msgp.ReadBytesZC(b)
	default:
		rest, err = d.skip(b, depth)
		return "", rest, false, err
	}
	if err != nil {
		return "", b, false, err
	}
	return detect.Borrow(v), rest, true, nil
}

// walk reads the n entries of a map (at depth) with node's keys, handing
// the leaves to rec. In the body map (top) the RecordKey string and
// EventList items are looked for too. A repeated key replaces what the
// earlier one set, as in the JSON decoder.
func (d *Decoder) walk(b []byte, n uint32, idx *keyIndex, rec *detect.Record, depth int, top bool) ([]byte, error) {
	// The encodings nearly every audit record is made of (fixstr keys,
	// fixstr/str8 values, fixmap objects, fixed-size scalars) are read
	// here by index, without a call to msgp; entry, value and skip take
	// the rest.
	p := 0
	for ; n > 0; n-- {
		if p+1 < len(b) && b[p]&0xe0 == leadFixstr {
			v := p + 1 + int(b[p]&0x1f) // the value's lead byte
			if v < len(b) {
				key := b[p+1 : v]
				slot := idx.find(key)
				if top && (slot == nil || d.recordKeyInSchema) && string(key) == d.recordKey {
					d.setLogLine(b[v:])
				}
				c := b[v]
				switch {
				case slot == nil:
					if size := int(scalarSize[c]); size != 0 && v+size <= len(b) {
						p = v + size
						continue
					}
					if c == leadStr8 && v+1 < len(b) {
						if end := v + 2 + int(b[v+1]); end <= len(b) {
							p = end
							continue
						}
					}
				case slot.child.Kind == detect.String:
					start, end := v+1, v+1+int(c&0x1f)
					if c == leadStr8 && v+1 < len(b) {
						start, end = v+2, v+2+int(b[v+1])
					} else if c&0xe0 != leadFixstr {
						end = len(b) + 1
					}
					if end <= len(b) {
						rec.Set(slot.child.Field, detect.Borrow(b[start:end]))
						p = end
						continue
					}
				case slot.child.Kind == detect.Object && c&0xf0 == leadFixmap && depth < maxDepth:
					rec.Unset(slot.child.Fields())
					rest, err := d.walk(b[v+1:], uint32(c&0x0f), slot.index, rec, depth+1, false)
					if err != nil {
						return rest, err
					}
					p = len(b) - len(rest)
					continue
				}
				var rest []byte
				var err error
				if slot == nil {
					rest, err = d.skip(b[v:], depth)
				} else {
					rest, err = d.value(b[v:], slot, rec, depth, top, n-1)
				}
				if err != nil {
					return rest, err
				}
				p = len(b) - len(rest)
				continue
			}
		}
		rest, err := d.entry(b[p:], idx, rec, depth, top, n-1)
		if err != nil {
			return rest, err
		}
		p = len(b) - len(rest)
	}
	return b[p:], nil
}

// entry reads one map entry that walk does not read inline: a key that is
// not a fixstr (str8 and longer, bin, or another type, whose entry is
// skipped), an entry at the very end of the payload, or bytes that are not
// msgpack.
func (d *Decoder) entry(b []byte, idx *keyIndex, rec *detect.Record, depth int, top bool, left uint32) ([]byte, error) {
	key, rest, ok := fastStr(b)
	var err error
	if !ok {
		key, rest, ok, err = readKey(b)
	}
	if err != nil {
		return b, err
	}
	if !ok {
		if b, _, err = d.skipValue(b, depth); err != nil {
			return b, err
		}
		return d.skip(b, depth)
	}
	b = rest
	if top && string(key) == d.recordKey {
		d.setLogLine(b)
	}
	if slot := idx.find(key); slot != nil {
		return d.value(b, slot, rec, depth, top, left)
	}
	return d.skip(b, depth)
}

// setLogLine notes the value of the RecordKey entry at the start of b: the
// last one wins, as for every key.
func (d *Decoder) setLogLine(b []byte) {
	d.hasLog = false
	switch msgp.NextType(b) {
	case msgp.StrType:
		d.logLine, _, _ = msgp.ReadStringZC(b)
		d.hasLog = true
	case msgp.BinType:
		d.logLine, _, _ = msgp.ReadBytesZC(b)
		d.hasLog = true
	}
}

// value reads the value for child, a key of a map at depth (with left
// entries after this one). A value of another type than child expects
// counts as missing: like a repeated key, it replaces what an earlier one
// set.
func (d *Decoder) value(b []byte, slot *keySlot, rec *detect.Record, depth int, top bool, left uint32) ([]byte, error) {
	child := slot.child
	switch child.Kind {
	case detect.String:
		s, rest, ok, err := d.readString(b, depth)
		if err != nil {
			return b, err
		}
		if ok {
			rec.Set(child.Field, s)
		} else {
			rec.Unset(child.Fields())
		}
		return rest, nil
	case detect.StringList:
		rec.StartSourceIPs()
		if m, ok := fixarrayLen(b); ok && depth < maxDepth {
			return d.stringList(b[1:], m, rec, depth+1)
		}
		switch msgp.NextType(b) {
		case msgp.StrType, msgp.BinType:
			s, rest, _, err := d.readString(b, depth)
			if err == nil {
				rec.AddSourceIP(s)
			}
			return rest, err
		case msgp.ArrayType:
			m, rest, err := msgp.ReadArrayHeaderBytes(b)
			if err != nil {
				return b, err
			}
			return d.stringList(rest, m, rec, depth+1)
		}
	case detect.Object:
		rec.Unset(child.Fields())
		if m, ok := fixmapLen(b); ok && depth < maxDepth {
			return d.walk(b[1:], m, slot.index, rec, depth+1, false)
		}
		if msgp.NextType(b) == msgp.MapType {
			if depth >= maxDepth {
				return b, errDepth
			}
			m, rest, err := msgp.ReadMapHeaderBytes(b)
			if err != nil {
				return b, err
			}
			return d.walk(rest, m, slot.index, rec, depth+1, false)
		}
	case detect.ObjectList:
		if !top {
			break
		}
		d.sawItems = true
		if msgp.NextType(b) == msgp.ArrayType {
			m, rest, err := msgp.ReadArrayHeaderBytes(b)
			if err != nil {
				return b, err
			}
			return d.items(rest, m, slot.index, depth+1, left)
		}
	}
	return d.skip(b, depth)
}

// stringList reads the n elements of a sourceIPs array (at depth);
// elements that are not strings are skipped.
func (d *Decoder) stringList(b []byte, n uint32, rec *detect.Record, depth int) ([]byte, error) {
	if depth > maxDepth {
		return b, errDepth
	}
	for ; n > 0; n-- {
		s, rest, ok, err := d.readString(b, depth)
		if err != nil {
			return b, err
		}
		if ok {
			rec.AddSourceIP(s)
		}
		b = rest
	}
	return b, nil
}

// items reads the n elements of an EventList's items array (at depth);
// after it, the body map has bodyLeft more entries. The audit events among
// the items are held in d.pending and emitted when the record is complete,
// so that a corrupt record emits nothing.
func (d *Decoder) items(b []byte, n uint32, idx *keyIndex, depth int, bodyLeft uint32) ([]byte, error) {
	if depth > maxDepth {
		return b, errDepth
	}
	for ; n > 0; n-- {
		if msgp.NextType(b) != msgp.MapType {
			var err error
			if b, err = d.skip(b, depth); err != nil {
				return b, err
			}
			continue
		}
		if depth >= maxDepth {
			return b, errDepth
		}
		m, rest, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return b, err
		}
		if d.npending == len(d.pending) {
			d.pending = append(d.pending, detect.Record{})
		}
		rec := &d.pending[d.npending]
		rec.Reset()
		if b, err = d.walk(rest, m, idx, rec, depth+1, false); err != nil {
			return b, err
		}
		if !rec.IsAuditEvent() {
			continue
		}
		if d.checked {
			d.emitRecord(rec)
			continue
		}
		d.npending++
		if d.npending == maxPending {
			// Check the rest of the record: the items left in this list,
			// then the body's entries after it.
			q := b
			for i := uint32(1); i < n && err == nil; i++ {
				q, err = d.skip(q, depth)
			}
			for i := uint32(0); i < 2*bodyLeft && err == nil; i++ {
				q, err = d.skip(q, depth-1)
			}
			if err != nil {
				return b, err
			}
			d.checked = true
			d.flushPending()
		}
	}
	return b, nil
}

// skip skips one value inside a container at depth, failing when the value
// nests deeper than maxDepth.
func (d *Decoder) skip(b []byte, depth int) ([]byte, error) {
	if rest, ok := skipScalar(b); ok {
		return rest, nil
	}
	switch msgp.NextType(b) {
	case msgp.ArrayType, msgp.MapType:
	default:
		return msgp.Skip(b)
	}
	rest, deep, err := d.skipValue(b, depth)
	if err != nil {
		return b, err
	}
	if deep {
		return b, errDepth
	}
	return rest, nil
}

// skipValue skips one complete value inside a container at depth, with an
// explicit stack: the stack does not grow with the nesting, and the end of
// any complete value is found however deep it nests (deep reports whether
// it nests past maxDepth). Scalars, strings, binaries and extensions are
// skipped by msgp.Skip, containers through their headers.
func (d *Decoder) skipValue(b []byte, depth int) (rest []byte, deep bool, err error) {
	stack := d.stack[:0]
	pending := uint32(1)
	p := 0
	for {
		for pending == 0 {
			if len(stack) == 0 {
				d.stack = stack
				return b[p:], deep, nil
			}
			pending = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		pending--
		// Fixed-size scalars, str8, fixmap and fixarray by index; msgp
		// reads every other encoding.
		var n uint32
		var c byte
		if p < len(b) {
			c = b[p]
			if size := int(scalarSize[c]); size != 0 && p+size <= len(b) {
				p += size
				continue
			}
			if c == leadStr8 && p+1 < len(b) && p+2+int(b[p+1]) <= len(b) {
				p += 2 + int(b[p+1])
				continue
			}
		}
		if p < len(b) && (c&0xf0 == leadFixarray || c&0xf0 == leadFixmap) {
			n = uint32(c & 0x0f)
			if c&0xf0 == leadFixmap {
				n *= 2
			}
			p++
		} else {
			r := b[p:]
			switch msgp.NextType(r) {
			case msgp.ArrayType:
				n, r, err = msgp.ReadArrayHeaderBytes(r)
			case msgp.MapType:
				var m uint32
				m, r, err = msgp.ReadMapHeaderBytes(r)
				if uint64(m)*2 > math.MaxUint32 {
					err = msgp.ErrShortBytes // more entries than any payload holds
				}
				n = 2 * m
			default:
				r, err = msgp.Skip(r)
				if err == nil {
					p = len(b) - len(r)
					continue
				}
			}
			if err != nil {
				d.stack = stack
				return r, deep, err
			}
			p = len(b) - len(r)
		}
		if uint64(n) > uint64(len(b)-p) {
			// Every element takes at least one byte.
			d.stack = stack
			return b[p:], deep, msgp.ErrShortBytes
		}
		if depth+len(stack)+1 > maxDepth {
			deep = true
		}
		if n == 0 {
			continue
		}
		stack = append(stack, pending)
		pending = n
	}
}

// flushPending emits the items held back.
func (d *Decoder) flushPending() {
	for i := 0; i < d.npending; i++ {
		d.emitRecord(&d.pending[i])
	}
	d.npending = 0
}

// emitRecord hands rec over as an Event when it is an audit event.
func (d *Decoder) emitRecord(rec *detect.Record) {
	if !rec.IsAuditEvent() {
		return
	}
	if !rec.Event(&d.ev, d.time) {
		d.counts.NoTime++
		return
	}
	d.counts.Events++
	d.emit(&d.ev)
}

// parseLine reads a RecordKey string with the JSON decoder. A string that
// does not start like a JSON object is another log's plain line: it is not
// parsed at all.
func (d *Decoder) parseLine(line []byte) {
	if !startsObject(line) {
		d.counts.NotAudit++
		return
	}
	if d.json == nil {
		d.json = detect.NewJSONParser()
	}
	_, err := d.json.Parse(line, d.time, d.onJSON)
	switch {
	case err == nil:
		d.counts.AuditRecords++
	case err == detect.ErrNotAudit:
		d.counts.NotAudit++
	default:
		d.counts.Malformed++
	}
}

// emitJSON is the JSON decoder's emit: it applies the NoTime rule.
func (d *Decoder) emitJSON(ev *detect.Event) {
	if ev.Time == 0 {
		d.counts.NoTime++
		return
	}
	d.counts.Events++
	d.emit(ev)
}

// startsObject reports whether s starts like a JSON object.
func startsObject(s []byte) bool {
	for _, c := range s {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}
