package audit

import (
	"encoding/binary"
	"math/bits"
)

// The structural scan of a JSON document: where each token ends, and
// whether the bytes are RFC 8259 JSON, exactly as encoding/json.Valid
// decides (FuzzParseJSON holds it to that). It decodes nothing: a string
// is located, not unescaped (unescape does that, with
// encoding/json), and values are never built. It is hand-written because
// no maintained library skips JSON without allocating and validates what
// it skips; it is kept to this file.
//
// Each function takes the index of a token's first byte and returns the
// index just past it, or bad.

const bad = -1

// maxDepth bounds nesting; the outermost container is depth 1. It is
// encoding/json's limit (and json-iterator's, and plugin/record's), so a
// document is refused at the same depth by each.
const maxDepth = 10000

// scanner holds the kinds of the open containers of a skip: bit d of open
// is set when the container at depth d is an object. It is fixed-size, so
// that skipping any document allocates nothing.
type scanner struct {
	open [maxDepth/64 + 1]uint64
}

// ws skips JSON whitespace.
func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Words of eight equal bytes, for scanning a string eight bytes at a time.
const (
	ones    = 0x0101010101010101
	highs   = 0x8080808080808080
	quotes  = ones * '"'
	slashes = ones * '\\'
	spaces  = ones * 0x20
)

// stopBytes has the high bit of every byte of w (little-endian) that ends
// a run of plain string bytes (a quote, a backslash or a control
// character) set, and possibly of bytes after the first of those: only its
// lowest set bit is meaningful. (A byte x is zero when (x-1) &^ x has its
// high bit set, and below 0x20 when (x-0x20) &^ x has; a borrow starts
// only at such a byte and spills upwards.)
func stopBytes(w uint64) uint64 {
	q, s := w^quotes, w^slashes
	return ((q-ones)&^q | (s-ones)&^s | (w-spaces)&^w) & highs
}

// str scans the string whose opening quote is b[i]. esc reports a
// backslash in it: its content is then not the bytes between the quotes.
func str(b []byte, i int) (end int, esc bool) {
	i++
	for {
		for i+8 <= len(b) {
			if m := stopBytes(binary.LittleEndian.Uint64(b[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return bad, esc
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return bad, esc
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return bad, esc
				}
				i += 6
			default:
				return bad, esc
			}
		case c < 0x20:
			return bad, esc
		default:
			i++ // a plain byte of the last seven
		}
	}
}

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. What may
// follow it is the caller's to check, as after any value.
func number(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return bad
	case b[i] == '0':
		i++
	case b[i]-'1' < 9:
		i = intDigits(b, i+1)
	default:
		return bad
	}
	if i < len(b) && b[i] == '.' {
		j := intDigits(b, i+1)
		if j == i+1 {
			return bad
		}
		i = j
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := intDigits(b, i)
		if j == i {
			return bad
		}
		i = j
	}
	return i
}

func intDigits(b []byte, i int) int {
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	return i
}

// literal scans true, false or null.
func literal(b []byte, i int) int {
	rest := b[i:]
	switch {
	case len(rest) >= 4 && (string(rest[:4]) == "true" || string(rest[:4]) == "null"):
		return i + 4
	case len(rest) >= 5 && string(rest[:5]) == "false":
		return i + 5
	}
	return bad
}

// member scans an object member's key and colon, from the key's opening
// quote, and returns the index of its value.
func member(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return bad
	}
	if i, _ = str(b, i); i < 0 {
		return bad
	}
	if i = ws(b, i); i >= len(b) || b[i] != ':' {
		return bad
	}
	return ws(b, i+1)
}

// skip scans the value at b[i] (whitespace skipped) inside depth open
// containers, and every container it opens, without recursion.
func (s *scanner) skip(b []byte, i, depth int) int {
	base := depth
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return bad
		}
		switch c := b[i]; c {
		case '"':
			i, _ = str(b, i)
		case '{', '[':
			if depth++; depth > maxDepth {
				return bad
			}
			word, bit := &s.open[depth>>6], uint64(1)<<(depth&63)
			if i = ws(b, i+1); c == '{' {
				*word |= bit
				if i < len(b) && b[i] == '}' {
					i, depth = i+1, depth-1
					break
				}
				i = member(b, i)
			} else {
				*word &^= bit
				if i < len(b) && b[i] == ']' {
					i, depth = i+1, depth-1
					break
				}
			}
			if i < 0 {
				return bad
			}
			continue // the first element
		case 't', 'f', 'n':
			i = literal(b, i)
		default:
			i = number(b, i)
		}
		if i < 0 {
			return bad
		}
		// After a value: close the containers it ends, up to the next
		// element or the end of the value skipped.
		for depth > base {
			if i = ws(b, i); i >= len(b) {
				return bad
			}
			obj := s.open[depth>>6]&(1<<(depth&63)) != 0
			if c := b[i]; c == ',' {
				if i = ws(b, i+1); obj {
					i = member(b, i)
				}
				break
			} else if obj && c == '}' || !obj && c == ']' {
				i++
				depth--
				continue
			}
			return bad
		}
		if depth == base || i < 0 {
			return i
		}
	}
}
