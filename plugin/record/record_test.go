package record

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/tinylib/msgp/msgp"
)

const (
	recSec  = 1790000000 // a record time, 2026-09-21
	recNsec = 123456789
)

// noTimes is sampleGet without any timestamp of its own.
var noTimes = strings.NewReplacer(
	`"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z",`, ``,
	`"stageTimestamp":"2026-11-25T10:00:00.130001Z",`, ``,
).Replace(sampleGet)

// secondGet is another event, to tell events apart.
var secondGet = strings.NewReplacer(`"name":"db-password"`, `"name":"tls-cert"`,
	`0d1e0b4e-0d8a-4c41-9a52-3b7f0f4b1a11`, `11111111-2222-3333-4444-555555555555`).Replace(sampleGet)

func TestShapes(t *testing.T) {
	docTime := mustTime(t, "2026-11-25T10:00:00.123456Z")
	recTime := int64(recSec)*1e9 + recNsec
	getWant, _ := jsonEvents(t, sampleGet, 0)
	if len(getWant) != 1 {
		t.Fatal("JSON parser does not read sampleGet")
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	type tc struct {
		name   string
		opts   Options
		chunk  []byte
		counts Counts
		// names are the Event.Name of the events, in order; times their Time.
		names []string
		times []int64
	}
	one := Counts{Records: 1, Events: 1, AuditRecords: 1}
	cases := []tc{
		{name: "empty chunk", chunk: nil},
		{name: "map v2 fixext8", chunk: v2(nil, tsFixExt8(recSec, recNsec), mp(t, sampleGet)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "map v2 ext8 array32 headers", chunk: v2x32(nil, tsExt8(recSec, recNsec), mp(t, sampleGet)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "map v1 fixext8", chunk: v1(nil, tsFixExt8(recSec, recNsec), mp(t, sampleGet)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},

		// The record time is used when the document has none.
		{name: "record time fixext8", chunk: v2(nil, tsFixExt8(recSec, recNsec), mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recTime}},
		{name: "record time ext8", chunk: v1(nil, tsExt8(recSec, recNsec), mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recTime}},
		{name: "record time uint", chunk: v2(nil, tsUint(recSec), mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recSec * 1e9}},
		{name: "record time uint64 form", chunk: v2(nil, []byte{0xcf, 0, 0, 0, 0, 0x6a, 0xb1, 0x3b, 0x80}, mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recSec * 1e9}},
		{name: "record time int", chunk: v1(nil, []byte{0xd3, 0, 0, 0, 0, 0x6a, 0xb1, 0x3b, 0x80}, mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recSec * 1e9}},
		{name: "record time float64", chunk: v2(nil, tsFloat(recSec+0.25), mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recSec*1e9 + 250000000}},
		{name: "record time float32", chunk: v2(nil, tsFloat32(1048576.5), mp(t, noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{1048576*1e9 + 500000000}},
		{name: "document time wins over record time", chunk: v2(nil, tsUint(recSec), mp(t, sampleGet)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},

		// No time at all.
		{name: "no time: string timestamp", chunk: v2(nil, msgp.AppendString(nil, "now"), mp(t, noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},
		{name: "no time: zero EventTime", chunk: v2(nil, tsFixExt8(0, 0), mp(t, noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},
		{name: "no time: negative int", chunk: v2(nil, tsInt(-5), mp(t, noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},
		{name: "no time: ext type 1", chunk: v2(nil, []byte{0xd7, 0x01, 0, 0, 0, 1, 0, 0, 0, 0}, mp(t, noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},
		{name: "no time: NaN", chunk: v2(nil, tsFloat(math.NaN()), mp(t, noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},
		{name: "no time: huge uint", chunk: v2(nil, tsUint(1<<63), mp(t, noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},
		{name: "no time: log string", chunk: v2(nil, tsFixExt8(0, 0), logBody("log", noTimes)),
			counts: Counts{Records: 1, AuditRecords: 1, NoTime: 1}},

		// Shape 2: a JSON line under the record key.
		{name: "log string", chunk: v2(nil, tsFixExt8(recSec, recNsec), logBody("log", sampleGet)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "log string record time", chunk: v1(nil, tsUint(recSec), logBody("log", noTimes)),
			counts: one, names: []string{"db-password"}, times: []int64{recSec * 1e9}},
		{name: "log bin", chunk: v2(nil, tsFixExt8(recSec, 0), enc{binVals: true}.fromJSON(t, nil, `{"log":`+jsonString(sampleGet)+`}`)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "record key message", opts: Options{RecordKey: "message"},
			chunk:  v2(nil, tsFixExt8(recSec, 0), logBody("message", sampleGet)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "record key message ignores log", opts: Options{RecordKey: "message"},
			chunk:  v2(nil, tsFixExt8(recSec, 0), logBody("log", sampleGet)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log string EventList", chunk: v2(nil, tsFixExt8(recSec, 0), logBody("log", eventList(sampleGet, secondGet))),
			counts: Counts{Records: 1, Events: 2, AuditRecords: 1}, names: []string{"db-password", "tls-cert"}, times: []int64{docTime, docTime}},
		{name: "map wins over log string",
			chunk:  v2(nil, tsFixExt8(recSec, 0), mp(t, strings.Replace(sampleGet, `{`, `{"log":`+jsonString(secondGet)+`,`, 1))),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "log string is plain text", chunk: v2(nil, tsFixExt8(recSec, 0), logBody("log", "I1125 10:00:00.000 1 main.go:1] hello")),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log string is empty", chunk: v2(nil, tsFixExt8(recSec, 0), logBody("log", "")),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log string is other JSON", chunk: v2(nil, tsFixExt8(recSec, 0), logBody("log", otherLog)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log string is a JSON array", chunk: v2(nil, tsFixExt8(recSec, 0), logBody("log", `[1,2]`)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log string is broken JSON", chunk: v2(nil, tsFixExt8(recSec, 0), logBody("log", sampleGet[:300])),
			counts: Counts{Records: 1, Malformed: 1}},
		{name: "log is not a string", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, `{"log":{"verb":"get"}}`)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log repeated, last not a string", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, `{"log":`+jsonString(sampleGet)+`,"log":null}`)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "log repeated, last wins", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, `{"log":"x","log":`+jsonString(sampleGet)+`}`)),
			counts: one, names: []string{"db-password"}, times: []int64{docTime}},

		// Shape 3: an EventList map.
		{name: "EventList map",
			chunk:  v2(nil, tsFixExt8(recSec, 0), mp(t, eventList(sampleGet, otherLog, `17`, secondGet))),
			counts: Counts{Records: 1, Events: 2, AuditRecords: 1}, names: []string{"db-password", "tls-cert"}, times: []int64{docTime, docTime}},
		{name: "EventList items use the record time", chunk: v1(nil, tsUint(recSec), mp(t, eventList(noTimes, sampleGet))),
			counts: Counts{Records: 1, Events: 2, AuditRecords: 1}, names: []string{"db-password", "db-password"}, times: []int64{recSec * 1e9, docTime}},
		{name: "EventList empty", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, eventList())),
			counts: Counts{Records: 1, AuditRecords: 1}},
		{name: "EventList items null", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, `{"kind":"EventList","items":null}`)),
			counts: Counts{Records: 1, AuditRecords: 1}},
		{name: "EventList item without time", chunk: v2(nil, tsFixExt8(0, 0), mp(t, eventList(noTimes, sampleGet))),
			counts: Counts{Records: 1, Events: 1, AuditRecords: 1, NoTime: 1}, names: []string{"db-password"}, times: []int64{docTime}},

		// Group markers.
		{name: "group markers", chunk: cat(groupStart(), v2(nil, tsFixExt8(recSec, 0), mp(t, sampleGet)), groupEnd()),
			counts: Counts{Records: 3, Events: 1, AuditRecords: 1, GroupMarkers: 2}, names: []string{"db-password"}, times: []int64{docTime}},
		{name: "group markers ext8", chunk: cat(v2(nil, tsExt8(0xFFFFFFFF, 0), mp(t, sampleGet)), v2(nil, tsExt8(0xFFFFFFFE, 0), []byte{0x80})),
			counts: Counts{Records: 2, GroupMarkers: 2}},
		{name: "group markers int", chunk: cat(v2(nil, tsInt(-1), mp(t, sampleGet)), v2(nil, tsInt(-2), []byte{0x80})),
			counts: Counts{Records: 2, GroupMarkers: 2}},
		{name: "group markers uint", chunk: cat(v2(nil, tsUint(0xFFFFFFFF), mp(t, sampleGet)), v2(nil, tsUint(0xFFFFFFFE), []byte{0x80})),
			counts: Counts{Records: 2, GroupMarkers: 2}},
		{name: "group marker v1", chunk: v1(nil, tsFixExt8(0xFFFFFFFF, 0), mp(t, sampleGet)),
			counts: Counts{Records: 1, GroupMarkers: 1}},
		{name: "group marker float", chunk: v2(nil, tsFloat(-1), mp(t, sampleGet)),
			counts: Counts{Records: 1, GroupMarkers: 1}},

		// Other logs.
		{name: "other log map", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, otherLog)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "empty body", chunk: v2(nil, tsFixExt8(recSec, 0), []byte{0x80}),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "verb without audit fields", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, `{"verb":"get","objectRef":{"resource":"secrets"}}`)),
			counts: Counts{Records: 1, NotAudit: 1}},
		{name: "kind Event is enough", chunk: v2(nil, tsFixExt8(recSec, 0), mp(t, `{"kind":"Event","verb":"get"}`)),
			counts: one, names: []string{""}, times: []int64{recSec * 1e9}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeAll(t, c.opts, c.chunk)
			if got.counts != c.counts {
				t.Fatalf("counts %+v, want %+v", got.counts, c.counts)
			}
			if len(got.events) != len(c.names) {
				t.Fatalf("%d events, want %d", len(got.events), len(c.names))
			}
			for i, ev := range got.events {
				if ev.Name != c.names[i] || ev.Time != c.times[i] {
					t.Errorf("event %d: name %q time %d, want %q %d", i, ev.Name, ev.Time, c.names[i], c.times[i])
				}
			}
			// Events read from a map are the JSON decoder's, field by field.
			if len(got.events) == 1 && c.names[0] == "db-password" && got.events[0].Time == docTime {
				if !sameEvents(got.events, getWant) {
					t.Errorf("event\n%+v\nwant\n%+v", got.events[0], getWant[0])
				}
			}
		})
	}
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestHeaderForms reads the same events whatever header forms and key
// types carry them.
func TestHeaderForms(t *testing.T) {
	docs := append([]string{sampleGet, eventList(sampleGet, secondGet)}, sampleDocs(t)...)
	var want collected
	{
		var chunk []byte
		for _, doc := range docs {
			chunk = v2(chunk, tsFixExt8(recSec, 0), mp(t, doc))
		}
		want = decodeAll(t, Options{}, chunk)
		if want.counts.Events < uint64(len(docs)) {
			t.Fatalf("baseline: %+v", want.counts)
		}
	}
	for _, e := range []enc{
		{form: form8}, {form: form16}, {form: form32},
		{binKeys: true}, {binVals: true}, {form: form16, binKeys: true, binVals: true},
		{form: form32, binKeys: true, binVals: true},
	} {
		for _, v := range []func(b, ts, body []byte) []byte{v1, v2, v2x32} {
			var chunk []byte
			for _, doc := range docs {
				chunk = v(chunk, tsExt8(recSec, 0), e.fromJSON(t, nil, doc))
			}
			got := decodeAll(t, Options{}, chunk)
			if got.counts != want.counts || !sameEvents(got.events, want.events) {
				t.Errorf("%+v: counts %+v want %+v (events equal: %v)", e, got.counts, want.counts, sameEvents(got.events, want.events))
			}
		}
	}
}

// TestNonStringKeys skips entries whose key is not a string.
func TestNonStringKeys(t *testing.T) {
	body := msgp.AppendMapHeader(nil, 6)
	body = msgp.AppendInt(body, 7)
	body = msgp.AppendString(body, "x")
	body = msgp.AppendString(body, "verb")
	body = msgp.AppendString(body, "get")
	body = msgp.AppendNil(body)
	body = msgp.AppendArrayHeader(body, 2)
	body = msgp.AppendInt(body, 1)
	body = msgp.AppendInt(body, 2)
	body = msgp.AppendMapHeader(body, 1) // a map as a key
	body = msgp.AppendString(body, "verb")
	body = msgp.AppendString(body, "list")
	body = msgp.AppendString(body, "v")
	body = msgp.AppendString(body, "stage")
	body = msgp.AppendString(body, "ResponseComplete")
	body = msgp.AppendString(body, "auditID")
	body = msgp.AppendString(body, "a")
	got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), body))
	if got.counts != (Counts{Records: 1, Events: 1, AuditRecords: 1}) || got.events[0].Verb != "get" || got.events[0].Stage != "ResponseComplete" {
		t.Fatalf("%+v %+v", got.counts, got.events)
	}
}

// TestWrongLeafTypes: a value of another type than the mapping expects is
// missing, and the rest of the body is still read.
func TestWrongLeafTypes(t *testing.T) {
	doc := `{"kind":"Event","auditID":"a","stage":"ResponseComplete","verb":"get","user":"bob","objectRef":["secrets"],"userAgent":7,"sourceIPs":{"a":"b"},"impersonatedUser":null,"annotations":{"authorization.k8s.io/decision":true},"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z","items":5}`
	got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), mp(t, doc)))
	if got.counts != (Counts{Records: 1, Events: 1, AuditRecords: 1}) {
		t.Fatalf("counts %+v", got.counts)
	}
	ev := got.events[0]
	if ev.Verb != "get" || ev.User != "" || ev.Resource != "" || ev.UserAgent != "" || len(ev.SourceIPs) != 0 || ev.Decision != "" || ev.Time != mustTime(t, "2026-11-25T10:00:00.123456Z") {
		t.Fatalf("%+v", ev)
	}
}

// TestCorruptRecordInMiddle: a bad record is counted and the records after
// it are read.
func TestCorruptRecordInMiddle(t *testing.T) {
	good1 := v2(nil, tsFixExt8(recSec, 0), mp(t, sampleGet))
	good2 := v1(nil, tsUint(recSec), mp(t, secondGet))
	body := mp(t, sampleGet)
	deep := func(levels int) []byte {
		b := msgp.AppendMapHeader(nil, 2)
		b = msgp.AppendString(b, "verb")
		b = msgp.AppendString(b, "get")
		b = msgp.AppendString(b, "requestObject")
		b = append(b, bytes.Repeat([]byte{0x91}, levels)...)
		return append(b, 0xc0)
	}
	malformed := []struct {
		name string
		rec  []byte
	}{
		{"root array of 1", append([]byte{0x91}, tsUint(recSec)...)},
		{"root array of 3", append(append(append([]byte{0x93}, tsUint(recSec)...), body...), 0xc0)},
		{"root map", append([]byte{0x81, 0xa1, 'a'}, body...)},
		{"root string", msgp.AppendString(nil, "hello")},
		{"root nil", []byte{0xc0}},
		{"root positive fixint", []byte{0x05}},
		{"header of 1", append(append([]byte{0x92, 0x91}, tsFixExt8(recSec, 0)...), body...)},
		{"header of 3", append(append(append([]byte{0x92, 0x93}, tsFixExt8(recSec, 0)...), 0x80, 0x80), body...)},
		{"body string", v2(nil, tsUint(recSec), msgp.AppendString(nil, sampleGet))},
		{"body nil", v2(nil, tsUint(recSec), []byte{0xc0})},
		{"body array", v1(nil, tsUint(recSec), []byte{0x92, 0x01, 0x02})},
		{"body nested 100000 arrays", v2(nil, tsUint(recSec), deep(100000))},
		{"body nested 10000 arrays", v2(nil, tsUint(recSec), deep(10000))},
		{"metadata nested 100000 maps", append(append(append([]byte{0x92, 0x92}, tsUint(recSec)...),
			append(bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 100000), 0xc0)...), body...)},
	}
	for _, m := range malformed {
		t.Run(m.name, func(t *testing.T) {
			chunk := bytes.Join([][]byte{good1, m.rec, good2}, nil)
			got := decodeAll(t, Options{}, chunk)
			want := Counts{Records: 3, Events: 2, AuditRecords: 2, Malformed: 1}
			if got.counts != want {
				t.Fatalf("counts %+v, want %+v", got.counts, want)
			}
			if got.events[0].Name != "db-password" || got.events[1].Name != "tls-cert" {
				t.Fatalf("events %+v", got.events)
			}
		})
	}

	// Depth just within the limit is fine.
	got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), mp(t, strings.Replace(sampleGet, `"level"`, `"requestObject":`+strings.Repeat("[", 9999)+strings.Repeat("]", 9999)+`,"level"`, 1))))
	if got.counts != (Counts{Records: 1, Events: 1, AuditRecords: 1}) {
		t.Fatalf("9999 levels: %+v", got.counts)
	}

	// When the end of a record cannot be found, decoding stops there.
	truncated := []struct {
		name string
		rec  []byte
	}{
		{"invalid byte in body", v2(nil, tsUint(recSec), []byte{0x82, 0xa4, 'v', 'e', 'r', 'b', 0xc1, 0xa1, 'x', 0xc0})},
		{"invalid byte as record", []byte{0xc1}},
		{"invalid byte as timestamp", []byte{0x92, 0xc1, 0x80}},
		{"string longer than the chunk", v2(nil, tsUint(recSec), []byte{0x81, 0xa4, 'v', 'e', 'r', 'b', 0xdb, 0x00, 0x10, 0x00, 0x00, 'g'})},
	}
	for _, tr := range truncated {
		t.Run(tr.name, func(t *testing.T) {
			chunk := bytes.Join([][]byte{good1, tr.rec, good2}, nil)
			got := decodeAll(t, Options{}, chunk)
			want := Counts{Records: 2, Events: 1, AuditRecords: 1, Truncated: 1}
			if got.counts != want {
				t.Fatalf("counts %+v, want %+v", got.counts, want)
			}
		})
	}
}

// TestDeepNesting: 100 000 levels of arrays in a body cost one malformed
// record, in constant stack, wherever they are.
func TestDeepNesting(t *testing.T) {
	const levels = 100000
	arrays := append(bytes.Repeat([]byte{0x91}, levels), 0xc0)
	maps := append(bytes.Repeat([]byte{0x81, 0xa1, 'k'}, levels), 0xc0)
	next := v2(nil, tsFixExt8(recSec, 0), mp(t, secondGet))
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"unknown key arrays", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "requestObject"), arrays...)},
		{"unknown key maps", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "responseObject"), maps...)},
		{"sourceIPs", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "sourceIPs"), arrays...)},
		{"user", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "user"), maps...)},
		{"objectRef maps", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "objectRef"),
			append(bytes.Repeat([]byte{0x81, 0xa4, 'n', 'a', 'm', 'e'}, levels), 0xc0)...)},
		{"items", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "items"), arrays...)},
		{"items maps", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "items"),
			append([]byte{0x91}, append(bytes.Repeat([]byte{0x81, 0xa4, 'u', 's', 'e', 'r'}, levels), 0xc0)...)...)},
		{"log", append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "log"), arrays...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			chunk := append(v2(nil, tsUint(recSec), c.body), next...)
			got := decodeAll(t, Options{}, chunk)
			want := Counts{Records: 2, Events: 1, AuditRecords: 1, Malformed: 1}
			if got.counts != want || got.events[0].Name != "tls-cert" {
				t.Fatalf("counts %+v, want %+v", got.counts, want)
			}
		})
	}
}

