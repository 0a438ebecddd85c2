package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// validityCases are the edges of RFC 8259 where a scanner could differ from
// encoding/json.Valid; want is Parse's verdict, written out.
var validityCases = []struct {
	doc  string
	want error // nil, ErrNotAudit or ErrMalformed
}{
	{`{"verb":"get","stage":"x"}`, nil},
	{" \t\r\n{\"verb\":\"get\",\"stage\":\"x\"} \t\r\n", nil}, // the four whitespace bytes
	{"\f{}", ErrMalformed},                                    // form feed is not JSON whitespace
	{"\xef\xbb\xbf{}", ErrMalformed},                          // a byte order mark is not either
	{"{}\x00", ErrMalformed},                                  // nor NUL
	{"", ErrMalformed},                                        // no value
	{" ", ErrMalformed},                                       // no value
	{`{}`, ErrNotAudit},                                       // valid, another kind
	{`[]`, ErrNotAudit},                                       // top-level non-objects are valid JSON
	{`"verb"`, ErrNotAudit},                                   //
	{`-0.5e+3`, ErrNotAudit},                                  //
	{`null`, ErrNotAudit},                                     //
	{`{}x`, ErrMalformed},                                     // trailing garbage
	{`{}{}`, ErrMalformed},                                    // two documents
	{`1 2`, ErrMalformed},                                     //
	{`{"a":01}`, ErrMalformed},                                // leading zero
	{`{"a":-}`, ErrMalformed},                                 // a sign alone
	{`{"a":1.}`, ErrMalformed},                                // no fraction digits
	{`{"a":.5}`, ErrMalformed},                                // no integer part
	{`{"a":1e}`, ErrMalformed},                                // no exponent digits
	{`{"a":1e+}`, ErrMalformed},                               //
	{`{"a":+1}`, ErrMalformed},                                // no plus sign
	{`{"a":-0.0E-0}`, ErrNotAudit},                            // every part of a number
	{`{"a":tru}`, ErrMalformed},                               // short literal
	{`{"a":truex}`, ErrMalformed},                             // literal run on
	{`{"a":True}`, ErrMalformed},                              // literals are lower case
	{`{"a":[1,]}`, ErrMalformed},                              // trailing comma
	{`{"a":1,}`, ErrMalformed},                                //
	{`{,}`, ErrMalformed},                                     //
	{`{"a"}`, ErrMalformed},                                   // no value
	{`{"a" 1}`, ErrMalformed},                                 // no colon
	{`{"a":[}`, ErrMalformed},                                 // crossed brackets
	{`{"a":{]}`, ErrMalformed},                                //
	{`{'a':1}`, ErrMalformed},                                 // single quotes
	{`{a:1}`, ErrMalformed},                                   // bare key
	{"{\"a\":\"x\ty\"}", ErrMalformed},                        // a control character in a string
	{"{\"a\":\"x\x7fy\"}", ErrNotAudit},                       // DEL is not one
	{"{\"a\":\"\xff\xfe\"}", ErrNotAudit},                     // invalid UTF-8 in a string is accepted
	{"{\"verb\":\"g\xffet\",\"stage\":\"x\"}", nil},
	{`{"a":"\x"}`, ErrMalformed},     // unknown escape
	{`{"a":"\u12"}`, ErrMalformed},   // short \u
	{`{"a":"\u12G4"}`, ErrMalformed}, //
	{`{"a":"\ud800"}`, ErrNotAudit},  // a lone surrogate is accepted
	{`{"a":"\"}`, ErrMalformed},      // escaped closing quote
	{`{"a":"\\"}`, ErrNotAudit},      //
	{`{"a":"x`, ErrMalformed},        // unterminated string
	{`{"verb":"get","stage":"x"`, ErrMalformed},
	{`{"verb":"get","verb":"list","stage":"x"}`, nil}, // duplicate keys: the last wins
	{`{"verb":"get","stage":"x","items":[]}`, nil},
	{`{"items":5}`, nil},                                                // an EventList with an odd items
	{`{"verb":"get","stage":"x","user":{"username":1,}}`, ErrMalformed}, // inside the mapping
	{`{"verb":"get","stage":"x","sourceIPs":["a" "b"]}`, ErrMalformed},
	{`{"items":[{"verb":"get","stage":"x"} {}]}`, ErrMalformed},
	{`{"items":[{"verb":"get","stage":"x"}],"x":]`, ErrMalformed},
	{`{"ver\u0062":"get","stage":"x"}`, nil}, // an escaped key is read unescaped
	{strings.Repeat("[", 10000) + strings.Repeat("]", 10000), ErrNotAudit},
	{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), ErrMalformed}, // encoding/json's depth limit
	{`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, ErrNotAudit},
	{`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, ErrMalformed},
	{`{"items":[` + strings.Repeat(`{"a":`, 9998) + `1` + strings.Repeat(`}`, 9998) + `]}`, nil},
	{`{"items":[` + strings.Repeat(`{"a":`, 9999) + `1` + strings.Repeat(`}`, 9999) + `]}`, ErrMalformed},
}

