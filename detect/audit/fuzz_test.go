package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// refEvents is a reference reading of the mapping with encoding/json and
// generic maps: slow and obvious, for the fuzzer to compare against.
func refEvents(doc []byte, recordTime int64) ([]Event, bool) {
	top, ok := refValue(doc)
	if !ok {
		return nil, false
	}
	m, ok := top.(map[string]any)
	if !ok {
		return nil, true
	}
	var out []Event
	if items, ok := m["items"].([]any); ok {
		for _, it := range items {
			if im, ok := it.(map[string]any); ok {
				if ev, ok := refEvent(im, recordTime); ok {
					out = append(out, ev)
				}
			}
		}
	}
	if ev, ok := refEvent(m, recordTime); ok {
		out = append(out, ev)
	}
	return out, true
}

// refValue reads doc with encoding/json; numbers stay text, so that one
// out of float64's range does not fail a valid document.
func refValue(doc []byte) (any, bool) {
	if !json.Valid(doc) {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var top any
	return top, d.Decode(&top) == nil
}

func refEvent(m map[string]any, recordTime int64) (Event, bool) {
	str := func(v any) (string, bool) { s, ok := v.(string); return s, ok }
	obj := func(k string) map[string]any { o, _ := m[k].(map[string]any); return o }
	has := func(k string) bool { _, ok := str(m[k]); return ok }
	verb, hasVerb := str(m["verb"])
	kind, _ := str(m["kind"])
	if !hasVerb || !(has("auditID") || has("stage") || kind == "Event") {
		return Event{}, false
	}
	ev := Event{Verb: verb}
	ev.AuditID, _ = str(m["auditID"])
	ev.Stage, _ = str(m["stage"])
	ev.UserAgent, _ = str(m["userAgent"])
	ev.User, _ = str(obj("user")["username"])
	ev.ImpersonatedUser, _ = str(obj("impersonatedUser")["username"])
	ev.Resource, _ = str(obj("objectRef")["resource"])
	ev.Namespace, _ = str(obj("objectRef")["namespace"])
	ev.Name, _ = str(obj("objectRef")["name"])
	ev.Decision, _ = str(obj("annotations")["authorization.k8s.io/decision"])
	var ips []string
	switch v := m["sourceIPs"].(type) {
	case string:
		ips = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				ips = append(ips, s)
			}
		}
	}
	ev.SourceIPCount = len(ips)
	if len(ips) > MaxSourceIPs {
		ips = append(ips[:MaxSourceIPs-1], ips[len(ips)-1])
	}
	ev.SourceIPs = ips
	a, _ := str(m["requestReceivedTimestamp"])
	b, _ := str(m["stageTimestamp"])
	c, _ := str(m["timestamp"])
	ev.Time = recordTime
	for _, s := range []string{a, b, c} {
		if t, ok := ParseTime(s); ok && s != "" {
			ev.Time = t
			break
		}
	}
	return ev, true
}

// repeatsItems reports whether the top-level object has "items" twice.
func repeatsItems(doc []byte) bool {
	d := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := 0
	for d.More() {
		key, err := d.Token()
		if err != nil {
			return false
		}
		if key == "items" {
			seen++
		}
		var value json.RawMessage
		if d.Decode(&value) != nil {
			return false
		}
	}
	return seen > 1
}

func normalize(evs []Event) []Event {
	for i := range evs {
		if len(evs[i].SourceIPs) == 0 {
			evs[i].SourceIPs = nil
		}
	}
	return evs
}

func seedJSON(f *testing.F) {
	f.Add([]byte(sampleGet))
	f.Add([]byte(`{"kind":"EventList","items":[` + sampleGet + `,{"verb":"list","stage":"RequestReceived"}]}`))
	f.Add([]byte(`{"verb":"get","auditID":"x","sourceIPs":"::1","userAgent":"a\"b\\","objectRef":{"name":"\u00e9"}}`))
	for _, glob := range []string{"../../../shared/reference/audit-samples/*/*.json", "testdata/*.jsonl"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			b, _ := os.ReadFile(name)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(line) != "" {
					f.Add([]byte(line))
				}
			}
		}
	}
}

