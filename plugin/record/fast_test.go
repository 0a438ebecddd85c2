package record

import (
	"bytes"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// The fast paths must agree with msgp wherever they answer: for every lead
// byte, followed by enough bytes or too few, skipScalar skips exactly what
// msgp.Skip skips, and fastStr reads exactly what msgp.ReadStringZC reads.
func TestFastPathsAgreeWithMsgp(t *testing.T) {
	tails := [][]byte{nil, {0}, {3, 'a', 'b', 'c', 0xc0}, bytes.Repeat([]byte{0x21}, 40), bytes.Repeat([]byte{0xff}, 300)}
	for c := 0; c < 256; c++ {
		for _, tail := range tails {
			for cut := 0; cut <= len(tail); cut++ {
				b := append([]byte{byte(c)}, tail[:cut]...)
				if rest, ok := skipScalar(b); ok {
					want, err := msgp.Skip(b)
					if err != nil || len(rest) != len(want) {
						t.Fatalf("skipScalar(% x) left %d bytes, msgp.Skip %d (%v)", b, len(rest), len(want), err)
					}
					if typ := msgp.NextType(b); typ == msgp.MapType || typ == msgp.ArrayType {
						t.Fatalf("skipScalar(% x) skipped a container", b)
					}
				}
				if v, rest, ok := fastStr(b); ok {
					want, wantRest, err := msgp.ReadStringZC(b)
					if err != nil || !bytes.Equal(v, want) || len(rest) != len(wantRest) {
						t.Fatalf("fastStr(% x) = %q, %d left; msgp %q, %d left (%v)", b, v, len(rest), want, len(wantRest), err)
					}
				}
				if n, ok := fixmapLen(b); ok {
					if want, _, err := msgp.ReadMapHeaderBytes(b); err != nil || n != want {
						t.Fatalf("fixmapLen(% x) = %d, msgp %d (%v)", b, n, want, err)
					}
				}
				if n, ok := fixarrayLen(b); ok {
					if want, _, err := msgp.ReadArrayHeaderBytes(b); err != nil || n != want {
						t.Fatalf("fixarrayLen(% x) = %d, msgp %d (%v)", b, n, want, err)
					}
				}
			}
		}
	}
	// And they answer for what audit records are made of.
	for _, b := range [][]byte{msgp.AppendString(nil, "verb"), msgp.AppendString(nil, string(bytes.Repeat([]byte{'x'}, 200))),
		msgp.AppendInt(nil, 200), msgp.AppendNil(nil), msgp.AppendBool(nil, true), msgp.AppendFloat64(nil, 1.5)} {
		if _, ok := skipScalar(b); !ok {
			t.Errorf("skipScalar(% x) took the slow path", b[:min(len(b), 4)])
		}
	}
}
