package audit

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/modern-go/reflect2"
)

// ErrNotAudit marks a well-formed document that is neither an audit Event
// nor an EventList.
var ErrNotAudit = errors.New("not an audit event")

// The JSON decoder is json-iterator's struct decoder, run on struct types
// built at start-up from the shared mapping (EventSchema, BodySchema) with
// reflect.StructOf. json-iterator matches struct keys without allocating
// and skips every other key, so the mapping stays the one definition and
// the decoder reads only the leaves it names. Leaves are read as views into
// the document (no copy) by the decoders registered below.

// view is a string leaf as it appears in the decoding structs.
type view struct {
	s       string
	present bool
}

// viewList is a sourceIPs leaf; its backing array is reused across
// documents.
type viewList struct {
	present bool
	ipList
}

// itemList stands for EventList.items: its decoder emits each item as soon
// as it is read, so that a large list is never held.
type itemList struct{}

// leafAt says where a leaf of the mapping sits in a decoding struct.
type leafAt struct {
	offset uintptr
	field  Field
	list   bool
}

// layout is a decoding struct built from a schema node.
type layout struct {
	typ    reflect.Type
	leaves []leafAt
}

func buildLayout(n *Node) *layout {
	l := &layout{}
	l.typ = structFor(n, 0, l)
	return l
}

// structFor returns a struct type with one field per key of n, tagged with
// the key; base is the offset of this struct inside the outermost one.
func structFor(n *Node, base uintptr, l *layout) reflect.Type {
	fields := make([]reflect.StructField, 0, len(n.children))
	kinds := make([]*Node, 0, len(n.children))
	// Sorted keys make the type the same on every call: the offsets of a
	// nested struct are taken from a second call for the same node.
	for _, key := range slices.Sorted(maps.Keys(n.children)) {
		c := n.children[key]
		var t reflect.Type
		switch c.Kind {
		case String:
			t = reflect.TypeOf(view{})
		case StringList:
			t = reflect.TypeOf(viewList{})
		case Object:
			t = structFor(c, 0, nil) // offsets fixed below, once known
		case ObjectList:
			t = reflect.TypeOf(itemList{})
		default:
			continue
		}
		fields = append(fields, reflect.StructField{
			Name: "F" + strconv.Itoa(len(fields)),
			Type: t,
			Tag:  reflect.StructTag(`json:"` + key + `"`),
		})
		kinds = append(kinds, c)
	}
	typ := reflect.StructOf(fields)
	objectTypes.Store(typ, leavesOf(typ, 0, nil))
	if l == nil {
		return typ
	}
	for i, c := range kinds {
		off := base + typ.Field(i).Offset
		switch c.Kind {
		case String:
			l.leaves = append(l.leaves, leafAt{offset: off, field: c.Field})
		case StringList:
			l.leaves = append(l.leaves, leafAt{offset: off, field: c.Field, list: true})
		case Object:
			structFor(c, off, l)
		}
	}
	return typ
}

// objectTypes holds the struct types built for Object nodes: their
// decoders are wrapped so that a value of another type (say "user": "")
// counts as missing instead of failing the document.
var objectTypes sync.Map

var (
	bodyLayout  = buildLayout(BodySchema)
	eventLayout = buildLayout(EventSchema)
)

// The configurations are private so that nothing here changes
// json-iterator's global configuration (another Go plugin in the same
// Fluent Bit may use it). Keys are matched case-sensitively, as
// Elasticsearch and the API server do.
//
// fastAPI reads keys as views into the document: no allocation, but a key
// holding an escaped quote stops it with an error. exactAPI unescapes every
// key and string; a document the fast pass could not read is read again
// with it, so escapes cost time only where they occur.
var (
	fastAPI  = newAPI(jsoniter.Config{CaseSensitive: true, ObjectFieldMustBeSimpleString: true})
	exactAPI = newAPI(jsoniter.Config{CaseSensitive: true})
)

func newAPI(c jsoniter.Config) jsoniter.API {
	api := c.Froze()
	api.RegisterExtension(&viewExtension{})
	return api
}

type viewExtension struct{ jsoniter.DummyExtension }

func (*viewExtension) CreateDecoder(typ reflect2.Type) jsoniter.ValDecoder {
	switch typ.Type1() {
	case reflect.TypeOf(view{}):
		return viewDecoder{}
	case reflect.TypeOf(viewList{}):
		return viewListDecoder{}
	case reflect.TypeOf(itemList{}):
		return itemListDecoder{}
	}
	return nil
}

func (*viewExtension) DecorateDecoder(typ reflect2.Type, dec jsoniter.ValDecoder) jsoniter.ValDecoder {
	if leaves, ok := objectTypes.Load(typ.Type1()); ok {
		return objectDecoder{dec, &layout{typ: typ.Type1(), leaves: leaves.([]leafAt)}}
	}
	return dec
}

