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
