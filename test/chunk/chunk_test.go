package chunk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleLines(t *testing.T) [][]byte {
	t.Helper()
	lines, err := ReadLines("testdata/audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 5 {
		t.Fatalf("only %d sample lines", len(lines))
	}
	// a string long enough for str16, and one for str32 under Width16
	long := strings.Repeat("x", 70000)
	lines = append(lines, []byte(`{"kind":"Event","auditID":"long","requestURI":"/`+long[:300]+`","annotations":{"big":"`+long+`"}}`))
	return lines
}

// tokens flattens a JSON document into its token stream (order kept,
// numbers normalised so 1.5e3 == 1500 and -0 == 0).
func tokens(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("tokens of %.200s: %v", data, err)
		}
		switch v := tok.(type) {
		case json.Number:
			out = append(out, "n:"+normNumber(string(v)))
		case string:
			out = append(out, "s:"+v)
		case nil:
			out = append(out, "null")
		default:
			out = append(out, fmt.Sprintf("%T:%v", v, v))
		}
	}
}

func normNumber(s string) string {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return strconv.FormatUint(u, 10)
	}
	f, _ := strconv.ParseFloat(s, 64)
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	g, w := tokens(t, got), tokens(t, want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d tokens, want %d\n got: %.300s\nwant: %.300s", what, len(g), len(w), got, want)
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: token %d = %.80q, want %.80q", what, i, g[i], w[i])
		}
	}
}

var widths = []Width{WidthMin, Width8, Width16, Width32}

func TestJSONToMsgpackRoundTrip(t *testing.T) {
	for _, w := range widths {
		for i, line := range sampleLines(t) {
			mp, err := JSONToMsgpack(nil, line, w)
			if err != nil {
				t.Fatalf("width %v line %d: %v", w, i, err)
			}
			js, rest, err := MsgpackToJSON(nil, mp)
			if err != nil || len(rest) != 0 {
				t.Fatalf("width %v line %d: back to JSON: %v (%d bytes left)", w, i, err, len(rest))
			}
			sameJSON(t, fmt.Sprintf("width %v line %d", w, i), js, line)
			ok := map[Width]bool{WidthMin: mp[0]&0xf0 == 0x80 || mp[0] == 0xde, Width8: mp[0] == 0xde,
				Width16: mp[0] == 0xde, Width32: mp[0] == 0xdf}[w]
			if !ok {
				t.Fatalf("width %v: first byte %#x", w, mp[0])
			}
		}
	}
}

func TestJSONTypes(t *testing.T) {
	mp, err := JSONToMsgpack(nil, []byte(`{"u":5,"n":-5,"f":0.5,"big":18446744073709551615,"b":true,"z":null,"s":"x","a":[1,"2"],"o":{}}`), WidthMin)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x89,
		0xa1, 'u', 0x05,
		0xa1, 'n', 0xfb,
		0xa1, 'f', 0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0,
		0xa3, 'b', 'i', 'g', 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xa1, 'b', 0xc3,
		0xa1, 'z', 0xc0,
		0xa1, 's', 0xa1, 'x',
		0xa1, 'a', 0x92, 0x01, 0xa1, '2',
		0xa1, 'o', 0x80,
	}
	if !bytes.Equal(mp, want) {
		t.Fatalf("got  % x\nwant % x", mp, want)
	}
	for _, bad := range []string{`{"a":`, `{"a":1}x`, `nope`, ``} {
		if _, err := JSONToMsgpack(nil, []byte(bad), WidthMin); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := Encode([][]byte{[]byte(`[1,2]`)}, Options{}); err == nil {
		t.Error("a JSON array record should be refused")
	}
}