// objectDecoder makes a repeated key replace the earlier object (as
// encoding/json's maps and Elasticsearch do) and reads a non-object as
// missing.
type objectDecoder struct {
	jsoniter.ValDecoder
	l *layout
}

func (d objectDecoder) Decode(ptr unsafe.Pointer, it *jsoniter.Iterator) {
	clearLeaves(d.l, ptr)
	if it.WhatIsNext() != jsoniter.ObjectValue {
		it.Skip()
		return
	}
	d.ValDecoder.Decode(ptr, it)
}

// leavesOf lists the string and list leaves of a decoding struct.
func leavesOf(typ reflect.Type, base uintptr, out []leafAt) []leafAt {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		switch f.Type {
		case reflect.TypeOf(view{}):
			out = append(out, leafAt{offset: base + f.Offset})
		case reflect.TypeOf(viewList{}):
			out = append(out, leafAt{offset: base + f.Offset, list: true})
		case reflect.TypeOf(itemList{}):
		default:
			out = leavesOf(f.Type, base+f.Offset, out)
		}
	}
	return out
}

type viewDecoder struct{}

func (viewDecoder) Decode(ptr unsafe.Pointer, it *jsoniter.Iterator) {
	p := it.Attachment.(*JSONParser)
	if s, ok := p.readString(it); ok {
		*(*view)(ptr) = view{s: s, present: true}
	} else {
		// A repeated key replaces the earlier value, even with a
		// non-string.
		*(*view)(ptr) = view{}
	}
}

type viewListDecoder struct{}

// Decode takes an array of strings, or a single string as a one-entry list
// (Elasticsearch accepts both for an ip field). Only the first
// MaxSourceIPs-1 entries and the last are kept.
func (viewListDecoder) Decode(ptr unsafe.Pointer, it *jsoniter.Iterator) {
	p := it.Attachment.(*JSONParser)
	l := (*viewList)(ptr)
	l.present = true
	l.reset()
	switch it.WhatIsNext() {
	case jsoniter.StringValue:
		if s, ok := p.readString(it); ok {
			l.add(s)
		}
	case jsoniter.ArrayValue:
		it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			if s, ok := p.readString(it); ok {
				l.add(s)
			}
			return !p.misparsed && it.Error == nil
		})
	default:
		it.Skip()
	}
}

type itemListDecoder struct{}

func (itemListDecoder) Decode(_ unsafe.Pointer, it *jsoniter.Iterator) {
	p := it.Attachment.(*JSONParser)
	p.sawItems = true
	if it.WhatIsNext() != jsoniter.ArrayValue {
		it.Skip()
		return
	}
	it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
		if it.WhatIsNext() != jsoniter.ObjectValue {
			it.Skip()
			return it.Error == nil
		}
		clearLeaves(eventLayout, p.itemBase)
		it.ReadVal(p.itemVal)
		if p.misparsed || it.Error != nil {
			return false
		}
		p.emitFrom(eventLayout, p.itemBase)
		return true
	})
}

// JSONParser reads audit events from JSON documents: a line of the API
// server's log backend (an Event) or an EventList. It reads only the
// leaves of the mapping, as views into the document, and skips everything
// else, so a RequestResponse line of hundreds of kilobytes costs a scan, not
// a decode. A JSONParser is not safe for concurrent use; keep one per
// goroutine.
type JSONParser struct {
	fast     *jsoniter.Iterator
	exactIt  *jsoniter.Iterator
	bodyVal  any // *struct of bodyLayout.typ
	bodyBase unsafe.Pointer
	itemVal  any // *struct of eventLayout.typ
	itemBase unsafe.Pointer
	rec      Record
	ev       Event
	emit     func(*Event)
	time     int64
	events   int
	sawItems bool
	// exact is set while re-reading a document the fast pass could not
	// read (an escaped quote in a key or a string).
	exact     bool
	misparsed bool
	// replayed counts events the exact pass must not emit again: the items
	// of an EventList that the fast pass emitted before it stopped.
	replayed int
}

// NewJSONParser returns a parser ready for use.
func NewJSONParser() *JSONParser {
	p := &JSONParser{fast: jsoniter.NewIterator(fastAPI), exactIt: jsoniter.NewIterator(exactAPI)}
	p.fast.Attachment, p.exactIt.Attachment = p, p
	body := reflect.New(bodyLayout.typ)
	p.bodyVal, p.bodyBase = body.Interface(), body.UnsafePointer()
	item := reflect.New(eventLayout.typ)
	p.itemVal, p.itemBase = item.Interface(), item.UnsafePointer()
	return p
}

