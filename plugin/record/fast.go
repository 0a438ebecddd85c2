package record

// Fast paths for the few msgpack encodings that make up nearly every byte
// of an audit record: fixstr and str8 strings (keys and values), fixmap and
// fixarray containers, fixed-size scalars. The hot loops read these
// inline, without a call that returns an interface error, and
// hands anything else to github.com/tinylib/msgp, which stays the reader of
// record for every encoding and every malformed byte: each helper here
// answers ok=false rather than deciding on an input it does not fully
// understand. BENCHMARKS.md has the measurement behind this split.

const (
	leadFixmap   = 0x80 // 0x80-0x8f: map of up to 15 entries
	leadFixarray = 0x90 // 0x90-0x9f: array of up to 15 elements
	leadFixstr   = 0xa0 // 0xa0-0xbf: string of up to 31 bytes
	leadNil      = 0xc0
	leadFalse    = 0xc2
	leadTrue     = 0xc3
	leadStr8     = 0xd9
	leadNegFix   = 0xe0 // 0xe0-0xff: negative fixint
)

// fastStr reads a fixstr or str8 string. ok is false for anything else,
// including a string that runs past the end of b: msgp decides those.
func fastStr(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, b, false
	}
	var n, h int
	switch c := b[0]; {
	case c&0xe0 == leadFixstr:
		n, h = int(c&0x1f), 1
	case c == leadStr8:
		n, h = int(b[1]), 2
	default:
		return nil, b, false
	}
	if len(b) < h+n {
		return nil, b, false
	}
	return b[h : h+n], b[h+n:], true
}

// scalarSize[c] is the whole encoded size of a value whose lead byte is c
// when that size is fixed by the lead byte alone: fixints, nil, booleans,
// fixstr, numbers, fixext. It is 0 for the rest (containers, str8-32,
// bin8-32, ext8-32, and the never-used 0xc1), which go the slow way.
// TestFastPathsAgreeWithMsgp holds the table to msgp.Skip for every lead
// byte.
var scalarSize = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c < leadFixmap, c >= leadNegFix, c == leadNil, c == leadFalse, c == leadTrue: // fixints, nil, booleans
			t[c] = 1
		case c&0xe0 == leadFixstr:
			t[c] = uint8(1 + c&0x1f)
		}
	}
	for c, n := range map[int]uint8{
		0xca: 5, 0xcb: 9, // float32, float64
		0xcc: 2, 0xcd: 3, 0xce: 5, 0xcf: 9, // uint8-64
		0xd0: 2, 0xd1: 3, 0xd2: 5, 0xd3: 9, // int8-64
		0xd4: 3, 0xd5: 4, 0xd6: 6, 0xd7: 10, 0xd8: 18, // fixext1-16
	} {
		t[c] = n
	}
	return t
}()

// skipScalar skips a value of a fixed-size encoding or a str8. ok is false
// for anything else (containers included) and for a value that runs past
// the end of b.
func skipScalar(b []byte) (rest []byte, ok bool) {
	if len(b) < 2 {
		return skipScalar1(b)
	}
	n := int(scalarSize[b[0]])
	if b[0] == leadStr8 {
		n = 2 + int(b[1])
	}
	if n == 0 || len(b) < n {
		return b, false
	}
	return b[n:], true
}

// skipScalar1 is skipScalar for the last byte of a payload.
func skipScalar1(b []byte) (rest []byte, ok bool) {
	if len(b) == 1 && scalarSize[b[0]] == 1 {
		return b[1:], true
	}
	return b, false
}

// fixmapLen returns the entry count of a fixmap at the start of b.
func fixmapLen(b []byte) (n uint32, ok bool) {
	if len(b) == 0 || b[0]&0xf0 != leadFixmap {
		return 0, false
	}
	return uint32(b[0] & 0x0f), true
}

// fixarrayLen returns the element count of a fixarray at the start of b.
func fixarrayLen(b []byte) (n uint32, ok bool) {
	if len(b) == 0 || b[0]&0xf0 != leadFixarray {
		return 0, false
	}
	return uint32(b[0] & 0x0f), true
}