// checkVerdict holds Parse's verdict on doc to encoding/json's: malformed
// exactly when encoding/json.Valid refuses the bytes (whatever they hold:
// invalid UTF-8 included), not audit exactly when the reference reads no
// event and the document is not an EventList.
func checkVerdict(t *testing.T, doc []byte, err error) {
	t.Helper()
	valid := json.Valid(doc)
	switch {
	case err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotAudit):
		t.Fatalf("unexpected error %v", err)
	case errors.Is(err, ErrMalformed) == valid:
		t.Fatalf("Parse: %v; encoding/json.Valid: %v", err, valid)
	case !valid:
		return
	}
	top, ok := refValue(doc)
	if !ok {
		t.Fatalf("encoding/json.Valid accepts what Decode refuses")
	}
	m, isObject := top.(map[string]any)
	_, hasItems := m["items"]
	evs, _ := refEvents(doc, 0)
	if wantNotAudit := !isObject || len(evs) == 0 && !hasItems; errors.Is(err, ErrNotAudit) != wantNotAudit {
		t.Fatalf("Parse: %v; the reference reads %d events (object %v, items %v)", err, len(evs), isObject, hasItems)
	}
}

// FuzzParseJSON: any bytes parse without panicking, with encoding/json's
// verdict on whether they are JSON, and every valid UTF-8 document gives
// the same events as the reference reading.
func FuzzParseJSON(f *testing.F) {
	seedJSON(f)
	for _, c := range validityCases {
		if len(c.doc) < 1000 { // the deep ones would slow every exec that mutates them
			f.Add([]byte(c.doc))
		}
	}
	p := NewJSONParser()
	f.Fuzz(func(t *testing.T, doc []byte) {
		var got []Event
		n, err := p.Parse(doc, 42, func(ev *Event) {
			c := *ev
			c.SourceIPs = append([]string(nil), ev.SourceIPs...)
			got = append(got, c)
		})
		if n != len(got) {
			t.Fatalf("returned %d, emitted %d", n, len(got))
		}
		checkVerdict(t, doc, err)
		if !utf8.Valid(doc) {
			return // encoding/json replaces invalid bytes; views keep them
		}
		want, ok := refEvents(doc, 42)
		if !ok || repeatsItems(doc) {
			// Every items array of an EventList is read, as it streams;
			// the reference keeps only the last one.
			return
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Fatalf("events differ\n got %+v\nwant %+v", got, want)
		}
	})
}

// FuzzEventList: an EventList body around fuzzed items.
func FuzzEventList(f *testing.F) {
	f.Add([]byte(sampleGet), []byte(`{"verb":"get","stage":"x"}`))
	f.Add([]byte(`{}`), []byte(`[]`))
	f.Add([]byte(`{"verb":"get","stage":"x","sourceIPs":["1",{"a":[]}]}`), []byte(`{"verb":"get","stage":"\ud800\ud800\udc00"} `))
	p := NewJSONParser()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		doc := append(append(append(append([]byte(`{"kind":"EventList","items":[`), a...), ','), b...), "]}"...)
		n, err := p.Parse(doc, 0, func(*Event) {})
		checkVerdict(t, doc, err)
		if !utf8.Valid(doc) {
			return
		}
		if want, ok := refEvents(doc, 0); ok && !repeatsItems(doc) && n != len(want) {
			t.Fatalf("emitted %d, want %d", n, len(want))
		}
	})
}

// FuzzParseTime holds the fast timestamp reader, and its minute cache, to
// time.Parse's answers: s is read alone and then primes the cache for a
// second timestamp that shares its first 16 bytes (its minute) and ends in
// tail.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-25T10:00:00.123456Z", "2026-11-25T10:00:00Z", "2024-02-29T23:59:59.999999999Z",
		"2023-02-29T00:00:00Z", "2026-11-25T10:00:00.1234567890Z", "2026-11-25T10:00:00+02:00", "1970-01-01T00:00:00.Z",
		"2026-13-01T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25t10:00:00z", "0000-01-01T00:00:00Z", "2261-12-31T23:59:59.999999Z"} {
		f.Add(s, ":59.5Z")
		f.Add(s, ":60Z")
		f.Add(s, ":07.123456789Z")
		f.Add(s, ":07.1234567890Z")
	}
	check := func(t *testing.T, s string, got int64, ok bool) {
		t.Helper()
		want, err := time.Parse(time.RFC3339Nano, s)
		wantOK := err == nil && want.Year() >= 1678 && want.Year() <= 2261
		if ok != wantOK || (ok && got != want.UnixNano()) {
			t.Fatalf("%q: got %d %v, time.Parse %v %v", s, got, ok, want, err)
		}
	}
	f.Fuzz(func(t *testing.T, s, tail string) {
		got, ok := ParseTime(s)
		check(t, s, got, ok)
		var c minuteCache
		got, ok = c.parseTime(s)
		check(t, s, got, ok)
		u := s[:min(len(s), 16)] + tail
		got, ok = c.parseTime(u)
		check(t, u, got, ok)
	})
}