// TestDepthLimitMatchesJSON: the depth at which a body is malformed is the
// JSON decoder's.
func TestDepthLimitMatchesJSON(t *testing.T) {
	for _, levels := range []int{9998, 9999, 10000, 10001} {
		doc := strings.Replace(sampleGet, `"level"`, `"requestObject":`+strings.Repeat("[", levels)+strings.Repeat("]", levels)+`,"level"`, 1)
		jsonEvs, err := jsonEvents(t, doc, 0)
		got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), mp(t, doc)))
		if (err != nil) != (got.counts.Malformed == 1) || !sameEvents(jsonEvs, got.events) {
			t.Errorf("%d levels: JSON err %v events %d; msgpack %+v", levels, err, len(jsonEvs), got.counts)
		}
	}
}

// TestTruncatedEverywhere cuts a 3-record chunk at every byte.
func TestTruncatedEverywhere(t *testing.T) {
	recs := [][]byte{
		v2(nil, tsFixExt8(recSec, 0), mp(t, sampleGet)),
		v1(nil, tsUint(recSec), logBody("log", secondGet)),
		v2x32(nil, tsExt8(recSec, 0), mp(t, eventList(sampleGet, secondGet))),
	}
	perRecord := []uint64{1, 1, 2}
	chunk := bytes.Join(recs, nil)
	d := NewDecoder(Options{})
	for cut := 0; cut <= len(chunk); cut++ {
		// A copy of exactly cut bytes: nothing past it can be read.
		part := append([]byte(nil), chunk[:cut]...)
		var emitted uint64
		c := d.Decode(part, func(ev *audit.Event) {
			emitted++
			if ev.Verb != "get" {
				t.Fatalf("cut %d: event %+v", cut, ev)
			}
		})
		checkCounts(t, c, emitted)
		complete, end, events := 0, 0, uint64(0)
		for _, r := range recs {
			if end+len(r) > cut {
				break
			}
			end += len(r)
			complete++
			events += perRecord[complete-1]
		}
		want := Counts{Records: uint64(complete), Events: events, AuditRecords: uint64(complete)}
		if cut > end {
			want.Records++
			want.Truncated = 1
		}
		if c != want {
			t.Fatalf("cut %d: counts %+v, want %+v", cut, c, want)
		}
	}
}

