package record

import (
	"math"

	"github.com/tinylib/msgp/msgp"
)

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
