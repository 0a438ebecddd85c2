package record

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// craftedDocs exercise the corners where two decoders could disagree:
// duplicate keys (the last wins, as in the JSON decoder), null and
// wrongly-typed leaves, escapes, fallbacks between timestamps.
var craftedDocs = []string{
	sampleGet,
	noTimes,
	// Duplicate leaves: the last one wins; a later null or number unsets.
	`{"kind":"Event","auditID":"a1","verb":"list","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"pods","resource":"secrets"},"requestReceivedTimestamp":"2026-11-25T10:00:00Z"}`,
	`{"kind":"Event","auditID":"a1","verb":"get","verb":null,"stage":"ResponseComplete","userAgent":"x","userAgent":5}`,
	// Duplicate objects and lists replace the earlier ones wholesale.
	`{"kind":"Event","auditID":"a2","verb":"get","objectRef":{"resource":"secrets","name":"n1"},"objectRef":{"namespace":"ns","name":"n2"},"sourceIPs":["1.1.1.1","2.2.2.2"],"sourceIPs":["3.3.3.3"],"stageTimestamp":"2026-11-25T10:00:01Z"}`,
	`{"kind":"Event","auditID":"a3","verb":"get","sourceIPs":["1.1.1.1"],"sourceIPs":null}`,
	`{"kind":"Event","auditID":"a3","verb":"get","sourceIPs":"9.9.9.9"}`,
	`{"kind":"Event","auditID":"a3","verb":"get","sourceIPs":[1,"1.2.3.4",null,{"a":"b"},["c"],"5.6.7.8"]}`,
	`{"kind":"Event","auditID":"a3","verb":"get","sourceIPs":[]}`,
	`{"kind":"Event","auditID":"a3","verb":"get","user":null,"objectRef":null,"annotations":{}}`,
	// Escapes and non-ASCII.
	`{"kind":"Event","auditID":"a4","verb":"get","userAgent":"evil \"quoted\" \\ \u00e9 \ud83d\ude00 agent","objectRef":{"name":"tab\there\\"},"user":{"username":"système:admin"}}`,
	// Timestamps: unparsable, then fallback to the next; legacy field.
	`{"kind":"Event","auditID":"a5","verb":"get","requestReceivedTimestamp":"yesterday","stageTimestamp":"2026-11-25T10:00:02.5Z"}`,
	`{"kind":"Event","auditID":"a5","verb":"get","timestamp":"2017-09-11T19:55:05Z"}`,
	`{"kind":"Event","auditID":"a5","verb":"get","requestReceivedTimestamp":""}`,
	`{"kind":"Event","auditID":"a5","verb":"get","requestReceivedTimestamp":"9999-01-01T00:00:00Z"}`,
	// Impersonation, decision.
	`{"kind":"Event","level":"Metadata","auditID":"a6","stage":"ResponseComplete","verb":"list","user":{"username":"admin","groups":["system:masters"]},"impersonatedUser":{"username":"bob","groups":["dev"]},"objectRef":{"resource":"secrets","namespace":"kube-system"},"annotations":{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}}`,
	// Empty values are present.
	`{"kind":"Event","auditID":"","verb":"","stage":""}`,
	`{"verb":"get","stage":"ResponseStarted"}`,
	// Case-sensitive keys.
	`{"Kind":"Event","AuditID":"x","Verb":"get"}`,
	`{"kind":"Event","verb":"get"}`,
	`{"kind":"event","verb":"get"}`,
	// Not audit.
	otherLog,
	`{}`,
	`{"items":[]}`,
	// EventLists, with duplicate items keys and an EventList that is also an Event.
	eventList(sampleGet, secondGet),
	eventList(sampleGet, `{"verb":"get"}`, `null`, `[1]`, `"x"`, noTimes),
	`{"kind":"EventList","items":[` + sampleGet + `],"items":[` + secondGet + `]}`,
	`{"kind":"Event","auditID":"top","verb":"delete","items":[` + sampleGet + `]}`,
	`{"kind":"EventList","items":[{"kind":"Event","auditID":"nested","verb":"get","items":[` + sampleGet + `]}]}`,
}

