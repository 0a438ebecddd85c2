package audit

import (
	"bytes"
	"strings"
	"testing"
)

// timesOf is what ParseTimes keeps of Parse's events, in order.
type kept struct {
	Time                   int64
	Verb, AuditID, Stage   string
	resourceEtc, sourceIPs string
}

const (
	full = iota
	times
	prefiltered
)

func parseKept(doc []byte, how int) ([]kept, error) {
	p := NewJSONParser()
	var out []kept
	emit := func(ev *Event) {
		out = append(out, kept{ev.Time, ev.Verb, ev.AuditID, ev.Stage,
			ev.Resource + "|" + ev.Name + "|" + ev.Namespace + "|" + ev.User + "|" + ev.ImpersonatedUser + "|" + ev.UserAgent + "|" + ev.Decision,
			strings.Join(ev.SourceIPs, ",")})
	}
	var n int
	var err error
	switch how {
	case times:
		n, err = p.ParseTimes(doc, 7, emit)
	case prefiltered:
		n, err = p.ParsePrefiltered(doc, 7, emit)
	default:
		n, err = p.Parse(doc, 7, emit)
	}
	if n != len(out) {
		panic("count")
	}
	return out, err
}

// checkTimes holds ParseTimes to Parse on doc: the same error, the same
// events in order with the same time, verb, auditID and stage, and nothing
// else (so that none can match); and ParsePrefiltered to Parse: the same,
// and each event that may match (a get of secrets) whole.
func checkTimes(t *testing.T, doc []byte) (events []kept, err error) {
	t.Helper()
	full, errFull := parseKept(doc, full)
	for _, how := range []int{times, prefiltered} {
		got, errGot := parseKept(doc, how)
		if errFull != errGot || len(full) != len(got) {
			t.Fatalf("%d: Parse: %v, %d events; the other: %v, %d events\n%q", how, errFull, len(full), errGot, len(got), doc)
		}
		for i := range full {
			f, g := full[i], got[i]
			if how == prefiltered && (f == g || f.Verb == "get" && strings.HasPrefix(f.resourceEtc, "secrets|")) {
				if f != g {
					t.Fatalf("event %d: Parse %+v, ParsePrefiltered %+v\n%q", i, f, g, doc)
				}
				continue
			}
			f.resourceEtc, f.sourceIPs = "||||||", ""
			if f != g {
				t.Fatalf("event %d: Parse %+v, the other (%d) %+v\n%q", i, full[i], how, g, doc)
			}
		}
	}
	if !MayMatch(doc) {
		for _, ev := range full {
			if strings.HasPrefix(ev.resourceEtc, "secrets|") {
				t.Fatalf("MayMatch false for a document with a secrets event\n%q", doc)
			}
		}
	}
	return full, errFull
}

const nestedTimes = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"c1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns/configmaps","verb":"create","user":{"username":"alice","extra":{"requestReceivedTimestamp":["2199-01-01T00:00:00Z"]}},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"configmaps","namespace":"ns","name":"cm","requestReceivedTimestamp":"2199-01-01T00:00:00Z"},"requestObject":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","annotations":{"stageTimestamp":"2199-01-01T00:00:00Z"}},"data":{"requestReceivedTimestamp":"2199-01-01T00:00:00Z","timestamp":"2199-01-01T00:00:00Z","items":"[]"}},"responseObject":{"kind":"ConfigMap","data":{"requestReceivedTimestamp":"2199-01-01T00:00:00Z"},"items":[{"verb":"get","auditID":"x","requestReceivedTimestamp":"2199-01-01T00:00:00Z"}]},"stageTimestamp":"2026-11-25T10:00:00.5Z","annotations":{"requestReceivedTimestamp":"2199-01-01T00:00:00Z"}}`

