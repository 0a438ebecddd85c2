// Package chunk builds Fluent Bit flush payloads (what FLBPluginFlushCtx
// receives) from Kubernetes audit JSON lines, in every shape Fluent Bit
// produces them, and decodes them back for checks.
//
// A payload is msgpack records back to back, with no outer array:
//
//	V2 (Fluent Bit >= 2.1): [[timestamp, metadata-map], body-map]
//	V1 (older):             [timestamp, body-map]
//
// The timestamp is an EventTime (ext type 0, 8 bytes: uint32 BE seconds,
// uint32 BE nanoseconds) as fixext8 or ext8, or plain seconds as an unsigned
// integer or a float64. From Fluent Bit 3.1 V2 payloads may carry group
// markers: records whose timestamp seconds are 0xFFFFFFFF (start, int32 -1)
// or 0xFFFFFFFE (end, int32 -2) — see flb_log_event.h,
// flb_log_event_encoder_group_init/_end and
// flb_log_event_decoder_get_record_type in fluent/fluent-bit.
package chunk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	jsoniter "github.com/json-iterator/go"
	"github.com/tinylib/msgp/msgp"
)

// DefaultChunkSize is the size at which Fluent Bit closes a chunk
// (FLB_INPUT_CHUNK_FS_MAX_SIZE, about 2 MB).
const DefaultChunkSize = 2048000

// Format is the record envelope.
type Format int

const (
	// V2 is [[timestamp, metadata], body] (Fluent Bit >= 2.1).
	V2 Format = iota
	// V1 is [timestamp, body] (Fluent Bit < 2.1, forward protocol).
	V1
)

