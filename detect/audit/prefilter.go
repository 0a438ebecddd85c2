package audit

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The necessary-bytes prefilter. A matching event's objectRef.resource is
// "secrets", so its bytes hold those, unless the value is written with a
// \u escape (the only escape that can stand for a letter), and its verb is
// get. An event failing either cannot match: only its time matters to the
// rule (it moves the watermark), so the document is read by skim, which
// checks it exactly as Walk does and reads only the keys that decide
// whether an object is an audit event, its verb and its time; an event
// that may match is then read again whole. Everything observable is
// Parse's: the same events in the same order (with the fields the rule
// does not need left empty when it cannot match), the same errors. The
// whole document is checked either way: a malformed line must not move
// the watermark.

// MayMatch reports whether doc holds the bytes `secrets` or `\u`: a
// document without either cannot hold a matching event.
func MayMatch(doc []byte) bool {
	return hasEscapeU(doc) || hasSecrets(doc)
}

// hasEscapeU reports whether doc holds a backslash followed by a u. A
// backslash is rare in an audit line (escaped quotes in an RBAC reason),
// and bytes.IndexByte finds it with vector instructions.
func hasEscapeU(doc []byte) bool {
	for {
		i := bytes.IndexByte(doc, '\\')
		if i < 0 || i+1 >= len(doc) {
			return false
		}
		if doc[i+1] == 'u' {
			return true
		}
		doc = doc[i+1:]
	}
}

const secrets = "secrets"

// hasSecrets reports whether doc holds the bytes `secrets`. It looks at
// sixteen positions per step for an s with a c two bytes further (rare in
// audit lines, unlike an s alone, which makes bytes.Index fall back to a
// loop over every byte) and compares only there.
func hasSecrets(doc []byte) bool {
	i := 0
	for ; len(doc)-i >= 18; i += 16 {
		w := doc[i : i+18 : i+18] // one bounds check for the four loads
		s0 := binary.LittleEndian.Uint64(w[0:8]) ^ (ones * 's')
		s1 := binary.LittleEndian.Uint64(w[8:16]) ^ (ones * 's')
		c0 := binary.LittleEndian.Uint64(w[2:10]) ^ (ones * 'c')
		c1 := binary.LittleEndian.Uint64(w[10:18]) ^ (ones * 'c')
		// Zero bytes of s and c, and possibly bytes above a zero byte
		// (the borrow), never a zero byte missed: candidates only.
		m0 := (s0 - ones) &^ s0 & (c0 - ones) &^ c0 & highs
		m1 := (s1 - ones) &^ s1 & (c1 - ones) &^ c1 & highs
		if m0|m1 != 0 && (candidate(doc, i, m0) || candidate(doc, i+8, m1)) {
			return true
		}
	}
	return bytes.Contains(doc[i:], []byte(secrets))
}

// candidate checks the positions i + (bit index / 8) of m for secrets.
func candidate(doc []byte, i int, m uint64) bool {
	for ; m != 0; m &= m - 1 {
		j := i + bits.TrailingZeros64(m)>>3
		if j+len(secrets) <= len(doc) && string(doc[j:j+len(secrets)]) == secrets {
			return true
		}
	}
	return false
}

// The keys skim reads: what IsAuditEvent and Record.Time read, at the top
// of a document and in each EventList item.
var (
	timeKeys = []string{"kind", "auditID", "stage", "verb", "requestReceivedTimestamp", "stageTimestamp", "timestamp"}
	skimItem = EventSchema.Select(timeKeys...)
	skimBody = BodySchema.Select(append(timeKeys, "items")...)
)

func init() {
	// Select drops a key the schema does not have: a renamed key must not
	// silently leave an event without its time.
	if len(skimItem.children) != len(timeKeys) || len(skimBody.children) != len(timeKeys)+1 {
		panic("audit: a prefilter key is not in the schema")
	}
}

// ParsePrefiltered is Parse for the rule, with less work: an audit event
// (the document, or an EventList item) is read whole only when its verb
// is get and its bytes hold `secrets` or `\u` (MayMatch); any other is
// read for what ParseTimes reads. The verb comes first because skim reads
// it anyway, and most events are not gets: the byte search is then not
// made at all. Both conditions are necessary for a match (the rule's verb
// is get and its resource secrets), so the rule sees the same events.
func (p *JSONParser) ParsePrefiltered(doc []byte, recordTime int64, emit func(*Event)) (int, error) {
	return p.parseTimes(doc, recordTime, emit, true)
}

// ParseTimes is Parse reading only what decides whether an object is an
// audit event (kind, auditID, stage, verb) and its time: the events it
// emits have their Time (and those four fields) and nothing else, so none
// of them can match the rule. It checks the whole document as Parse does,
// returns the same errors and emits the same number of events in the same
// order.
func (p *JSONParser) ParseTimes(doc []byte, recordTime int64, emit func(*Event)) (int, error) {
	return p.parseTimes(doc, recordTime, emit, false)
}

// parseTimes is ParseTimes, or with gate ParsePrefiltered.
func (p *JSONParser) parseTimes(doc []byte, recordTime int64, emit func(*Event), gate bool) (int, error) {
	p.emit, p.time, p.events = emit, recordTime, 0
	p.rec.Reset()
	p.sawItems = false
	i := sp(doc, 0)
	object := i < len(doc) && doc[i] == '{'
	if object {
		i = p.skim(doc, i, &p.rec, gate)
	} else {
		i = p.skip(doc, i, 0)
	}
	var err error
	switch {
	case i < 0 || ws(doc, i) != len(doc):
		err = ErrMalformed
	case !object:
		err = ErrNotAudit
	case p.rec.IsAuditEvent():
		if gate && mayMatch(&p.rec, doc) {
			p.Walk(doc, BodySchema, &p.rec, nil) // valid: skim said so
		}
		p.emitRecord(&p.rec)
	case !p.sawItems:
		err = ErrNotAudit
	}
	p.emit = nil
	return p.events, err
}