// TestManySourceIPs keeps the first and the last of 5000 entries.
func TestManySourceIPs(t *testing.T) {
	ips := make([]string, 5000)
	quoted := make([]string, len(ips))
	for i := range ips {
		ips[i] = "10.0." + itoa(i/250) + "." + itoa(i%250)
		quoted[i] = `"` + ips[i] + `"`
	}
	doc := strings.Replace(sampleGet, `"sourceIPs":["10.244.1.17"]`, `"sourceIPs":[`+strings.Join(quoted, ",")+`]`, 1)
	for _, e := range []enc{{}, {form: form32}} {
		got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), e.fromJSON(t, nil, doc)))
		if got.counts.Events != 1 {
			t.Fatalf("%+v", got.counts)
		}
		ev := got.events[0]
		if ev.SourceIPCount != 5000 || len(ev.SourceIPs) != audit.MaxSourceIPs || ev.SourceIPs[0] != ips[0] || ev.SourceIPs[len(ev.SourceIPs)-1] != ips[4999] {
			t.Fatalf("count %d, kept %d: first %q last %q", ev.SourceIPCount, len(ev.SourceIPs), ev.SourceIPs[0], ev.SourceIPs[len(ev.SourceIPs)-1])
		}
		want, err := jsonEvents(t, doc, 0)
		if err != nil || !sameEvents(got.events, want) {
			t.Fatalf("differs from JSON: %v", err)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestInvalidUTF8 passes strings through untouched.
func TestInvalidUTF8(t *testing.T) {
	bad := "db-\xff\xfe\xc0\xafpass"
	body := msgp.AppendMapHeader(nil, 5)
	body = msgp.AppendString(body, "kind")
	body = msgp.AppendString(body, "Event")
	body = msgp.AppendString(body, "verb")
	body = msgp.AppendString(body, "get")
	body = msgp.AppendString(body, "objectRef")
	body = msgp.AppendMapHeader(body, 1)
	body = msgp.AppendString(body, "name")
	body = msgp.AppendString(body, bad)
	body = msgp.AppendString(body, "userAgent")
	body = msgp.AppendBytes(body, []byte("\x00\xff"))
	body = msgp.AppendString(body, "sourceIPs")
	body = msgp.AppendString(body, "\xfe")
	got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), body))
	if got.counts.Events != 1 {
		t.Fatalf("%+v", got.counts)
	}
	ev := got.events[0]
	if ev.Name != bad || ev.UserAgent != "\x00\xff" || len(ev.SourceIPs) != 1 || ev.SourceIPs[0] != "\xfe" {
		t.Fatalf("%q %q %q", ev.Name, ev.UserAgent, ev.SourceIPs)
	}
}

