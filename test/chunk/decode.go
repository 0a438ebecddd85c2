package chunk

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Kind tells normal records from group markers.
type Kind int

const (
	Normal Kind = iota
	GroupStart
	GroupEnd
)

func (k Kind) String() string {
	switch k {
	case Normal:
		return "normal"
	case GroupStart:
		return "group-start"
	case GroupEnd:
		return "group-end"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Record is one decoded record of a payload.
type Record struct {
	Kind         Kind
	Format       Format
	TimeEncoding TimeEncoding
	// Seconds and Nanos as on the wire (Seconds is the uint32 of an
	// EventTime, the integer, or the float's whole part).
	Seconds uint64
	Nanos   uint32
	Time    time.Time
	// Metadata is the V2 metadata map (nil for V1).
	Metadata map[string]any
	Body     map[string]any
	// BodyRaw is the body's msgpack bytes; Raw the whole record's.
	BodyRaw []byte
	Raw     []byte
}

// Decode splits a payload into records and decodes them the way Fluent
// Bit's flb_log_event_decoder does: root array of 2; V2 header array of 2
// or a V1 timestamp; timestamp uint / float / ext type 0 of 8 bytes; group
// markers are timestamps whose seconds, as int32, are -1 or -2 (any other
// negative value is an error).
func Decode(payload []byte) ([]Record, error) {
	var out []Record
	b := payload
	for len(b) > 0 {
		r, rest, err := decodeRecord(b)
		if err != nil {
			return out, fmt.Errorf("record %d at offset %d: %w", len(out), len(payload)-len(b), err)
		}
		out = append(out, r)
		b = rest
	}
	return out, nil
}

// Bodies returns the bodies of the normal records of a payload.
func Bodies(payload []byte) ([]map[string]any, error) {
	recs, err := Decode(payload)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, r := range recs {
		if r.Kind == Normal {
			out = append(out, r.Body)
		}
	}
	return out, nil
}

func decodeRecord(b []byte) (Record, []byte, error) {
	var r Record
	start := b
	n, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return r, nil, fmt.Errorf("root: %w", err)
	}
	if n != 2 {
		return r, nil, fmt.Errorf("root array has %d elements, want 2", n)
	}
	if msgp.NextType(b) == msgp.ArrayType {
		r.Format = V2
		n, b, err = msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return r, nil, err
		}
		if n != 2 {
			return r, nil, fmt.Errorf("header array has %d elements, want 2", n)
		}
		if b, err = decodeTime(&r, b); err != nil {
			return r, nil, err
		}
		if msgp.NextType(b) != msgp.MapType {
			return r, nil, fmt.Errorf("metadata is %v, want map", msgp.NextType(b))
		}
		var v any
		if v, b, err = msgp.ReadIntfBytes(b); err != nil {
			return r, nil, fmt.Errorf("metadata: %w", err)
		}
		r.Metadata = v.(map[string]any)
	} else {
		r.Format = V1
		if b, err = decodeTime(&r, b); err != nil {
			return r, nil, err
		}
	}
	if msgp.NextType(b) != msgp.MapType {
		return r, nil, fmt.Errorf("body is %v, want map", msgp.NextType(b))
	}
	bodyStart := b
	var v any
	if v, b, err = msgp.ReadIntfBytes(b); err != nil {
		return r, nil, fmt.Errorf("body: %w", err)
	}
	r.Body = v.(map[string]any)
	r.BodyRaw = bodyStart[:len(bodyStart)-len(b)]
	r.Raw = start[:len(start)-len(b)]

	switch s := int32(uint32(r.Seconds)); {
	case s >= 0:
		r.Kind = Normal
	case s == -1:
		r.Kind = GroupStart
	case s == -2:
		r.Kind = GroupEnd
	default:
		return r, nil, fmt.Errorf("negative timestamp seconds %d", s)
	}
	return r, b, nil
}

func decodeTime(r *Record, b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, msgp.ErrShortBytes
	}
	switch b[0] {
	case 0xd7, 0xc7:
		var data []byte
		if b[0] == 0xd7 {
			if len(b) < 10 {
				return nil, msgp.ErrShortBytes
			}
			if b[1] != 0 {
				return nil, fmt.Errorf("timestamp ext type %d, want 0", int8(b[1]))
			}
			r.TimeEncoding, data, b = TimeFixExt8, b[2:10], b[10:]
		} else {
			if len(b) < 11 {
				return nil, msgp.ErrShortBytes
			}
			if b[1] != 8 || b[2] != 0 {
				return nil, fmt.Errorf("timestamp ext8 size %d type %d, want 8 and 0", b[1], int8(b[2]))
			}
			r.TimeEncoding, data, b = TimeExt8, b[3:11], b[11:]
		}
		r.Seconds = uint64(binary.BigEndian.Uint32(data))
		r.Nanos = binary.BigEndian.Uint32(data[4:])
	default:
		switch msgp.NextType(b) {
		case msgp.UintType, msgp.IntType:
			u, rest, err := msgp.ReadUint64Bytes(b)
			if err != nil {
				return nil, fmt.Errorf("timestamp: %w (negative integers are not timestamps)", err)
			}
			r.TimeEncoding, r.Seconds, b = TimeUint, u, rest
		case msgp.Float64Type, msgp.Float32Type:
			f, rest, err := msgp.ReadFloat64Bytes(b)
			if err != nil {
				return nil, err
			}
			sec := math.Floor(f)
			r.TimeEncoding, b = TimeFloat, rest
			r.Seconds = uint64(int64(sec))
			r.Nanos = uint32(math.Round((f - sec) * 1e9))
		default:
			return nil, fmt.Errorf("timestamp is %v", msgp.NextType(b))
		}
	}
	r.Time = time.Unix(int64(r.Seconds), int64(r.Nanos))
	return b, nil
}

