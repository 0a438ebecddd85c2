package record

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/tinylib/msgp/msgp"
)

// TestLargeEventList: items past the pending limit are emitted once the
// rest of the record is known to be complete; a truncated or corrupt list
// of that size emits nothing.
func TestLargeEventList(t *testing.T) {
	const items = maxPending + 300
	docs := make([]string, items)
	for i := range docs {
		docs[i] = `{"kind":"Event","auditID":"` + fmt.Sprint(i) + `","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"secrets","name":"s` + fmt.Sprint(i) + `"}}`
	}
	// The body is itself an Event too: its event comes after the items'.
	doc := `{"kind":"EventList","auditID":"list","stage":"ResponseComplete","verb":"list","items":[` + strings.Join(docs, ",") + `],"metadata":{"x":[1,2,{"y":"z"}]}}`
	rec := v2(nil, tsUint(recSec), mp(t, doc))
	next := v2(nil, tsUint(recSec), mp(t, secondGet))

	got := decodeAll(t, Options{}, append(append([]byte(nil), rec...), next...))
	if got.counts != (Counts{Records: 2, Events: items + 2, AuditRecords: 2}) {
		t.Fatalf("counts %+v", got.counts)
	}
	for i := 0; i < items; i++ {
		if got.events[i].AuditID != fmt.Sprint(i) || got.events[i].Name != "s"+fmt.Sprint(i) {
			t.Fatalf("event %d: %+v", i, got.events[i])
		}
	}
	if got.events[items].AuditID != "list" || got.events[items+1].Name != "tls-cert" {
		t.Fatalf("tail %+v", got.events[items:])
	}
	want, err := jsonEvents(t, doc, recSec*1e9)
	if err != nil || !sameEvents(got.events[:items+1], want) {
		t.Fatalf("differs from JSON (%v)", err)
	}

	// Cut anywhere in the list: no event from the cut record.
	for _, cut := range []int{len(rec) / 3, len(rec) * 2 / 3, len(rec) - 10, len(rec) - 1} {
		got := decodeAll(t, Options{}, rec[:cut])
		if got.counts != (Counts{Records: 1, Truncated: 1}) {
			t.Fatalf("cut %d: %+v", cut, got.counts)
		}
	}
	// Corrupt after the pending limit, then after the list.
	// The header of an "auditID" key three quarters in, then the map header
	// of {"y":"z"}, after the list.
	key := append([]byte{0xa7}, "auditID"...)
	for _, at := range []int{len(rec)*3/4 + bytes.Index(rec[len(rec)*3/4:], key), len(rec) - 5} {
		bad := append([]byte(nil), rec...)
		bad = append(bad[:at:at], append([]byte{0xc1}, bad[at+1:]...)...)
		got := decodeAll(t, Options{}, bad)
		if got.counts.Events != 0 || got.counts.Records != 1 || got.counts.AuditRecords != 0 {
			t.Fatalf("corrupt at %d: %+v", at, got.counts)
		}
	}
	// Too deep after the pending limit: malformed, nothing emitted, the
	// next record read.
	deep := strings.Replace(doc, `"metadata":{"x":[1,2,{"y":"z"}]}`, `"metadata":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000), 1)
	got = decodeAll(t, Options{}, append(v2(nil, tsUint(recSec), mp(t, deep)), next...))
	if got.counts != (Counts{Records: 2, Events: 1, AuditRecords: 1, Malformed: 1}) {
		t.Fatalf("deep: %+v", got.counts)
	}
}

// TestKeyCache: the cache gives the schema's answer whatever the keys: long
// ones, many distinct ones (evictions), bin ones, a record key nested.
func TestRepeatedKeys(t *testing.T) {
	body := func(entries ...string) []byte {
		b := msgp.AppendMapHeader(nil, uint32(len(entries)/2))
		for i := 0; i < len(entries); i += 2 {
			b = msgp.AppendString(b, entries[i])
			b = enc{}.fromJSON(t, b, entries[i+1])
		}
		return b
	}
	base := []string{"kind", `"Event"`, "auditID", `"a"`, "verb", `"get"`}
	cases := []struct {
		name    string
		entries []string
		check   func(ev audit.Event) bool
	}{
		{"string then null", []string{"userAgent", `"ua"`, "userAgent", `null`}, func(ev audit.Event) bool { return ev.UserAgent == "" }},
		{"null then string", []string{"userAgent", `null`, "userAgent", `"ua"`}, func(ev audit.Event) bool { return ev.UserAgent == "ua" }},
		{"object replaced", []string{"objectRef", `{"resource":"secrets","name":"a"}`, "objectRef", `{"namespace":"n"}`},
			func(ev audit.Event) bool { return ev.Resource == "" && ev.Name == "" && ev.Namespace == "n" }},
		{"object then string", []string{"objectRef", `{"resource":"secrets"}`, "objectRef", `"x"`},
			func(ev audit.Event) bool { return ev.Resource == "" }},
		{"list replaced", []string{"sourceIPs", `["1","2"]`, "sourceIPs", `["3"]`},
			func(ev audit.Event) bool {
				return len(ev.SourceIPs) == 1 && ev.SourceIPs[0] == "3" && ev.SourceIPCount == 1
			}},
		{"list then null", []string{"sourceIPs", `["1","2"]`, "sourceIPs", `null`},
			func(ev audit.Event) bool { return len(ev.SourceIPs) == 0 && ev.SourceIPCount == 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeAll(t, Options{}, v2(nil, tsUint(recSec), body(append(append([]string(nil), base...), c.entries...)...)))
			if got.counts.Events != 1 || !c.check(got.events[0]) {
				t.Fatalf("%+v %+v", got.counts, got.events)
			}
			// The verb itself, repeated with a non-string: not audit.
			got = decodeAll(t, Options{}, v2(nil, tsUint(recSec), body(append(append([]string(nil), base...), "verb", `7`)...)))
			if got.counts != (Counts{Records: 1, NotAudit: 1}) {
				t.Fatalf("verb 7: %+v", got.counts)
			}
		})
	}
}

// TestNilEmit: a nil emit is allowed (counting only).
func TestNilEmit(t *testing.T) {
	c := NewDecoder(Options{}).Decode(v2(nil, tsUint(recSec), mp(t, eventList(sampleGet, secondGet))), nil)
	if c.Events != 2 {
		t.Fatalf("%+v", c)
	}
}