// TestHugeLengths: headers that claim 4 GiB fail safely.
func TestHugeLengths(t *testing.T) {
	good := v2(nil, tsFixExt8(recSec, 0), mp(t, sampleGet))
	ff := []byte{0xff, 0xff, 0xff, 0xff}
	prefix := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	verbKey := []byte{0xa4, 'v', 'e', 'r', 'b'}
	cases := map[string][]byte{
		"record array32":    prefix([]byte{0xdd}, ff, tsUint(recSec)),
		"header array32":    prefix([]byte{0x92, 0xdd}, ff, tsUint(recSec)),
		"body map32":        prefix([]byte{0x92}, tsUint(recSec), []byte{0xdf}, ff, verbKey),
		"key str32":         prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xdb}, ff, []byte("verb")),
		"value str32":       prefix([]byte{0x92}, tsUint(recSec), []byte{0x81}, verbKey, []byte{0xdb}, ff, []byte("get")),
		"value bin32":       prefix([]byte{0x92}, tsUint(recSec), []byte{0x81}, verbKey, []byte{0xc6}, ff, []byte("get")),
		"value ext32":       prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa1, 'x', 0xc9}, ff, []byte{1, 2}),
		"value array32":     prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa1, 'x', 0xdd}, ff, []byte{1, 2}),
		"value map32":       prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa1, 'x', 0xdf}, ff, []byte{1, 2}),
		"sourceIPs array32": prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa9}, []byte("sourceIPs"), []byte{0xdd}, ff, []byte{0xa1, '1'}),
		"user map32":        prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa4}, []byte("user"), []byte{0xdf}, ff, []byte{0xa1, '1'}),
		"items array32":     prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa5}, []byte("items"), []byte{0xdd}, ff, mp(t, sampleGet)),
		"timestamp ext32":   prefix([]byte{0x92, 0xc9}, ff, []byte{0}),
		"metadata map32":    prefix([]byte{0x92, 0x92}, tsUint(recSec), []byte{0xdf}, ff),
		"log str32":         prefix([]byte{0x92}, tsUint(recSec), []byte{0x81, 0xa3, 'l', 'o', 'g', 0xdb}, ff, []byte("{")),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			got := decodeAll(t, Options{}, append(append([]byte(nil), good...), bad...))
			want := Counts{Records: 2, Events: 1, AuditRecords: 1, Truncated: 1}
			if got.counts != want {
				t.Fatalf("counts %+v, want %+v", got.counts, want)
			}
		})
	}
}

