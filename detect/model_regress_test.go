package detect

import (
	"reflect"
	"testing"
	"time"
)

// Minimal reproductions of differences between the engine and the
// independent model of the rule (test/model), kept once the engine was fixed.

// A UUID auditID in capitals is printed lowercase, as the model's
// specification says: the same request logged by two API servers (or two
// tools) lists once.
func TestModelUppercaseAuditIDIsLowercased(t *testing.T) {
	h := newHarness(t)
	id := func(v string) func(*Event) { return func(e *Event) { e.AuditID = v } }
	h.feed(secretGet(0, "a", id("2F317E12-0000-4000-8000-0000000004ED")),
		secretGet(time.Second, "b", id("0000000A-0000-4000-8000-00000000000b")),
		secretGet(2*time.Second, "c", id("req-C")))
	h.wantAlerts(1)
	want := []string{"0000000a-0000-4000-8000-00000000000b", "2f317e12-0000-4000-8000-0000000004ed", "req-C"}
	if got := h.alerts[0].AuditIDs; !reflect.DeepEqual(got, want) {
		t.Fatalf("auditIDs %q, want %q", got, want)
	}
}

// A timestamp outside 1970..2200 counts as none, like one that does not
// parse: the next timestamp field gives the time. Before, a value the Go
// parser could read (1678..2261) was taken and then refused, so whether an
// event had a time depended on how far out of range its first field was.
func TestModelOutOfRangeTimestampFallsThrough(t *testing.T) {
	stage := "2025-11-24T16:00:04.8Z"
	want, _ := ParseTime(stage)
	for _, received := range []string{"1969-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2201-01-01T00:00:00Z",
		"2300-01-01T00:00:00Z", "never"} {
		line := `{"kind":"Event","verb":"get","requestReceivedTimestamp":"` + received + `","stageTimestamp":"` + stage + `"}`
		var got int64 = -1
		if _, err := NewJSONParser().Parse([]byte(line), 0, func(ev *Event) { got = ev.Time }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("requestReceivedTimestamp %s: time %d, want the stageTimestamp's %d", received, got, want)
		}
	}
}