// TestPrefilterAdversarial: the cases of issue 14, each read by both paths.
func TestPrefilterAdversarial(t *testing.T) {
	stage := mustParse(t, "2026-11-25T10:00:00.5Z")
	received := mustParse(t, "2026-11-25T10:00:00.123456Z")
	other := strings.NewReplacer(`"secrets"`, `"configmaps"`, `/secrets/`, `/configmaps/`).Replace(sampleGet)
	cases := []struct {
		name     string
		doc      string
		mayMatch bool
		time     int64 // of the one event; 0: not checked
		err      error
		events   int
	}{
		{"a get of secrets", sampleGet, true, received, nil, 1},
		{"no secrets", other, false, received, nil, 1},
		{"secrets in the URI only", strings.Replace(other, `/configmaps/`, `/secrets/`, 1), true, received, nil, 1},
		{"secrets in a name", strings.Replace(other, `"db-password"`, `"secrets-db"`, 1), true, received, nil, 1},
		{"secrets in an annotation", strings.Replace(other, `"edit\""`, `"read-secrets\""`, 1), true, received, nil, 1},
		{"escaped resource", strings.Replace(sampleGet, `"resource":"secrets"`, `"resource":"\u0073ecrets"`, 1), true, received, nil, 1},
		{"every letter escaped", strings.NewReplacer(`"secrets"`, `"\u0073\u0065\u0063\u0072\u0065\u0074\u0073"`, `/secrets/`, `/x/`).Replace(sampleGet), true, received, nil, 1},
		{"an escaped key", strings.Replace(other, `"requestReceivedTimestamp"`, `"request\u0052eceivedTimestamp"`, 1), true, received, nil, 1},
		{"other escapes only", strings.Replace(other, `"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"`, `"a\"b\\c\/d\n\t"`, 1), false, received, nil, 1},
		{"an escaped quote in a time key", strings.Replace(other, `"requestReceivedTimestamp"`, `"requestReceived\"Timestamp"`, 1), false, stage0(t), nil, 1},
		{"whitespace between tokens", strings.NewReplacer(`,"`, " ,\n\t\"", `":`, "\"\r\n :  ", `{`, "{ ", `}`, " }").Replace(other), false, received, nil, 1},
		{"whitespace around the document", " \n\t" + other + "\r\n ", false, received, nil, 1},
		{"time first", `{"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z",` + other[1:], false, received, nil, 1},
		{"time last", strings.Replace(other, `"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z",`, ``, 1)[:len(other)-len(`"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z",`)-1] + `,"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z"}`, false, received, nil, 1},
		{"verb last", strings.Replace(other, `"verb":"get",`, ``, 1)[:len(other)-len(`"verb":"get",`)-1] + `,"verb":"get"}`, false, received, nil, 1},
		{"a duplicate time key: the last wins", `{"requestReceivedTimestamp":"2199-01-01T00:00:00Z",` + other[1:], false, received, nil, 1},
		{"a duplicate time key, null last", other[:len(other)-1] + `,"requestReceivedTimestamp":null,"stageTimestamp":"2026-11-25T10:00:00.5Z"}`, false, stage, nil, 1},
		{"a duplicate time key, an object last", other[:len(other)-1] + `,"requestReceivedTimestamp":{"a":"2026-11-25T10:00:00Z"},"stageTimestamp":"2026-11-25T10:00:00.5Z"}`, false, stage, nil, 1},
		{"a duplicate verb, null last: not an audit event", other[:len(other)-1] + `,"verb":null}`, false, 0, ErrNotAudit, 0},
		{"time keys only nested", nestedTimes, false, stage, nil, 1},
		{"time keys only nested, with secrets", strings.Replace(nestedTimes, `"cm"`, `"secrets"`, 1), true, stage, nil, 1},
		{"time keys only nested, none at the top", strings.Replace(nestedTimes, `,"stageTimestamp":"2026-11-25T10:00:00.5Z"`, ``, 1), false, 7, nil, 1},
		{"an EventList", `{"kind":"EventList","items":[` + other + `,` + nestedTimes + `,{"verb":"x"},null,[` + other + `]]}`, false, 0, nil, 2},
		{"an EventList, nested items", `{"kind":"EventList","items":[{"kind":"Event","verb":"get","auditID":"n","items":[` + other + `]}],"items":[]}`, false, 7, nil, 1},
		{"an EventList that is an event", `{"kind":"Event","auditID":"top","verb":"delete","items":[` + other + `],"timestamp":"2026-11-25T10:00:00.5Z"}`, false, 0, nil, 2},
		{"items not a list", `{"kind":"EventList","items":{"a":` + other + `}}`, false, 0, nil, 0},
		{"not JSON", `{"verb":"get","auditID":"x","stageTimestamp":"2026-11-25T10:00:00.5Z",tru}`, false, 0, ErrMalformed, 0},
		{"a control byte in a skipped string", strings.Replace(other, `"RBAC`, "\"\x01RBAC", 1), false, 0, ErrMalformed, 0},
		{"a bad number in a skipped object", strings.Replace(other, `"code":200`, `"code":0200`, 1), false, 0, ErrMalformed, 0},
		{"two documents", other + other, false, 0, ErrMalformed, 0},
		{"an array", `[` + other + `]`, false, 0, ErrNotAudit, 0},
	}
	for _, c := range cases {
		doc := []byte(c.doc)
		if got := MayMatch(doc); got != c.mayMatch {
			t.Errorf("%s: MayMatch %v, want %v", c.name, got, c.mayMatch)
		}
		evs, err := checkTimes(t, doc)
		if err != c.err || len(evs) != c.events {
			t.Errorf("%s: %v, %d events; want %v, %d", c.name, err, len(evs), c.err, c.events)
		}
		if c.time != 0 && len(evs) > 0 && evs[0].Time != c.time {
			t.Errorf("%s: time %d, want %d", c.name, evs[0].Time, c.time)
		}
	}
	// Truncated lines: every prefix of an event, with and without a
	// time key at the top, and of an EventList (whose items read before
	// the cut are emitted, by both).
	for _, doc := range []string{other, nestedTimes, `{"kind":"EventList","items":[` + other + `,` + other + `]}`} {
		for n := range len(doc) {
			checkTimes(t, []byte(doc[:n]))
		}
	}
}

