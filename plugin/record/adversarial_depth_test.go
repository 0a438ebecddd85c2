package record

// Adversarial nesting at the depth limit: for a document nested just below,
// at and just above the decoders' limit (10 000 levels), in every place a
// hostile client can reach (an unread value, an object of the mapping, an
// EventList item), the msgpack map Fluent Bit makes of it and the same
// document as a log string give what audit.JSONParser gives: the same
// events, and a malformed record exactly when the JSON is refused.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func TestAdversarialDepthAgreement(t *testing.T) {
	nest := func(d int, obj bool) string {
		if obj {
			return strings.Repeat(`{"a":`, d) + "1" + strings.Repeat("}", d)
		}
		return strings.Repeat("[", d) + "1" + strings.Repeat("]", d)
	}
	// The msgpack of a nested value is built directly (converting the JSON
	// costs time quadratic in the depth) and put in place of a placeholder.
	const placeholder = "@DEEP@"
	nestMP := func(d int, obj bool) []byte {
		if obj {
			return append(bytes.Repeat([]byte{0x81, 0xa1, 'a'}, d), 0x01)
		}
		return append(bytes.Repeat([]byte{0x91}, d), 0x01)
	}
	ph := msgp.AppendString(nil, placeholder)
	head := strings.TrimSuffix(sampleGet, "}")
	places := []struct {
		name string
		doc  func(deep string) string
	}{
		{"unread-top-level", func(deep string) string { return head + `,"requestObject":` + deep + "}" }},
		{"unread-in-objectRef", func(deep string) string {
			return strings.Replace(sampleGet, `"objectRef":{`, `"objectRef":{"x":`+deep+",", 1)
		}},
		{"unread-in-user", func(deep string) string {
			return strings.Replace(sampleGet, `"user":{`, `"user":{"extra2":`+deep+",", 1)
		}},
		{"eventlist-item", func(deep string) string { return eventList(sampleGet, head+`,"responseObject":`+deep+"}") }},
	}
	for _, p := range places {
		for _, obj := range []bool{true, false} {
			accepted, refusedN := 0, 0
			for _, d := range []int{9995, 9996, 9997, 9998, 9999, 10000, 10001} {
				name := fmt.Sprintf("%s/obj=%v/depth=%d", p.name, obj, d)
				doc := p.doc(nest(d, obj))
				want, err := jsonEvents(t, doc, 0)
				refused := err != nil && err.Error() != "not an audit event"
				body := bytes.Replace(mp(t, p.doc(`"`+placeholder+`"`)), ph, nestMP(d, obj), 1)
				got := decodeAll(t, Options{}, v2(nil, tsFixExt8(0, 0), body))
				logd := decodeAll(t, Options{}, v2(nil, tsFixExt8(0, 0), logBody("log", doc)))
				if refused {
					refusedN++
					// A refused document emits nothing from the msgpack
					// decoder; the JSON decoder may have emitted EventList
					// items before the error (documented), so only the
					// verdict is compared.
					if got.counts.Malformed != 1 || len(got.events) != 0 {
						t.Errorf("%s: JSON refuses (%.40v), msgpack gives %d events, counts %+v", name, err, len(got.events), got.counts)
					}
					if logd.counts.Malformed != 1 {
						t.Errorf("%s: JSON refuses, as a log string counts %+v", name, logd.counts)
					}
					continue
				}
				accepted++
				if got.counts.Malformed != 0 || !sameEvents(got.events, want) {
					t.Errorf("%s: JSON accepts with %d events, msgpack gives %d, counts %+v", name, len(want), len(got.events), got.counts)
				}
				if logd.counts.Malformed != 0 || !sameEvents(logd.events, want) {
					t.Errorf("%s: JSON accepts with %d events, as a log string %d, counts %+v", name, len(want), len(logd.events), logd.counts)
				}
			}
			if accepted == 0 || refusedN == 0 {
				t.Errorf("%s/obj=%v: the depths tried do not cross the limit (%d accepted, %d refused)", p.name, obj, accepted, refusedN)
			}
		}
	}
}