// TestEquivalence: for the same document, the msgpack map that Fluent Bit's
// JSON parser makes of it gives the same Events as audit.JSONParser, and
// the document as a log string gives them too.
func TestEquivalence(t *testing.T) {
	docs := append(sampleDocs(t), craftedDocs...)
	for i, doc := range docs {
		for _, rt := range []struct {
			ts   []byte
			nano int64
		}{{tsFixExt8(0, 0), 0}, {tsFixExt8(recSec, recNsec), recSec*1e9 + recNsec}} {
			want, err := jsonEvents(t, doc, rt.nano)
			if err != nil && err.Error() != "not an audit event" {
				t.Fatalf("doc %d: JSON: %v", i, err)
			}
			// Events without time are counted, not emitted, by the decoder.
			var timed []audit.Event
			for _, ev := range want {
				if ev.Time != 0 {
					timed = append(timed, ev)
				}
			}
			for _, e := range []enc{{}, {form: form32, binKeys: true}} {
				got := decodeAll(t, Options{}, v2(nil, rt.ts, e.fromJSON(t, nil, doc)))
				if !sameEvents(got.events, timed) {
					t.Errorf("doc %d (%.60s...), record time %d, %+v:\nmsgpack %+v\nJSON    %+v", i, doc, rt.nano, e, got.events, timed)
				}
				if int(got.counts.NoTime) != len(want)-len(timed) {
					t.Errorf("doc %d: NoTime %d, want %d", i, got.counts.NoTime, len(want)-len(timed))
				}
				if (err != nil) != (got.counts.NotAudit == 1) {
					t.Errorf("doc %d: JSON err %v, msgpack counts %+v", i, err, got.counts)
				}
			}
			chunk := v2(nil, rt.ts, logBody("log", doc))
			got := decodeAll(t, Options{}, chunk)
			if !sameEvents(got.events, timed) {
				t.Errorf("doc %d as log string: differs", i)
			}
			// The prefilter reads a document that cannot match for its
			// times only: the same events for the rule, the same counts.
			pre := decodeAll(t, Options{Prefilter: true}, chunk)
			if pre.counts != got.counts || !samePrefiltered(pre.events, timed) {
				t.Errorf("doc %d as log string, prefiltered: %+v %+v\nwant %+v %+v", i, pre.counts, pre.events, got.counts, timed)
			}
		}
	}
}

// TestEquivalenceWhitespace: whitespace in the JSON changes nothing.
func TestEquivalenceWhitespace(t *testing.T) {
	doc := strings.NewReplacer(`,"`, ",\n  \"", `":`, `" : `).Replace(sampleGet)
	want, err := jsonEvents(t, doc, 0)
	if err != nil || len(want) != 1 {
		t.Fatalf("JSON: %v", err)
	}
	got := decodeAll(t, Options{}, v2(nil, tsFixExt8(0, 0), mp(t, doc)))
	if !sameEvents(got.events, want) {
		t.Fatalf("differs")
	}
}

// FuzzEquivalence holds the msgpack decoder (its fast paths and msgp's
// slow ones, mixed within one record) to audit.JSONParser on any JSON
// object: mix picks each string's and header's encoding.
func FuzzEquivalence(f *testing.F) {
	for i, doc := range craftedDocs {
		f.Add(doc, uint64(i)*0x9e3779b97f4a7c15, false)
	}
	f.Add(sampleGet, uint64(0), true)
	f.Fuzz(func(t *testing.T, doc string, mix uint64, binKeys bool) {
		if !utf8.ValidString(doc) || !json.Valid([]byte(doc)) || !strings.HasPrefix(strings.TrimLeft(doc, " \t\r\n"), "{") {
			return // the msgpack Fluent Bit would make of it is built with encoding/json
		}
		want, err := jsonEvents(t, doc, 0)
		if err != nil && err.Error() != "not an audit event" {
			t.Fatalf("audit.JSONParser refuses what encoding/json accepts: %v", err)
		}
		var timed []audit.Event
		for _, ev := range want {
			if ev.Time != 0 {
				timed = append(timed, ev)
			}
		}
		e := enc{binKeys: binKeys, mix: &mix}
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		body, encErr := e.value(dec, nil)
		if encErr != nil {
			return
		}
		got := decodeAll(t, Options{}, v2(nil, tsFixExt8(0, 0), body))
		if !sameEvents(got.events, timed) {
			t.Fatalf("msgpack %+v\nJSON    %+v", got.events, timed)
		}
	})
}