// TestDecoderReuse: a Decoder carries nothing from one payload or record to
// the next.
func TestDecoderReuse(t *testing.T) {
	d := NewDecoder(Options{})
	chunks := [][]byte{
		v2(nil, tsFixExt8(recSec, 0), mp(t, eventList(sampleGet, secondGet))),
		v2(nil, tsFixExt8(recSec, 0), logBody("log", sampleGet)),
		v2(v2(nil, tsFixExt8(recSec, 0), mp(t, sampleGet)), tsFixExt8(0, 0), mp(t, `{"verb":"get"}`)),
		v2(nil, tsFixExt8(0, 0), mp(t, noTimes)),
	}
	want := []Counts{
		{Records: 1, Events: 2, AuditRecords: 1},
		{Records: 1, Events: 1, AuditRecords: 1},
		{Records: 2, Events: 1, AuditRecords: 1, NotAudit: 1},
		{Records: 1, AuditRecords: 1, NoTime: 1},
	}
	for round := 0; round < 3; round++ {
		for i, c := range chunks {
			if got := d.Decode(c, func(*audit.Event) {}); got != want[i] {
				t.Fatalf("round %d chunk %d: %+v, want %+v", round, i, got, want[i])
			}
		}
	}
	var sum Counts
	sum.Add(want[0])
	sum.Add(want[2])
	if sum.Records != 3 || sum.Events != 3 || sum.NotAudit != 1 {
		t.Fatalf("Add: %+v", sum)
	}
}