func TestValidity(t *testing.T) {
	p := NewJSONParser()
	for _, c := range validityCases {
		_, err := p.Parse([]byte(c.doc), 0, func(*Event) {})
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%.60q: %v, want %v", c.doc, err, c.want)
		}
		if json.Valid([]byte(c.doc)) != !errors.Is(c.want, ErrMalformed) {
			t.Errorf("%.60q: the case disagrees with encoding/json.Valid", c.doc)
		}
	}
}

// TestUnescapeAsEncodingJSON: a string with an escape reads as
// encoding/json reads it, surrogates included.
func TestUnescapeAsEncodingJSON(t *testing.T) {
	for _, s := range []string{`\ud800\ud800\udc00`, `\udc00\ud83d\ude00`, `\ud800A`, `\ud800`, `a\"b\\c\/\b\f\n\r\t`, "\\n\xff", `\u00e9`} {
		doc := `{"verb":"get","stage":"x","userAgent":"` + s + `"}`
		var ref struct{ UserAgent string }
		if err := json.Unmarshal([]byte(doc), &ref); err != nil {
			t.Fatal(err)
		}
		got := ""
		if _, err := NewJSONParser().Parse([]byte(doc), 0, func(ev *Event) { got = ev.UserAgent }); err != nil {
			t.Fatal(err)
		}
		if got != ref.UserAgent {
			t.Errorf("%s: %q, encoding/json %q", s, got, ref.UserAgent)
		}
	}
}

// TestSelect: a walk with a few top-level keys reads them, skips the rest
// and still checks the whole document.
func TestSelect(t *testing.T) {
	times := EventSchema.Select("requestReceivedTimestamp", "stageTimestamp", "timestamp")
	p := NewJSONParser()
	var r Record
	if err := p.Walk([]byte(sampleGet), times, &r, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := ParseTime("2026-11-25T10:00:00.123456Z")
	if got := r.Time(0); got != want || r.Has(Verb) || r.Has(User) {
		t.Fatalf("time %d (want %d), verb %v, user %v", got, want, r.Has(Verb), r.Has(User))
	}
	if err := p.Walk([]byte(sampleGet[:len(sampleGet)-1]), times, &r, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
}

func BenchmarkSelectTime(b *testing.B) {
	times := EventSchema.Select("requestReceivedTimestamp", "stageTimestamp", "timestamp")
	p := NewJSONParser()
	var r Record
	line := []byte(sampleGet)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Walk(line, times, &r, nil)
		r.Time(0)
	}
}

// TestStopBytes holds the eight-byte step to a byte-by-byte reading: the
// lowest flagged byte is the first quote, backslash or control character.
func TestStopBytes(t *testing.T) {
	const seed = 11
	r := rand.New(rand.NewPCG(seed, seed))
	interesting := []byte{0, 0x1f, 0x20, '"', '\\', 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff}
	var b [8]byte
	for n := 0; n < 1_000_000; n++ {
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = interesting[r.IntN(len(interesting))]
			} else {
				b[i] = byte(r.Uint32())
			}
		}
		want := 8
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		got := 8
		if m := stopBytes(binary.LittleEndian.Uint64(b[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("seed %d, %q: first stop byte %d, want %d", seed, b, got, want)
		}
	}
}