// MsgpackToJSON appends one msgpack value as JSON, keeping map order.
// Bin becomes a base64 string, an extension {"$ext":type,"data":base64}.
func MsgpackToJSON(dst, b []byte) (out, rest []byte, err error) {
	return toJSON(dst, b, 0)
}

func toJSON(dst, b []byte, depth int) ([]byte, []byte, error) {
	if depth > 1000 {
		return dst, b, msgp.ErrRecursion
	}
	var err error
	switch msgp.NextType(b) {
	case msgp.MapType:
		var n uint32
		if n, b, err = msgp.ReadMapHeaderBytes(b); err != nil {
			return dst, b, err
		}
		dst = append(dst, '{')
		for i := uint32(0); i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var k []byte
			if k, b, err = msgp.ReadMapKeyZC(b); err != nil {
				return dst, b, err
			}
			dst = appendJSONString(dst, string(k))
			dst = append(dst, ':')
			if dst, b, err = toJSON(dst, b, depth+1); err != nil {
				return dst, b, err
			}
		}
		return append(dst, '}'), b, nil
	case msgp.ArrayType:
		var n uint32
		if n, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			return dst, b, err
		}
		dst = append(dst, '[')
		for i := uint32(0); i < n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, b, err = toJSON(dst, b, depth+1); err != nil {
				return dst, b, err
			}
		}
		return append(dst, ']'), b, nil
	case msgp.StrType:
		var s []byte
		if s, b, err = msgp.ReadStringZC(b); err != nil {
			return dst, b, err
		}
		return appendJSONString(dst, string(s)), b, nil
	case msgp.BinType:
		var s []byte
		if s, b, err = msgp.ReadBytesZC(b); err != nil {
			return dst, b, err
		}
		return appendJSONString(dst, base64.StdEncoding.EncodeToString(s)), b, nil
	case msgp.UintType:
		var u uint64
		u, b, err = msgp.ReadUint64Bytes(b)
		return strconv.AppendUint(dst, u, 10), b, err
	case msgp.IntType:
		var i int64
		i, b, err = msgp.ReadInt64Bytes(b)
		return strconv.AppendInt(dst, i, 10), b, err
	case msgp.Float64Type, msgp.Float32Type:
		var f float64
		if f, b, err = msgp.ReadFloat64Bytes(b); err != nil {
			return dst, b, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return append(dst, "null"...), b, nil
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), b, nil
	case msgp.BoolType:
		var t bool
		t, b, err = msgp.ReadBoolBytes(b)
		return strconv.AppendBool(dst, t), b, err
	case msgp.NilType:
		b, err = msgp.ReadNilBytes(b)
		return append(dst, "null"...), b, err
	case msgp.ExtensionType, msgp.TimeType:
		var typ int8
		var data []byte
		if typ, data, b, err = readExt(b); err != nil {
			return dst, b, err
		}
		dst = append(dst, `{"$ext":`...)
		dst = strconv.AppendInt(dst, int64(typ), 10)
		dst = append(dst, `,"data":`...)
		dst = appendJSONString(dst, base64.StdEncoding.EncodeToString(data))
		return append(dst, '}'), b, nil
	}
	if len(b) == 0 {
		return dst, b, msgp.ErrShortBytes
	}
	return dst, b, msgp.InvalidPrefixError(b[0])
}

func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// readExt reads any msgpack extension: fixext1..16, ext8/16/32.
func readExt(b []byte) (typ int8, data, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, b, msgp.ErrShortBytes
	}
	var hdr, size int
	switch b[0] {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		hdr, size = 2, 1<<(b[0]-0xd4)
	case 0xc7:
		hdr, size = 3, int(b[1])
	case 0xc8:
		if len(b) < 4 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		hdr, size = 4, int(binary.BigEndian.Uint16(b[1:]))
	case 0xc9:
		if len(b) < 6 {
			return 0, nil, b, msgp.ErrShortBytes
		}
		hdr, size = 6, int(binary.BigEndian.Uint32(b[1:]))
	default:
		return 0, nil, b, msgp.InvalidPrefixError(b[0])
	}
	if len(b) < hdr+size {
		return 0, nil, b, msgp.ErrShortBytes
	}
	return int8(b[hdr-1]), b[hdr : hdr+size], b[hdr+size:], nil
}
