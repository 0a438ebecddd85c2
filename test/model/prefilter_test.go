package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
)

// The raw-line path with and without the necessary-bytes prefilter
// (record.Options.Prefilter): each line is a `tail` record without a
// parser, {"log": line}, decoded by the plugin's decoder into the engine.
// Both must give the model's alerts and counters, and each other's
// watermark after every line.

// rawRun is what the raw-line path made of an input.
type rawRun struct {
	alerts     []map[string]any
	watermarks []int64 // the engine's watermark after each line
	counts     record.Counts
	stats      detect.Stats
}

// logRecord is one Fluent Bit >= 2.1 record of a tail input without a
// parser, with no record time (0), so that an event without a time of its
// own has none, as in the replay command.
func logRecord(b, line []byte) []byte {
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendArrayHeader(b, 2)
	b = append(b, 0xd7, 0, 0, 0, 0, 0, 0, 0, 0, 0) // EventTime 0 as fixext8
	b = msgp.AppendMapHeader(b, 0)
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "log")
	return msgp.AppendStringFromBytes(b, line)
}

// runRaw feeds lines to the engine through the plugin's decoder, one
// record per line, the prefilter on or off.
func runRaw(t testing.TB, s Settings, lines [][]byte, prefilter bool) *rawRun {
	t.Helper()
	eng := newEngine(t, s)
	out := &rawRun{}
	take := func() { out.alerts = append(out.alerts, takeAlerts(t, eng)...) }
	dec := record.NewDecoder(record.Options{Prefilter: prefilter})
	process := func(ev *audit.Event) {
		eng.Process(ev)
		take()
	}
	var rec []byte
	for _, l := range lines {
		rec = logRecord(rec[:0], l)
		out.counts.Add(dec.Decode(rec, process))
		out.watermarks = append(out.watermarks, eng.Stats().Watermark)
	}
	eng.Close()
	take()
	out.stats = eng.Stats()
	return out
}

// sameAsModel compares a raw run with the model: alerts, and the counters
// (events without a time are the decoder's NoTime, not handed over).
func sameAsModel(got *rawRun, want *Result) string {
	c := got.stats
	if c.EventsCoalesced+c.RecordsEvicted+c.NamesDropped+c.FingerprintsEvicted > 0 {
		return "the traffic hit the engine's caps: make the generator gentler"
	}
	if d := Compare(got.alerts, want.Alerts); d != nil {
		return d.String()
	}
	events, timeless := c.Events+got.counts.NoTime, c.NoTime+got.counts.NoTime
	if c.Matched != uint64(want.Matching) || events != uint64(want.AuditEvents) || timeless != uint64(want.Timeless) ||
		c.AlertsCut != uint64(want.Cut) {
		return fmt.Sprintf("counters: matched=%d events=%d no_time=%d cut=%d, model %d %d %d %d",
			c.Matched, events, timeless, c.AlertsCut, want.Matching, want.AuditEvents, want.Timeless, want.Cut)
	}
	return ""
}

// sameRuns compares the prefilter's run with the full reading's: alerts in
// order, the watermark after every line, the decoder's counts and the
// engine's counters.
func sameRuns(on, off *rawRun) string {
	if d := Compare(on.alerts, off.alerts); d != nil {
		return "alerts: " + d.String()
	}
	for i := range off.watermarks {
		if on.watermarks[i] != off.watermarks[i] {
			return fmt.Sprintf("watermark after line %d: %d with the prefilter, %d without", i, on.watermarks[i], off.watermarks[i])
		}
	}
	if on.counts != off.counts {
		return fmt.Sprintf("decoder counts: %+v with the prefilter, %+v without", on.counts, off.counts)
	}
	a, b := on.stats, off.stats
	a.Records, b.Records = 0, 0 // memory held, not a count of input
	if a != b {
		return fmt.Sprintf("engine stats: %+v with the prefilter, %+v without", a, b)
	}
	return ""
}

// adversarial rewrites some of the generator's lines without changing what
// they mean to the rule, in ways aimed at the prefilter, and adds lines the
// rule ignores: truncated copies, decoys whose only time is nested.
func adversarial(r *rand.Rand, lines [][]byte) [][]byte {
	var out [][]byte
	for _, l := range lines {
		if len(l) == 0 || l[0] != '{' {
			out = append(out, l)
			continue
		}
		switch r.Intn(12) {
		case 0: // the resource written with an escape: still secrets
			l = bytes.ReplaceAll(l, []byte(`"secrets"`), []byte(`"\u0073ecrets"`))
		case 1: // whitespace between every token
			var b bytes.Buffer
			if json.Indent(&b, l, " ", "\t") == nil {
				l = b.Bytes()
			}
		case 2: // a request object first, with the time keys and secrets inside it
			l = append([]byte(`{"requestObject":{"kind":"ConfigMap","data":{"requestReceivedTimestamp":"2199-01-01T00:00:00Z","stageTimestamp":"2199-01-01T00:00:00Z","timestamp":"2199-01-01T00:00:00Z","verb":"get","resource":"secrets"},"items":[{"verb":"get","auditID":"x","requestReceivedTimestamp":"2199-01-01T00:00:00Z"}]},`), l[1:]...)
		case 3: // the same without the bytes: read by the prefilter
			l = append([]byte(`{"responseObject":{"metadata":{"annotations":{"requestReceivedTimestamp":"2199-01-01T00:00:00Z"}},"stageTimestamp":["2199-01-01T00:00:00Z"]},`), l[1:]...)
		case 4: // secrets in another field only
			l = append([]byte(`{"requestURI":"/api/v1/namespaces/secrets/configmaps/secrets-x",`), l[1:]...)
		case 5: // a truncated copy first: malformed, ignored (not an
			// EventList: the items before the cut are taken, see
			// audit.JSONParser.Parse)
			if !bytes.Contains(l, []byte(`"EventList"`)) {
				out = append(out, l[:r.Intn(len(l))])
			}
		case 6: // a duplicate time key first: the later one wins (the
			// model's input must stay in time order)
			if bytes.Contains(l, []byte(`,"requestReceivedTimestamp":"`)) {
				l = append([]byte(`{"requestReceivedTimestamp":"2199-01-01T00:00:00Z","stageTimestamp":17,`), l[1:]...)
			}
		}
		out = append(out, l)
	}
	return out
}