func TestForcedWidthBytes(t *testing.T) {
	cases := []struct {
		w    Width
		want []byte
	}{
		{WidthMin, []byte{0x81, 0xa1, 'k', 0x91, 0xa1, 'v'}},
		{Width8, []byte{0xde, 0, 1, 0xd9, 1, 'k', 0xdc, 0, 1, 0xd9, 1, 'v'}},
		{Width16, []byte{0xde, 0, 1, 0xda, 0, 1, 'k', 0xdc, 0, 1, 0xda, 0, 1, 'v'}},
		{Width32, []byte{0xdf, 0, 0, 0, 1, 0xdb, 0, 0, 0, 1, 'k', 0xdd, 0, 0, 0, 1, 0xdb, 0, 0, 0, 1, 'v'}},
	}
	for _, c := range cases {
		got, err := JSONToMsgpack(nil, []byte(`{"k":["v"]}`), c.w)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("width %v: got % x, want % x", c.w, got, c.want)
		}
	}
	// too long for the forced form: falls back to the next size up
	if b := AppendString(nil, strings.Repeat("a", 300), Width8); b[0] != 0xda {
		t.Errorf("300-byte str under Width8: %#x, want str16", b[0])
	}
	if b := AppendString(nil, strings.Repeat("a", 70000), Width16); b[0] != 0xdb {
		t.Errorf("70000-byte str under Width16: %#x, want str32", b[0])
	}
}

func TestEnvelopeBytes(t *testing.T) {
	ts := time.Unix(1764064800, 123456789)
	body := []byte{0x80}
	sec := []byte{0x69, 0x25, 0x7e, 0x20} // 1764064800
	nsec := []byte{0x07, 0x5b, 0xcd, 0x15}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		o    Options
		want []byte
	}{
		{"v2 fixext8", Options{}, cat([]byte{0x92, 0x92, 0xd7, 0x00}, sec, nsec, []byte{0x80, 0x80})},
		{"v2 ext8", Options{Time: TimeExt8}, cat([]byte{0x92, 0x92, 0xc7, 0x08, 0x00}, sec, nsec, []byte{0x80, 0x80})},
		{"v1 fixext8", Options{Format: V1}, cat([]byte{0x92, 0xd7, 0x00}, sec, nsec, []byte{0x80})},
		{"v1 uint", Options{Format: V1, Time: TimeUint}, cat([]byte{0x92, 0xce}, sec, []byte{0x80})},
		{"v2 32-bit headers", Options{EnvelopeWidth: Width32}, cat([]byte{0xdd, 0, 0, 0, 2, 0xdd, 0, 0, 0, 2, 0xd7, 0x00}, sec, nsec, []byte{0xdf, 0, 0, 0, 0, 0x80})},
		{"v2 16-bit headers", Options{EnvelopeWidth: Width16}, cat([]byte{0xdc, 0, 2, 0xdc, 0, 2, 0xd7, 0x00}, sec, nsec, []byte{0xde, 0, 0, 0x80})},
	}
	for _, c := range cases {
		if got := AppendRecord(nil, ts, body, c.o); !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got % x\nwant % x", c.name, got, c.want)
		}
	}
	f := AppendRecord(nil, ts, body, Options{Format: V1, Time: TimeFloat})
	if f[1] != 0xcb {
		t.Errorf("float timestamp: % x", f)
	}
}

func TestEncodeDecodeMatrix(t *testing.T) {
	lines := sampleLines(t)[:5] // the 70 kB line is covered by TestJSONToMsgpackRoundTrip
	base := time.Unix(1764064800, 500000000)
	tf := func(i int, _ []byte) time.Time { return base.Add(time.Duration(i) * time.Second) }
	extra := []KV{{"stream", "stdout"}, {"time", "2026-11-25T10:00:00.000000001Z"}}
	for _, format := range []Format{V2, V1} {
		for _, te := range []TimeEncoding{TimeFixExt8, TimeExt8, TimeUint, TimeFloat} {
			for _, ew := range widths {
				for _, bw := range widths {
					for _, shape := range []Shape{ParsedMap, LogString, EventList} {
						o := Options{Format: format, Time: te, EnvelopeWidth: ew, BodyWidth: bw, Shape: shape,
							TimeFunc: tf, ExtraKeys: extra, EventsPerRecord: 2, Metadata: []KV{{"m", "1"}}}
						if shape == LogString {
							o.LogKey = "message"
							o.ExtraKeysFirst = bw == Width16
						}
						name := fmt.Sprintf("%v/%v/env%v/body%v/%v", format, te, ew, bw, shape)
						checkPayload(t, name, lines, o)
					}
				}
			}
		}
	}
}