func (f Format) String() string {
	switch f {
	case V2:
		return "V2"
	case V1:
		return "V1"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// TimeEncoding is how a record timestamp is written.
type TimeEncoding int

const (
	// TimeFixExt8 is an EventTime as fixext8: d7 00 + sec + nsec (Fluent Bit's default).
	TimeFixExt8 TimeEncoding = iota
	// TimeExt8 is an EventTime as ext8: c7 08 00 + sec + nsec.
	TimeExt8
	// TimeUint is whole seconds as an unsigned integer.
	TimeUint
	// TimeFloat is seconds as a float64.
	TimeFloat
)

func (t TimeEncoding) String() string {
	switch t {
	case TimeFixExt8:
		return "fixext8"
	case TimeExt8:
		return "ext8"
	case TimeUint:
		return "uint"
	case TimeFloat:
		return "float64"
	}
	return fmt.Sprintf("TimeEncoding(%d)", int(t))
}

// Width selects the msgpack header forms for arrays, maps and strings.
type Width int

const (
	// WidthMin uses the smallest form that fits (fixarray, fixmap, fixstr, ...).
	WidthMin Width = iota
	// Width8 forces str8 for strings (msgpack has no 8-bit array/map: 16-bit forms).
	Width8
	// Width16 forces array16, map16 and str16 (32-bit forms when too big).
	Width16
	// Width32 forces array32, map32 and str32.
	Width32
)

func (w Width) String() string {
	switch w {
	case WidthMin:
		return "min"
	case Width8:
		return "8"
	case Width16:
		return "16"
	case Width32:
		return "32"
	}
	return fmt.Sprintf("Width(%d)", int(w))
}

// Shape is what a record body holds.
type Shape int

const (
	// ParsedMap: the audit event itself as a map (a JSON parser upstream).
	ParsedMap Shape = iota
	// LogString: {"log": "<raw JSON line>"} (tail without parser; see LogKey, ExtraKeys).
	LogString
	// EventList: {"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[...]},
	// EventsPerRecord events per record (the audit webhook posting to Fluent Bit's http input).
	EventList
)

func (s Shape) String() string {
	switch s {
	case ParsedMap:
		return "ParsedMap"
	case LogString:
		return "LogString"
	case EventList:
		return "EventList"
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// Groups selects group markers (Fluent Bit >= 3.1, V2 only).
type Groups int

const (
	// NoGroups writes no markers.
	NoGroups Groups = iota
	// GroupsEventTime writes markers whose timestamp is an EventTime with
	// seconds 0xFFFFFFFF (start) / 0xFFFFFFFE (end), nanoseconds 0 — what
	// flb_log_event_encoder writes.
	GroupsEventTime
	// GroupsInt writes markers whose timestamp is the unsigned integer
	// 4294967295 (start) / 4294967294 (end); Fluent Bit's decoder reads those
	// as int32 -1 / -2 too.
	GroupsInt
)

// Group marker seconds as they appear on the wire.
const (
	GroupStartSeconds uint32 = 0xFFFFFFFF // int32 -1, FLB_LOG_EVENT_GROUP_START
	GroupEndSeconds   uint32 = 0xFFFFFFFE // int32 -2, FLB_LOG_EVENT_GROUP_END
)

// KV is one string key/value pair; slices of KV keep their order.
type KV struct {
	Key, Value string
}

// Options describes how records are encoded. The zero value gives V2
// records, fixext8 EventTime, smallest headers, the event as a parsed map,
// the current time as record time, no group markers.
type Options struct {
	Format Format
	Time   TimeEncoding

	// EnvelopeWidth applies to the record's root array, the V2 header array
	// and the metadata map; BodyWidth to the body and everything inside it.
	EnvelopeWidth Width
	BodyWidth     Width

	Shape Shape
	// LogKey is the LogString key (Fluent Bit's record_key); default "log".
	LogKey string
	// ExtraKeys are added to LogString bodies (e.g. stream=stdout, time=...),
	// after the log key, or before it with ExtraKeysFirst.
	ExtraKeys      []KV
	ExtraKeysFirst bool
	// EventsPerRecord is the number of events per EventList record; <= 0 means 1.
	EventsPerRecord int

	// Metadata fills the V2 metadata map (default empty).
	Metadata []KV

	// TimeFunc gives the time of the record that starts with input line i
	// (index into the lines given to Encode/Split/Records). Without it
	// FixedTime is used, and without that the current time.
	TimeFunc  func(i int, line []byte) time.Time
	FixedTime time.Time

	// Groups adds group markers around records; GroupEvery records per
	// group (<= 0: one group around all records of a payload).
	Groups     Groups
	GroupEvery int
	// GroupMetadata and GroupBody fill the group start marker's metadata
	// and body maps (default empty); the end marker has empty maps.
	GroupMetadata []KV
	GroupBody     []KV
}

func (o *Options) logKey() string {
	if o.LogKey == "" {
		return "log"
	}
	return o.LogKey
}

func (o *Options) perRecord() int {
	if o.Shape != EventList || o.EventsPerRecord <= 0 {
		return 1
	}
	return o.EventsPerRecord
}

func (o *Options) timeFor(i int, line []byte) time.Time {
	switch {
	case o.TimeFunc != nil:
		return o.TimeFunc(i, line)
	case !o.FixedTime.IsZero():
		return o.FixedTime
	}
	return time.Now()
}

func (o *Options) check() error {
	if o.Groups != NoGroups && o.Format != V2 {
		return errors.New("chunk: group markers exist only in V2 payloads")
	}
	return nil
}

// ---- msgpack primitives with forced widths ----

// AppendArrayHeader appends an array header of n elements in form w.
func AppendArrayHeader(b []byte, n uint32, w Width) []byte {
	switch {
	case w == WidthMin:
		return msgp.AppendArrayHeader(b, n)
	case w == Width32 || n > math.MaxUint16:
		return append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
}

// AppendMapHeader appends a map header of n pairs in form w.
func AppendMapHeader(b []byte, n uint32, w Width) []byte {
	switch {
	case w == WidthMin:
		return msgp.AppendMapHeader(b, n)
	case w == Width32 || n > math.MaxUint16:
		return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
}

// AppendString appends s as a msgpack str in form w.
func AppendString(b []byte, s string, w Width) []byte {
	n := len(s)
	switch {
	case w == WidthMin:
		return msgp.AppendString(b, s)
	case w == Width8 && n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case (w == Width8 || w == Width16) && n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

// AppendEventTimeFixExt8 appends an EventTime as fixext8 (d7 00 sec nsec).
func AppendEventTimeFixExt8(b []byte, sec, nsec uint32) []byte {
	b = append(b, 0xd7, 0x00)
	b = binary.BigEndian.AppendUint32(b, sec)
	return binary.BigEndian.AppendUint32(b, nsec)
}

// AppendEventTimeExt8 appends an EventTime as ext8 (c7 08 00 sec nsec).
func AppendEventTimeExt8(b []byte, sec, nsec uint32) []byte {
	b = append(b, 0xc7, 0x08, 0x00)
	b = binary.BigEndian.AppendUint32(b, sec)
	return binary.BigEndian.AppendUint32(b, nsec)
}

// AppendTimestamp appends t in encoding e.
func AppendTimestamp(b []byte, t time.Time, e TimeEncoding) []byte {
	sec, nsec := uint32(t.Unix()), uint32(t.Nanosecond())
	switch e {
	case TimeExt8:
		return AppendEventTimeExt8(b, sec, nsec)
	case TimeUint:
		return msgp.AppendUint64(b, uint64(t.Unix()))
	case TimeFloat:
		return msgp.AppendFloat64(b, float64(t.Unix())+float64(t.Nanosecond())/1e9)
	default:
		return AppendEventTimeFixExt8(b, sec, nsec)
	}
}

// AppendKVMap appends kvs as a map of strings in form w.
func AppendKVMap(b []byte, kvs []KV, w Width) []byte {
	b = AppendMapHeader(b, uint32(len(kvs)), w)
	for _, kv := range kvs {
		b = AppendString(b, kv.Key, w)
		b = AppendString(b, kv.Value, w)
	}
	return b
}

// ---- JSON -> msgpack ----

// JSONToMsgpack appends the msgpack form of one JSON value, preserving
// object key order and types the way Fluent Bit's JSON parser packs them:
// objects -> maps, arrays -> arrays, strings -> str, integers -> uint
// (non-negative) or int (negative), other numbers -> float64, bool, null -> nil.
func JSONToMsgpack(dst, js []byte, w Width) ([]byte, error) {
	if !json.Valid(js) {
		return dst, fmt.Errorf("chunk: invalid JSON: %.80q", js)
	}
	it := jsoniter.ParseBytes(jsoniter.ConfigDefault, js)
	out, err := appendJSONValue(dst, it, w)
	if err == nil && it.Error != nil && it.Error != io.EOF {
		err = it.Error
	}
	if err != nil {
		return dst, fmt.Errorf("chunk: converting JSON: %w", err)
	}
	return out, nil
}

func appendJSONValue(b []byte, it *jsoniter.Iterator, w Width) ([]byte, error) {
	switch it.WhatIsNext() {
	case jsoniter.ObjectValue:
		var body []byte
		var n uint32
		var err error
		it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
			body = AppendString(body, key, w)
			body, err = appendJSONValue(body, it, w)
			n++
			return err == nil
		})
		if err != nil {
			return b, err
		}
		b = AppendMapHeader(b, n, w)
		return append(b, body...), iterErr(it)
	case jsoniter.ArrayValue:
		var body []byte
		var n uint32
		var err error
		it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			body, err = appendJSONValue(body, it, w)
			n++
			return err == nil
		})
		if err != nil {
			return b, err
		}
		b = AppendArrayHeader(b, n, w)
		return append(b, body...), iterErr(it)
	case jsoniter.StringValue:
		return AppendString(b, it.ReadString(), w), iterErr(it)
	case jsoniter.NumberValue:
		return appendNumber(b, string(it.ReadNumber()))
	case jsoniter.BoolValue:
		return msgp.AppendBool(b, it.ReadBool()), iterErr(it)
	case jsoniter.NilValue:
		it.ReadNil()
		return msgp.AppendNil(b), iterErr(it)
	}
	return b, fmt.Errorf("unexpected JSON token (%v)", it.Error)
}

func iterErr(it *jsoniter.Iterator) error {
	if it.Error == io.EOF {
		return nil
	}
	return it.Error
}

func appendNumber(b []byte, s string) ([]byte, error) {
	if !strings.ContainsAny(s, ".eE") {
		if strings.HasPrefix(s, "-") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				if i >= 0 { // "-0"
					return msgp.AppendUint64(b, uint64(i)), nil
				}
				return msgp.AppendInt64(b, i), nil
			}
		} else if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return msgp.AppendUint64(b, u), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return b, fmt.Errorf("bad number %q", s)
	}
	return msgp.AppendFloat64(b, f), nil
}

// ---- records ----

// AppendRecord appends one record with timestamp ts and an already encoded
// msgpack body map.
func AppendRecord(b []byte, ts time.Time, body []byte, o Options) []byte {
	b = AppendArrayHeader(b, 2, o.EnvelopeWidth)
	if o.Format == V2 {
		b = AppendArrayHeader(b, 2, o.EnvelopeWidth)
		b = AppendTimestamp(b, ts, o.Time)
		b = AppendKVMap(b, o.Metadata, o.EnvelopeWidth)
	} else {
		b = AppendTimestamp(b, ts, o.Time)
	}
	return append(b, body...)
}

// AppendGroupStart appends a group start marker (V2 only).
func AppendGroupStart(b []byte, o Options) []byte {
	return appendMarker(b, GroupStartSeconds, o.GroupMetadata, o.GroupBody, o)
}

// AppendGroupEnd appends a group end marker (V2 only).
func AppendGroupEnd(b []byte, o Options) []byte {
	return appendMarker(b, GroupEndSeconds, nil, nil, o)
}

func appendMarker(b []byte, sec uint32, meta, body []KV, o Options) []byte {
	b = AppendArrayHeader(b, 2, o.EnvelopeWidth)
	b = AppendArrayHeader(b, 2, o.EnvelopeWidth)
	switch {
	case o.Groups == GroupsInt:
		b = msgp.AppendUint64(b, uint64(sec))
	case o.Time == TimeExt8:
		b = AppendEventTimeExt8(b, sec, 0)
	default:
		b = AppendEventTimeFixExt8(b, sec, 0)
	}
	b = AppendKVMap(b, meta, o.EnvelopeWidth)
	return AppendKVMap(b, body, o.BodyWidth)
}

// Body encodes the body map for lines (one line, or EventsPerRecord lines
// for EventList) according to o.Shape.
func Body(lines [][]byte, o Options) ([]byte, error) {
	w := o.BodyWidth
	switch o.Shape {
	case LogString:
		if len(lines) != 1 {
			return nil, fmt.Errorf("chunk: LogString body takes one line, got %d", len(lines))
		}
		var b []byte
		b = AppendMapHeader(b, uint32(1+len(o.ExtraKeys)), w)
		if o.ExtraKeysFirst {
			for _, kv := range o.ExtraKeys {
				b = AppendString(AppendString(b, kv.Key, w), kv.Value, w)
			}
		}
		b = AppendString(AppendString(b, o.logKey(), w), string(lines[0]), w)
		if !o.ExtraKeysFirst {
			for _, kv := range o.ExtraKeys {
				b = AppendString(AppendString(b, kv.Key, w), kv.Value, w)
			}
		}
		return b, nil
	case EventList:
		var b []byte
		b = AppendMapHeader(b, 4, w)
		b = AppendString(AppendString(b, "kind", w), "EventList", w)
		b = AppendString(AppendString(b, "apiVersion", w), "audit.k8s.io/v1", w)
		b = AppendMapHeader(AppendString(b, "metadata", w), 0, w)
		b = AppendArrayHeader(AppendString(b, "items", w), uint32(len(lines)), w)
		for _, l := range lines {
			var err error
			if b, err = appendObject(b, l, w); err != nil {
				return nil, err
			}
		}
		return b, nil
	default:
		if len(lines) != 1 {
			return nil, fmt.Errorf("chunk: ParsedMap body takes one line, got %d", len(lines))
		}
		return appendObject(nil, lines[0], w)
	}
}

func appendObject(b, line []byte, w Width) ([]byte, error) {
	if t := bytes.TrimLeft(line, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return b, fmt.Errorf("chunk: record must be a JSON object: %.80q", line)
	}
	return JSONToMsgpack(b, line, w)
}

// Records encodes lines into separate records (no group markers): one per
// line, or one per EventsPerRecord lines for EventList.
func Records(lines [][]byte, o Options) ([][]byte, error) {
	per := o.perRecord()
	var out [][]byte
	for i := 0; i < len(lines); i += per {
		j := min(i+per, len(lines))
		body, err := Body(lines[i:j], o)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i, err)
		}
		out = append(out, AppendRecord(nil, o.timeFor(i, lines[i]), body, o))
	}
	return out, nil
}

