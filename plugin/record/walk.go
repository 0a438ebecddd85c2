package record

import (
	"errors"

	"github.com/tinylib/msgp/msgp"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

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
		return audit.Borrow(v), rest, true, nil
	}
	// A leaf is a str in every audit record: try that first, ask the type
	// only when it is not.
	v, rest, err := msgp.ReadStringZC(b)
	if err == nil {
		return audit.Borrow(v), rest, true, nil
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
	return audit.Borrow(v), rest, true, nil
}

// walk reads the n entries of a map (at depth) with node's keys, handing
// the leaves to rec. In the body map (top) the RecordKey string and
// EventList items are looked for too. A repeated key replaces what the
// earlier one set, as in the JSON decoder.
func (d *Decoder) walk(b []byte, n uint32, idx *keyIndex, rec *audit.Record, depth int, top bool) ([]byte, error) {
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
				case slot.child.Kind == audit.String:
					start, end := v+1, v+1+int(c&0x1f)
					if c == leadStr8 && v+1 < len(b) {
						start, end = v+2, v+2+int(b[v+1])
					} else if c&0xe0 != leadFixstr {
						end = len(b) + 1
					}
					if end <= len(b) {
						rec.Set(slot.child.Field, audit.Borrow(b[start:end]))
						p = end
						continue
					}
				case slot.child.Kind == audit.Object && c&0xf0 == leadFixmap && depth < maxDepth:
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
func (d *Decoder) entry(b []byte, idx *keyIndex, rec *audit.Record, depth int, top bool, left uint32) ([]byte, error) {
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
func (d *Decoder) value(b []byte, slot *keySlot, rec *audit.Record, depth int, top bool, left uint32) ([]byte, error) {
	child := slot.child
	switch child.Kind {
	case audit.String:
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
	case audit.StringList:
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
	case audit.Object:
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
	case audit.ObjectList:
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
func (d *Decoder) stringList(b []byte, n uint32, rec *audit.Record, depth int) ([]byte, error) {
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
			d.pending = append(d.pending, audit.Record{})
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