// Parse reads one document and calls emit for each audit event in it: once
// for an Event, once per item for an EventList. recordTime (Unix ns, 0 for
// none) is the time of events without a timestamp of their own; an event
// with no time at all is emitted with Time 0 for the caller to count. The
// Event and its strings are valid only during the call to emit.
//
// It returns the number of events emitted and an error when the document is
// malformed (ErrNotAudit when it is valid JSON of another kind). Items of an
// EventList emitted before a syntax error are not taken back.
func (p *JSONParser) Parse(doc []byte, recordTime int64, emit func(*Event)) (int, error) {
	p.emit, p.time, p.events = emit, recordTime, 0
	err := p.parse(p.fast, doc)
	if p.misparsed || (err != nil && err != ErrNotAudit) {
		// Read the document again exactly; the items the fast pass
		// emitted before it stopped are not emitted twice.
		p.exact, p.replayed = true, p.events
		err = p.parse(p.exactIt, doc)
		p.exact, p.replayed = false, 0
	}
	p.emit = nil
	return p.events, err
}

func (p *JSONParser) parse(it *jsoniter.Iterator, doc []byte) error {
	p.misparsed, p.sawItems = false, false
	it.ResetBytes(doc)
	it.Error = nil
	if next := it.WhatIsNext(); next != jsoniter.ObjectValue {
		// Valid JSON of another kind is not an audit event; anything else
		// is malformed. (json-iterator reports a number that ends the
		// input as io.EOF.)
		it.Skip()
		if it.Error != nil && !(it.Error == io.EOF && next == jsoniter.NumberValue) {
			return it.Error
		}
		return ErrNotAudit
	}
	clearLeaves(bodyLayout, p.bodyBase)
	it.ReadVal(p.bodyVal)
	if p.misparsed {
		return nil
	}
	if it.Error != nil {
		return it.Error
	}
	if !p.emitFrom(bodyLayout, p.bodyBase) && !p.sawItems {
		return ErrNotAudit
	}
	return nil
}

// emitFrom turns a decoded struct into an Event and hands it over when it
// is an audit event.
func (p *JSONParser) emitFrom(l *layout, base unsafe.Pointer) bool {
	r := &p.rec
	r.Reset()
	for _, leaf := range l.leaves {
		at := unsafe.Add(base, leaf.offset)
		if leaf.list {
			if v := (*viewList)(at); v.present {
				r.setSourceIPs(&v.ipList)
			}
			continue
		}
		if v := (*view)(at); v.present {
			r.Set(leaf.field, v.s)
		}
	}
	if !r.IsAuditEvent() {
		return false
	}
	if p.replayed > 0 {
		p.replayed--
		return true
	}
	r.Event(&p.ev, p.time)
	p.events++
	p.emit(&p.ev)
	return true
}

func clearLeaves(l *layout, base unsafe.Pointer) {
	for _, leaf := range l.leaves {
		at := unsafe.Add(base, leaf.offset)
		if leaf.list {
			v := (*viewList)(at)
			v.present = false
			v.reset()
			continue
		}
		*(*view)(at) = view{}
	}
}

// readString reads a string value as a view into the document when it has
// no escapes; escaped strings are unescaped into a new string. Values of
// other types are skipped and count as missing.
func (p *JSONParser) readString(it *jsoniter.Iterator) (string, bool) {
	if it.WhatIsNext() != jsoniter.StringValue {
		it.Skip()
		return "", false
	}
	if p.exact {
		return it.ReadString(), it.Error == nil
	}
	// ReadStringAsSlice stops at the first '"' byte. That is the end of the
	// string unless it is escaped: an odd run of backslashes before it.
	raw := it.ReadStringAsSlice()
	if it.Error != nil {
		return "", false
	}
	backslashes := 0
	for i := len(raw) - 1; i >= 0 && raw[i] == '\\'; i-- {
		backslashes++
	}
	if backslashes%2 == 1 {
		p.misparsed = true
		// Stop the decoder here; Parse reads the document again exactly.
		it.ReportError("readString", "escaped quote")
		return "", false
	}
	if bytes.IndexByte(raw, '\\') >= 0 {
		return unescapeJSON(raw), true
	}
	return borrow(raw), true
}

// unescapeJSON decodes the escapes of a JSON string body (without quotes)
// with json-iterator, so that \u sequences and surrogate pairs follow the
// JSON rules exactly.
func unescapeJSON(body []byte) string {
	quoted := make([]byte, 0, len(body)+2)
	quoted = append(quoted, '"')
	quoted = append(quoted, body...)
	quoted = append(quoted, '"')
	return jsoniter.ParseBytes(exactAPI, quoted).ReadString()
}