func checkPayload(t *testing.T, name string, lines [][]byte, o Options) {
	t.Helper()
	payload, err := Encode(lines, o)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	recs, err := Decode(payload)
	if err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	per := o.perRecord()
	if want := (len(lines) + per - 1) / per; len(recs) != want {
		t.Fatalf("%s: %d records, want %d", name, len(recs), want)
	}
	for ri, r := range recs {
		first := ri * per
		if r.Kind != Normal || r.Format != o.Format || r.TimeEncoding != o.Time {
			t.Fatalf("%s: record %d kind %v format %v time %v", name, ri, r.Kind, r.Format, r.TimeEncoding)
		}
		want := o.TimeFunc(first, lines[first])
		switch o.Time {
		case TimeUint:
			if r.Time.Unix() != want.Unix() || r.Nanos != 0 {
				t.Fatalf("%s: time %v want %v", name, r.Time, want)
			}
		case TimeFloat:
			if d := r.Time.Sub(want); d > time.Microsecond || d < -time.Microsecond {
				t.Fatalf("%s: time %v want %v", name, r.Time, want)
			}
		default:
			if !r.Time.Equal(want) {
				t.Fatalf("%s: time %v want %v", name, r.Time, want)
			}
		}
		if o.Format == V2 && r.Metadata["m"] != "1" {
			t.Fatalf("%s: metadata %v", name, r.Metadata)
		}
		if o.Format == V1 && r.Metadata != nil {
			t.Fatalf("%s: V1 has metadata", name)
		}
		bodyJSON, rest, err := MsgpackToJSON(nil, r.BodyRaw)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%s: body: %v", name, err)
		}
		switch o.Shape {
		case ParsedMap:
			sameJSON(t, name, bodyJSON, lines[first])
		case LogString:
			if got := r.Body[o.logKey()]; got != string(lines[first]) {
				t.Fatalf("%s: %s = %.100q", name, o.logKey(), got)
			}
			if len(r.Body) != 1+len(o.ExtraKeys) || r.Body["stream"] != "stdout" {
				t.Fatalf("%s: body keys %v", name, r.Body)
			}
			firstKey := tokens(t, bodyJSON)[1]
			if wantKey := "s:" + o.logKey(); o.ExtraKeysFirst {
				if firstKey == wantKey {
					t.Fatalf("%s: log key first despite ExtraKeysFirst", name)
				}
			} else if firstKey != wantKey {
				t.Fatalf("%s: first key %s", name, firstKey)
			}
		case EventList:
			var items [][]byte
			for i := first; i < min(first+per, len(lines)); i++ {
				items = append(items, lines[i])
			}
			want := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
				string(bytes.Join(items, []byte(","))) + `]}`)
			sameJSON(t, name, bodyJSON, want)
		}
	}
}