// TestTimestampForms reads every integer and float width, and the markers.
func TestTimestampForms(t *testing.T) {
	cases := []struct {
		name   string
		ts     []byte
		want   int64
		marker bool
	}{
		{"positive fixint", []byte{0x05}, 5e9, false},
		{"uint8", []byte{0xcc, 0xc8}, 200e9, false},
		{"uint16", []byte{0xcd, 0x01, 0x00}, 256e9, false},
		{"uint32", []byte{0xce, 0x6a, 0xb1, 0x3b, 0x80}, recSec * 1e9, false},
		{"uint64", []byte{0xcf, 0, 0, 0, 0, 0x6a, 0xb1, 0x3b, 0x80}, recSec * 1e9, false},
		{"uint32 group start", []byte{0xce, 0xff, 0xff, 0xff, 0xff}, 0, true},
		{"uint32 group end", []byte{0xce, 0xff, 0xff, 0xff, 0xfe}, 0, true},
		{"negative fixint -1", []byte{0xff}, 0, true},
		{"negative fixint -2", []byte{0xfe}, 0, true},
		{"negative fixint -3", []byte{0xfd}, 0, false},
		{"int8 5", []byte{0xd0, 0x05}, 5e9, false},
		{"int8 -1", []byte{0xd0, 0xff}, 0, true},
		{"int16", []byte{0xd1, 0x01, 0x00}, 256e9, false},
		{"int16 -2", []byte{0xd1, 0xff, 0xfe}, 0, true},
		{"int32", []byte{0xd2, 0x6a, 0xb1, 0x3b, 0x80}, recSec * 1e9, false},
		{"int32 -1", []byte{0xd2, 0xff, 0xff, 0xff, 0xff}, 0, true},
		{"int64", []byte{0xd3, 0, 0, 0, 0, 0x6a, 0xb1, 0x3b, 0x80}, recSec * 1e9, false},
		{"int64 too big", []byte{0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0, false},
		{"float32", tsFloat32(2.5), 2500000000, false},
		{"float64", tsFloat(recSec + 0.5), recSec*1e9 + 5e8, false},
		{"float64 -2", tsFloat(-2), 0, true},
		{"float64 negative", tsFloat(-7.5), 0, false},
		{"float64 +Inf", tsFloat(math.Inf(1)), 0, false},
		{"fixext8", tsFixExt8(recSec, 42), recSec*1e9 + 42, false},
		{"ext8", tsExt8(recSec, 42), recSec*1e9 + 42, false},
		{"fixext8 group start", tsFixExt8(0xFFFFFFFF, 0), 0, true},
		{"fixext4 type 0", []byte{0xd6, 0x00, 1, 2, 3, 4}, 0, false},
		{"ext8 of 12 bytes type -1", append([]byte{0xc7, 12, 0xff}, make([]byte, 12)...), 0, false},
		{"nil", []byte{0xc0}, 0, false},
		{"string", msgp.AppendString(nil, "2026-11-25T10:00:00Z"), 0, false},
		{"map", []byte{0x81, 0xa1, 'a', 0x01}, 0, false},
	}
	d := NewDecoder(Options{})
	for _, c := range cases {
		buf := append(append([]byte(nil), c.ts...), 0x80)
		got, marker, rest, err := d.timestamp(buf)
		if err != nil || len(rest) != 1 || got != c.want || marker != c.marker {
			t.Errorf("%s: time %d marker %v rest %d err %v; want %d %v", c.name, got, marker, len(rest), err, c.want, c.marker)
		}
	}
	for _, short := range [][]byte{{0xd7, 0x00, 1, 2}, {0xcf, 1}, {0xc7, 8}, {0xc1}} {
		if _, _, _, err := d.timestamp(short); err == nil {
			t.Errorf("% x: read", short)
		}
	}
}
