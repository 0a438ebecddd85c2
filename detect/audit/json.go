package audit

import (
	"encoding/json"
	"errors"
)

var (
	// ErrNotAudit marks a well-formed document that is neither an audit
	// Event nor an EventList.
	ErrNotAudit = errors.New("not an audit event")
	// ErrMalformed marks a document that is not one RFC 8259 JSON value:
	// what encoding/json.Valid refuses, and nothing else.
	ErrMalformed = errors.New("malformed JSON")
)

// JSONParser reads audit events from JSON documents: a line of the API
// server's log backend (an Event) or an EventList. It walks the document
// once against the mapping (BodySchema): the leaves it names are handed to
// a Record as views into the document, every other value is skipped by the
// scanner (scan.go), which also checks that the whole document is valid
// JSON, so a RequestResponse line of hundreds of kilobytes costs a scan,
// not a decode. Nothing is allocated, except a string the mapping reads
// that holds an escape: it is unescaped by encoding/json into a new
// string. A JSONParser is not safe for concurrent use; keep one per
// goroutine.
type JSONParser struct {
	scanner
	rec    Record // the document's own leaves
	item   Record // the EventList item being read
	ev     Event
	emit   func(*Event)
	onItem func(*Record) // p.emitItem, bound once
	// items takes each object of an ObjectList during a walk; nil: the
	// list is skipped.
	items    func(*Record)
	time     int64
	events   int
	sawItems bool
}

// NewJSONParser returns a parser ready for use.
func NewJSONParser() *JSONParser {
	p := &JSONParser{}
	p.onItem = p.emitItem
	return p
}

// Parse reads one document and calls emit for each audit event in it: once
// for an Event, once per item for an EventList. recordTime (Unix ns, 0 for
// none) is the time of events without a timestamp of their own; an event
// with no time at all is emitted with Time 0 for the caller to count. The
// Event and its strings are valid only during the call to emit.
//
// It returns the number of events emitted, and ErrMalformed when the
// document is not valid JSON, ErrNotAudit when it is valid JSON of another
// kind. Items of an EventList are emitted as they are read: those emitted
// before a syntax error are not taken back.
func (p *JSONParser) Parse(doc []byte, recordTime int64, emit func(*Event)) (int, error) {
	p.emit, p.time, p.events = emit, recordTime, 0
	err := p.Walk(doc, BodySchema, &p.rec, p.onItem)
	if err == nil {
		if p.rec.IsAuditEvent() {
			p.emitRecord(&p.rec)
		} else if !p.sawItems {
			err = ErrNotAudit
		}
	}
	p.emit = nil
	return p.events, err
}

func (p *JSONParser) emitItem(r *Record) {
	if r.IsAuditEvent() {
		p.emitRecord(r)
	}
}

func (p *JSONParser) emitRecord(r *Record) {
	r.Event(&p.ev, p.time)
	p.events++
	p.emit(&p.ev)
}

// Walk reads doc, one JSON document, with schema (an Object node, such as
// BodySchema, or a few keys of it from Select): rec is reset and given the
// leaves schema names, and every other value is skipped. items is called
// with the leaves of each object of an ObjectList of schema
// (EventList.items) as soon as it is read (its Record is reused: it is
// valid during the call); with a nil items, the list is skipped.
//
// The whole document is checked whatever schema names: Walk returns
// ErrMalformed exactly when encoding/json.Valid refuses doc (items already
// handed over are not taken back), ErrNotAudit when it is valid JSON but
// not an object, and nil otherwise. A repeated key replaces what the
// earlier one set (Record.Unset); a leaf of another type than the mapping
// expects counts as missing.
func (p *JSONParser) Walk(doc []byte, schema *Node, rec *Record, items func(*Record)) error {
	rec.Reset()
	p.sawItems = false
	i := ws(doc, 0)
	object := i < len(doc) && doc[i] == '{'
	if object {
		p.items = items
		i = p.object(doc, i+1, schema, rec, 1)
		p.items = nil
	} else {
		i = p.skip(doc, i, 0)
	}
	switch {
	case i < 0 || ws(doc, i) != len(doc):
		return ErrMalformed
	case !object:
		return ErrNotAudit
	}
	return nil
}