// mayMatch reports whether the object whose bytes are b, of which r holds
// what skim reads, may be a matching event.
func mayMatch(r *Record, b []byte) bool {
	return r.Get(Verb) == "get" && MayMatch(b)
}

// itemSchema is what Walk reads of an EventList item.
var itemSchema = BodySchema.children["items"]

// skim reads the object whose '{' is b[i] and everything in it in one loop
// (no call per string, unlike skip): it accepts exactly what skip accepts,
// hands the string leaves of skimBody's keys at the top to rec, and for
// each object of a top-level items array, the leaves of skimItem's keys to
// p.item, emitting it when it closes, as Walk does (with gate, an item
// that may match is read again whole first). It returns the index after
// the object, or bad.
func (p *JSONParser) skim(b []byte, i int, rec *Record, gate bool) int {
	const top = 1
	depth := top
	p.open[0] |= 1 << top
	list := 0        // depth of the top-level items array being read, 0: none
	var leaf *Node   // the node of the member whose value is next, nil: not read
	var into *Record // where leaf's value goes
	key := true      // a key comes next, not a value
	obj := true      // the container at depth is an object
	item := 0        // where the item being read starts
	if i = sp(b, i+1); i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		// A key or a value starts at b[i].
		if i >= len(b) {
			return bad
		}
		c := b[i]
		if c == '"' {
			start, esc := i, false
			i++
		str:
			for {
				for i+8 <= len(b) {
					if m := stopBytes(binary.LittleEndian.Uint64(b[i : i+8 : i+8])); m != 0 {
						i += bits.TrailingZeros64(m) >> 3
						break
					}
					i += 8
				}
				if i >= len(b) {
					return bad
				}
				switch c := b[i]; {
				case c == '"':
					i++
					break str
				case c == '\\':
					esc = true
					if i+1 >= len(b) {
						return bad
					}
					switch b[i+1] {
					case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
						i += 2
					case 'u':
						if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
							return bad
						}
						i += 6
					default:
						return bad
					}
				case c < 0x20:
					return bad
				default:
					i++
				}
			}
			if key {
				leaf = nil
				var n *Node
				switch {
				case depth == top:
					n, into = skimBody, rec
				case list != 0 && depth == list+1:
					n, into = skimItem, &p.item
				}
				if n != nil {
					if !esc {
						leaf = n.lookup(borrow(b[start+1 : i-1]))
					} else if i-start-2 <= 6*n.keys.maxLen {
						leaf = n.lookup(unescape(b[start:i]))
					}
				}
				if i < len(b) && b[i] == ':' {
					i++
				} else if i = ws(b, i); i < len(b) && b[i] == ':' {
					i++
				} else {
					return bad
				}
				i = sp(b, i)
				key = false
				continue
			}
			if leaf != nil {
				if leaf.Kind == String {
					into.Set(leaf.Field, text(b[start:i], esc))
				} else {
					p.sawItems = true // an items key whose value is not a list
				}
				leaf = nil
			}
		} else {
			if key {
				return bad
			}
			if leaf != nil {
				if leaf.Kind == ObjectList {
					p.sawItems = true
					if c == '[' {
						list = depth + 1
					}
				} else {
					into.Unset(leaf.fields)
				}
				leaf = nil
			}
			switch c {
			case '{', '[':
				if depth++; depth > maxDepth {
					return bad
				}
				word, bit := &p.open[depth>>6], uint64(1)<<(depth&63)
				if obj = c == '{'; obj {
					*word |= bit
					if list != 0 && depth == list+1 {
						p.item.Reset()
						item = i
					}
				} else {
					*word &^= bit
				}
				if i = sp(b, i+1); i < len(b) && b[i] == c+2 { // '}' or ']': empty
					break
				}
				key = obj
				continue
			case 't', 'f', 'n':
				i = literal(b, i)
			default:
				i = number(b, i)
			}
			if i < 0 {
				return bad
			}
		}
		// After a value: close the containers it ends, up to the next
		// member or element.
		for {
			if i < len(b) && b[i] == ',' {
				i = sp(b, i+1)
				key = obj
				break
			}
			if i = sp(b, i); i >= len(b) {
				return bad
			}
			c := b[i]
			if c == ',' {
				i = sp(b, i+1)
				key = obj
				break
			}
			if obj && c != '}' || !obj && c != ']' {
				return bad
			}
			i++
			switch {
			case depth == top:
				return i
			case obj && list != 0 && depth == list+1:
				if !p.item.IsAuditEvent() {
					break
				}
				if gate && mayMatch(&p.item, b[item:i]) {
					p.item.Reset()
					p.object(b, item+1, itemSchema, &p.item, depth) // valid: just scanned
				}
				p.emitRecord(&p.item)
			case !obj && depth == list:
				list = 0
			}
			depth--
			obj = p.open[depth>>6]&(1<<(depth&63)) != 0
		}
	}
}

// sp is ws for the common case, inline: the API server writes no
// whitespace between tokens.
func sp(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	return ws(b, i)
}
