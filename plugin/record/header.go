package record

import (
	"encoding/binary"
	"math"

	"github.com/tinylib/msgp/msgp"
)

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