func stage0(t *testing.T) int64 { return mustParse(t, "2026-11-25T10:00:00.130001Z") }

func mustParse(t *testing.T, s string) int64 {
	t.Helper()
	ns, ok := ParseTime(s)
	if !ok {
		t.Fatalf("bad time %q", s)
	}
	return ns
}

// TestMayMatch: the byte search finds secrets at every position and
// alignment, and \u anywhere.
func TestMayMatch(t *testing.T) {
	for size := 0; size < 60; size++ {
		for at := 0; at+len(secrets) <= size; at++ {
			b := bytes.Repeat([]byte("sxc"), size)[:size]
			if MayMatch(b) {
				t.Fatalf("%q: MayMatch", b)
			}
			copy(b[at:], secrets)
			if !MayMatch(b) {
				t.Fatalf("%q: secrets at %d not found", b, at)
			}
			b[at+6] = 'x'
			if MayMatch(b) {
				t.Fatalf("%q: MayMatch", b)
			}
		}
	}
	for _, s := range []string{`\u`, `x\\u`, `\"\u0041`} {
		if !MayMatch([]byte(s)) {
			t.Errorf("%q: no \\u found", s)
		}
	}
	for _, s := range []string{`\`, `u\`, `\"u`, `\\`} {
		if MayMatch([]byte(s)) {
			t.Errorf("%q: MayMatch", s)
		}
	}
}

// FuzzParseTimes: on any document, ParseTimes is Parse less the fields
// the rule needs to match (see checkTimes).
func FuzzParseTimes(f *testing.F) {
	f.Add([]byte(sampleGet))
	f.Add([]byte(nestedTimes))
	f.Add([]byte(`{"kind":"EventList","items":[` + nestedTimes + `,` + sampleGet + `,{"verb":"x","stage":"","timestamp":"2026-11-25T10:00:00Z"}]}`))
	f.Add([]byte(`{"verb" : "get","auditID":"x" , "request\u0052eceivedTimestamp":"2026-11-25T10:00:00Z","stageTimestamp":1e5,"items":null}`))
	f.Add([]byte(`{"a":[[[{"b":"\ud83d\ude00"}]]],"verb":"\"","stage":"s","timestamp":"2017-09-11T19:55:05+02:00"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkTimes(t, doc)
	})
}
