package model

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"
)

// TestCaps: with max_names_per_fingerprint, max_fingerprints and the
// per-fingerprint record cap hit, every engine alert must still be consistent
// with the model: its names a subset of what the model holds for the same
// fingerprint and window (among the events the engine had read), its count no
// larger, and alert.truncated set whenever it differs.
func TestCaps(t *testing.T) {
	start := time.Now()
	span := time.Duration(*flagHours * float64(time.Hour))
	var configs, alerts, truncated, differ int
	var hit [4]uint64
	for i := 0; i < *flagConfigs; i++ {
		seed := *flagSeed + int64(i)
		r := rand.New(rand.NewSource(seed))
		s := RandomSettings(r)
		// Each cap alone, or both; the heavy traffic hits the
		// per-fingerprint record cap whenever names are not capped first.
		switch r.Intn(4) {
		case 0:
			s.MaxNamesPerFingerprint = s.Threshold + r.Intn(4)
		case 1:
			s.MaxFingerprints = 3 + r.Intn(60)
		case 2:
			// The record cap alone.
		default:
			s.MaxNamesPerFingerprint = s.Threshold + r.Intn(4)
			s.MaxFingerprints = 3 + r.Intn(60)
		}
		lines := Generate(seed, TrafficParams{Span: span, Window: s.Window, Suppress: s.Suppress, Heavy: true})
		got := runEngine(t, s, lines)
		want := Run(s, lines)
		in := Decode(s, lines)
		configs++
		fail := func(format string, args ...any) {
			t.Fatalf("seed %d: settings %s\n%s", seed, s, fmt.Sprintf(format, args...))
		}
		if got.stats.Matched != uint64(want.Matching) {
			fail("matched: engine %d, model %d", got.stats.Matched, want.Matching)
		}
		st := got.stats
		hit[0] += st.NamesDropped
		hit[1] += st.FingerprintsEvicted
		hit[2] += st.EventsCoalesced
		hit[3] += st.RecordsEvicted
		for k, a := range got.alerts {
			alerts++
			if a["alert"].(map[string]any)["truncated"] == true {
				truncated++
			}
			ok, msg := consistent(s, in, a, got.read[k])
			if !ok {
				fail("alert %d: %s", k, msg)
			}
			if msg != "" {
				differ++
			}
		}
	}
	t.Logf("%d configurations over %v: %d engine alerts, %d truncated, %d differing from the model's window (all flagged); names dropped %d, fingerprints evicted %d, reads coalesced %d, records evicted %d; %v",
		configs, span, alerts, truncated, differ, hit[0], hit[1], hit[2], hit[3], time.Since(start).Round(time.Millisecond))
}

// consistent checks one engine alert against the model's view of its
// fingerprint and window. It reports a non-empty message for an alert that
// differs but is allowed to (flagged truncated, a subset).
func consistent(s Settings, in *Input, a map[string]any, read int) (bool, string) {
	v := func(m map[string]any, p string) any { x, _ := lookup(m, p); return x }
	typ, mode := v(a, "alert.type").(string), v(a, "alert.mode").(string)
	w0, err1 := time.Parse(time.RFC3339Nano, v(a, "window.start").(string))
	w1, err2 := time.Parse(time.RFC3339Nano, v(a, "window.end").(string))
	if err1 != nil || err2 != nil {
		return false, fmt.Sprintf("bad window: %s", Brief(a))
	}
	view := in.View(v(a, "alert.fingerprint").(string), w0.UnixNano(), w1.UnixNano(), typ == "update", read, typ, mode)
	if view == nil {
		return false, fmt.Sprintf("the model has no event of this fingerprint in the window: %s", Brief(a))
	}
	names := v(a, "Esql.secrets_names").([]any)
	if typ == "new" && len(names) < s.Threshold {
		return false, fmt.Sprintf("a new alert below the threshold: %s", Brief(a))
	}
	flagged := v(a, "alert.truncated") == true
	plain := normalize(a)
	plain["alert"].(map[string]any)["truncated"] = false
	if reflect.DeepEqual(plain, view) {
		return true, ""
	}
	d := Compare([]map[string]any{plain}, []map[string]any{view})
	if !flagged {
		return false, "differs from the model's window without alert.truncated: " + d.String()
	}
	have := map[any]bool{}
	for _, n := range v(view, "Esql.secrets_names").([]any) {
		have[n] = true
	}
	for _, n := range names {
		if !have[n] {
			return false, fmt.Sprintf("name %v is not in the model's window: %s", n, d)
		}
	}
	if v(a, "event.count").(float64) > v(view, "event.count").(float64) ||
		v(a, "Esql.unique_credentials").(float64) != float64(len(names)) {
		return false, "counts: " + d.String()
	}
	return true, d.Path
}