// TestDifferentialPrefilter: random settings over generated traffic (made
// adversarial), through the raw-line path with the prefilter on and off;
// each must equal the model, and the two each other at every line.
// MODEL_CONFIGS / MODEL_HOURS / MODEL_SEED size it as TestDifferential.
func TestDifferentialPrefilter(t *testing.T) {
	var configs, lines, events, alerts, skimmed int
	start := time.Now()
	span := time.Duration(*flagHours * float64(time.Hour))
	for i := 0; i < *flagConfigs; i++ {
		seed := *flagSeed + int64(i)
		r := rand.New(rand.NewSource(seed))
		s := RandomSettings(r)
		in := adversarial(r, Generate(seed, TrafficParams{Span: span, Window: s.Window, Suppress: s.Suppress}))
		want := Run(s, in)
		on, off := runRaw(t, s, in, true), runRaw(t, s, in, false)
		for name, got := range map[string]*rawRun{"prefilter on": on, "prefilter off": off} {
			if p := sameAsModel(got, want); p != "" {
				t.Fatalf("seed %d, %s: engine and model differ\nsettings: %s\n%s", seed, name, s, p)
			}
		}
		if p := sameRuns(on, off); p != "" {
			t.Fatalf("seed %d: prefilter on and off differ\nsettings: %s\n%s", seed, s, p)
		}
		for _, l := range in {
			if !audit.MayMatch(l) {
				skimmed++
			}
		}
		configs++
		lines += len(in)
		events += want.AuditEvents
		alerts += len(want.Alerts)
	}
	if skimmed == 0 || skimmed == lines {
		t.Errorf("%d of %d lines read by the prefilter: the traffic no longer tests both paths", skimmed, lines)
	}
	t.Logf("%d configurations, %d lines (%d without the bytes secrets or \\u), %d audit events, %d alerts: both paths equal the model and each other, in %v",
		configs, lines, skimmed, events, alerts, time.Since(start).Round(time.Millisecond))
}

// FuzzPrefilter: on any lines (the fuzzer's bytes split at newlines),
// under the default settings with a threshold of 2, the prefilter changes
// nothing: alerts, the watermark after every line, the decoder's counts
// and the engine's counters.
func FuzzPrefilter(f *testing.F) {
	get := func(ts, name, extra string) string {
		return `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-` + name + `","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns/secrets/` + name + `","verb":"get","user":{"username":"u"},"sourceIPs":["10.0.0.1"],"userAgent":"curl","objectRef":{"resource":"secrets","namespace":"ns","name":"` + name + `","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"` + ts + `","stageTimestamp":"` + ts + `"` + extra + `}`
	}
	other := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"b","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns/configmaps/c","verb":"get","user":{"username":"u"},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"configmaps","namespace":"ns","name":"c"},"requestObject":{"data":{"requestReceivedTimestamp":"2199-01-01T00:00:00Z"}},"requestReceivedTimestamp":"2026-11-25T10:01:00Z","stageTimestamp":"2026-11-25T10:01:00.5Z"}`
	f.Add([]byte(strings.Join([]string{get("2026-11-25T10:00:00Z", "a", ""), other, get("2026-11-25T10:00:01Z", "b", ""),
		get("2026-11-25T10:00:02Z", "c", `,"annotations":{"authorization.k8s.io/decision":"allow"}`)}, "\n")))
	f.Add([]byte(strings.Join([]string{strings.ReplaceAll(get("2026-11-25T10:00:00Z", "a", ""), `"secrets"`, `"\u0073ecrets"`),
		other[:len(other)/2], `{"kind":"EventList","items":[` + other + `,` + get("2026-11-25T10:02:00Z", "d", "") + `]}`,
		get("2026-11-25T10:09:00Z", "e", ""), `{"verb":"list","stage":"x","timestamp":"2026-11-25T10:20:00Z","stageTimestamp":{"a":1}}`}, "\n")))
	f.Add([]byte("{\"verb\" : \"get\" ,\"auditID\":\"x\",\n\"requestReceivedTimestamp\":\"2026-11-25T10:00:00Z\",\"requestReceivedTimestamp\":null}\nnot json\n{}"))
	s := Defaults()
	s.Threshold = 2
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Split(data, []byte("\n"))
		on, off := runRaw(t, s, lines, true), runRaw(t, s, lines, false)
		if p := sameRuns(on, off); p != "" {
			in, _ := json.Marshal(Lines(lines))
			t.Fatalf("prefilter on and off differ\ninput: %s\n%s", in, p)
		}
	})
}