func TestGroupMarkers(t *testing.T) {
	lines := sampleLines(t)[:5]
	for _, g := range []Groups{GroupsEventTime, GroupsInt} {
		for _, te := range []TimeEncoding{TimeFixExt8, TimeExt8} {
			o := Options{Groups: g, GroupEvery: 2, Time: te, FixedTime: time.Unix(1764064800, 0),
				GroupMetadata: []KV{{"schema", "otlp"}}, GroupBody: []KV{{"resource", "x"}}}
			payload, err := Encode(lines, o)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := Decode(payload)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, r := range recs {
				kinds = append(kinds, r.Kind.String())
				if r.Kind == GroupStart && (r.Metadata["schema"] != "otlp" || r.Body["resource"] != "x") {
					t.Errorf("group start maps: %v %v", r.Metadata, r.Body)
				}
				if r.Kind == GroupEnd && (len(r.Metadata) != 0 || len(r.Body) != 0) {
					t.Errorf("group end maps: %v %v", r.Metadata, r.Body)
				}
			}
			want := "group-start normal normal group-end group-start normal normal group-end group-start normal group-end"
			if got := strings.Join(kinds, " "); got != want {
				t.Fatalf("%v/%v kinds:\n got %s\nwant %s", g, te, got, want)
			}
			var startTS, endTS []byte
			switch {
			case g == GroupsInt:
				startTS, endTS = []byte{0xce, 0xff, 0xff, 0xff, 0xff}, []byte{0xce, 0xff, 0xff, 0xff, 0xfe}
			case te == TimeExt8:
				startTS = []byte{0xc7, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
				endTS = []byte{0xc7, 0x08, 0x00, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0}
			default:
				startTS = []byte{0xd7, 0x00, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}
				endTS = []byte{0xd7, 0x00, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0}
			}
			if !bytes.HasPrefix(payload, append([]byte{0x92, 0x92}, startTS...)) {
				t.Errorf("%v/%v: payload starts % x", g, te, payload[:16])
			}
			if !bytes.Contains(recs[3].Raw, endTS) || recs[3].Kind != GroupEnd {
				t.Errorf("%v/%v: end marker % x", g, te, recs[3].Raw)
			}
			bodies, _ := Bodies(payload)
			if len(bodies) != 5 {
				t.Errorf("Bodies: %d", len(bodies))
			}
		}
	}
	if _, err := Encode(lines, Options{Format: V1, Groups: GroupsInt}); err == nil {
		t.Error("V1 with group markers should fail")
	}
	// one group around the whole payload
	payload, _ := Encode(lines, Options{Groups: GroupsEventTime})
	recs, _ := Decode(payload)
	if len(recs) != 7 || recs[0].Kind != GroupStart || recs[6].Kind != GroupEnd {
		t.Errorf("single group: %d records", len(recs))
	}
}

func TestSplit(t *testing.T) {
	sample := sampleLines(t)[:5]
	var lines [][]byte
	for i := 0; i < 2000; i++ {
		lines = append(lines, sample[i%len(sample)])
	}
	o := Options{FixedTime: time.Unix(1764064800, 0)}
	recs, err := Records(lines, o)
	if err != nil {
		t.Fatal(err)
	}
	const target = 64 << 10
	chunks, err := Split(lines, target, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 10 {
		t.Fatalf("%d chunks", len(chunks))
	}
	total := 0
	for i, c := range chunks {
		if len(c) > target {
			t.Errorf("chunk %d: %d bytes > %d", i, len(c), target)
		}
		if i < len(chunks)-1 && len(c) < target-2000 {
			t.Errorf("chunk %d: only %d bytes", i, len(c))
		}
		got, err := Decode(c)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		total += len(got)
	}
	if total != len(lines) {
		t.Fatalf("%d records in chunks, want %d", total, len(lines))
	}
	if !bytes.Equal(bytes.Join(chunks, nil), bytes.Join(recs, nil)) {
		t.Fatal("chunks are not the records in order")
	}
	// a record larger than the target gets a chunk of its own
	big := sampleLines(t)[5]
	chunks, err = Split([][]byte{sample[0], big, sample[1]}, 1000, o)
	if err != nil || len(chunks) != 3 {
		t.Fatalf("oversized record: %d chunks, %v", len(chunks), err)
	}
	// default size: everything fits in one ~2 MB chunk; groups per chunk
	chunks, err = Split(lines, 0, Options{Groups: GroupsEventTime})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range chunks {
		r, err := Decode(c)
		if err != nil || r[0].Kind != GroupStart || r[len(r)-1].Kind != GroupEnd {
			t.Fatalf("chunk %d: groups not per chunk (%v)", i, err)
		}
		if len(c) > DefaultChunkSize+100 {
			t.Fatalf("chunk %d: %d bytes", i, len(c))
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	bad := map[string][]byte{
		"root of 3":          {0x93, 0x01, 0x80, 0x80},
		"negative timestamp": {0x92, 0xff, 0x80},
		"ext type 1":         {0x92, 0xd7, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0x80},
		"other negative":     {0x92, 0x92, 0xd7, 0x00, 0xff, 0xff, 0xff, 0xfd, 0, 0, 0, 0, 0x80, 0x80},
		"body not map":       {0x92, 0x01, 0x90},
		"truncated":          {0x92, 0x92, 0xd7, 0x00, 0xff},
	}
	for name, b := range bad {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestScanLines(t *testing.T) {
	got, err := ScanLines(strings.NewReader("{\"a\":1}\r\n\n  \n{\"b\":2}"))
	if err != nil || len(got) != 2 || string(got[0]) != `{"a":1}` || string(got[1]) != `{"b":2}` {
		t.Fatalf("%q %v", got, err)
	}
}