// object reads the members of an object at depth, from just after its
// '{', with n's keys, and returns the index after its '}'.
func (p *JSONParser) object(b []byte, i int, n *Node, rec *Record, depth int) int {
	if i = ws(b, i); i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return bad
		}
		end, esc := str(b, i)
		if end < 0 {
			return bad
		}
		var child *Node
		if !esc {
			child = n.lookup(borrow(b[i+1 : end-1]))
		} else if end-i-2 <= 6*n.keys.maxLen {
			// An escape takes at most 6 bytes per byte it stands for: a
			// longer key is none of n's.
			child = n.lookup(unescape(b[i:end]))
		}
		if i = ws(b, end); i >= len(b) || b[i] != ':' {
			return bad
		}
		switch i = ws(b, i+1); {
		case child != nil:
			i = p.value(b, i, child, rec, depth)
		case i < len(b) && b[i] == '"':
			i, _ = str(b, i)
		default:
			i = p.skip(b, i, depth)
		}
		if i < 0 {
			return bad
		}
		if i = ws(b, i); i >= len(b) {
			return bad
		}
		switch b[i] {
		case ',':
			i = ws(b, i+1)
		case '}':
			return i + 1
		default:
			return bad
		}
	}
}

// value reads the value at b[i] of a member of an object at depth, for
// the mapping's node n. A value of another type than n expects replaces
// what an earlier one set and is skipped.
func (p *JSONParser) value(b []byte, i int, n *Node, rec *Record, depth int) int {
	var c byte
	if i < len(b) {
		c = b[i]
	}
	switch n.Kind {
	case String:
		if c == '"' {
			end, esc := str(b, i)
			if end < 0 {
				return bad
			}
			rec.Set(n.Field, text(b[i:end], esc))
			return end
		}
		rec.Unset(n.fields)
	case StringList:
		// A single string is a one-entry list, as Elasticsearch reads an
		// ip field.
		rec.StartSourceIPs()
		if c == '"' {
			end, esc := str(b, i)
			if end < 0 {
				return bad
			}
			rec.AddSourceIP(text(b[i:end], esc))
			return end
		}
		if c == '[' {
			return p.stringList(b, i+1, rec, depth+1)
		}
	case Object:
		rec.Unset(n.fields)
		if c == '{' {
			if depth+1 > maxDepth {
				return bad
			}
			return p.object(b, i+1, n, rec, depth+1)
		}
	case ObjectList:
		p.sawItems = true
		if c == '[' && p.items != nil {
			return p.objectList(b, i+1, n, depth+1)
		}
	}
	return p.skip(b, i, depth)
}

// stringList reads the elements of a sourceIPs array at depth, from just
// after its '['; elements that are not strings are skipped.
func (p *JSONParser) stringList(b []byte, i int, rec *Record, depth int) int {
	if depth > maxDepth {
		return bad
	}
	if i = ws(b, i); i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i < len(b) && b[i] == '"' {
			end, esc := str(b, i)
			if end < 0 {
				return bad
			}
			rec.AddSourceIP(text(b[i:end], esc))
			i = end
		} else if i = p.skip(b, i, depth); i < 0 {
			return bad
		}
		var end bool
		if i, end = listNext(b, i); end {
			return i
		}
	}
}

// listNext reads what follows an element of a list: a comma (end false, i
// at the next element) or the closing bracket (end true, i past it);
// anything else is bad, and ends the list.
func listNext(b []byte, i int) (next int, end bool) {
	if i = ws(b, i); i >= len(b) {
		return bad, true
	}
	switch b[i] {
	case ',':
		return ws(b, i+1), false
	case ']':
		return i + 1, true
	}
	return bad, true
}

// objectList reads the elements of an EventList's items array at depth,
// from just after its '[', handing each object's leaves to p.items as soon
// as it is read, so that a large list is never held.
func (p *JSONParser) objectList(b []byte, i int, n *Node, depth int) int {
	if depth > maxDepth {
		return bad
	}
	if i = ws(b, i); i < len(b) && b[i] == ']' {
		return i + 1
	}
	items := p.items
	for {
		if i < len(b) && b[i] == '{' {
			if depth+1 > maxDepth {
				return bad
			}
			p.item.Reset()
			p.items = nil // p.item is in use: a list inside an item is skipped
			i = p.object(b, i+1, n, &p.item, depth+1)
			p.items = items
			if i < 0 {
				return bad
			}
			items(&p.item)
		} else if i = p.skip(b, i, depth); i < 0 {
			return bad
		}
		var end bool
		if i, end = listNext(b, i); end {
			return i
		}
	}
}

// text is the content of a scanned string (quotes included): a view into
// the document, or, when it holds an escape, a new string unescaped.
func text(quoted []byte, esc bool) string {
	if esc {
		return unescape(quoted)
	}
	return borrow(quoted[1 : len(quoted)-1])
}

// unescape decodes a scanned string (quotes included) exactly as
// encoding/json does, the reading every other tool here (and test/model)
// makes of a line: invalid UTF-8 and lone surrogates become U+FFFD, and a
// surrogate escape that pairs with the next is one character.
// (json-iterator's ReadString differs on "\ud800\ud800\udc00".)
func unescape(quoted []byte) string {
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return "" // not reached: the scanner accepted the string
	}
	return s
}