// Assemble joins encoded records into one payload, adding group markers
// as o asks.
func Assemble(records [][]byte, o Options) []byte {
	var b []byte
	every := o.GroupEvery
	if every <= 0 {
		every = len(records)
	}
	for i, r := range records {
		if o.Groups != NoGroups && i%every == 0 {
			b = AppendGroupStart(b, o)
		}
		b = append(b, r...)
		if o.Groups != NoGroups && (i%every == every-1 || i == len(records)-1) {
			b = AppendGroupEnd(b, o)
		}
	}
	return b
}

// Encode turns all lines into one payload.
func Encode(lines [][]byte, o Options) ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	recs, err := Records(lines, o)
	if err != nil {
		return nil, err
	}
	return Assemble(recs, o), nil
}

// Split turns lines into payloads of about target bytes each (<= 0:
// DefaultChunkSize) without splitting a record: a payload is closed before
// the record that would take it past target; a record bigger than target
// gets a payload of its own. Group markers are added per payload.
func Split(lines [][]byte, target int, o Options) ([][]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if target <= 0 {
		target = DefaultChunkSize
	}
	recs, err := Records(lines, o)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	var cur [][]byte
	size := 0
	for _, r := range recs {
		if len(cur) > 0 && size+len(r) > target {
			out = append(out, Assemble(cur, o))
			cur, size = nil, 0
		}
		cur = append(cur, r)
		size += len(r)
	}
	if len(cur) > 0 {
		out = append(out, Assemble(cur, o))
	}
	return out, nil
}

// ReadLines reads a JSON-lines file, dropping empty lines and the line ends.
func ReadLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ScanLines(f)
}

// ScanLines splits r into lines, dropping empty lines and line ends.
func ScanLines(r io.Reader) ([][]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	var out [][]byte
	for sc.Scan() {
		l := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		out = append(out, append([]byte(nil), l...))
	}
	return out, sc.Err()
}
