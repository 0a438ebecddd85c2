package detect

import (
	"reflect"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// Minimal reproductions of differences between the engine and the
// independent model of the rule (test/model), kept once the engine was fixed.

// A UUID auditID in capitals is printed lowercase, as the model's
// specification says: the same request logged by two API servers (or two
// tools) lists once.
func TestModelUppercaseAuditIDIsLowercased(t *testing.T) {
	h := newHarness(t)
	id := func(v string) func(*audit.Event) { return func(e *audit.Event) { e.AuditID = v } }
	h.feed(secretGet(0, "a", id("2F317E12-0000-4000-8000-0000000004ED")),
		secretGet(time.Second, "b", id("0000000A-0000-4000-8000-00000000000b")),
		secretGet(2*time.Second, "c", id("req-C")))
	h.wantAlerts(1)
	want := []string{"0000000a-0000-4000-8000-00000000000b", "2f317e12-0000-4000-8000-0000000004ed", "req-C"}
	if got := h.alerts[0].AuditIDs; !reflect.DeepEqual(got, want) {
		t.Fatalf("auditIDs %q, want %q", got, want)
	}
}

// A fingerprint evicted under max_fingerprints that comes back starts empty:
// its alerts then miss the names read before the eviction, and must say so.
func TestModelEvictedFingerprintAlertIsTruncated(t *testing.T) {
	h := newHarness(t, "max_fingerprints", "1")
	h.feed(secretGet(0, "a"), secretGet(time.Second, "b"),
		secretGet(2*time.Second, "x", user("other")), // evicts mallory
		secretGet(3*time.Second, "c"), secretGet(4*time.Second, "d"), secretGet(5*time.Second, "e"))
	h.wantAlerts(1)
	if a := h.alerts[0]; !a.Truncated {
		t.Fatalf("alert on %v after an eviction that dropped a and b is not flagged truncated", h.names(a))
	}
	// The same across a restart: the snapshot keeps the eviction's time.
	h = newHarness(t, "max_fingerprints", "1")
	h.feed(secretGet(0, "a"), secretGet(time.Second, "b"), secretGet(2*time.Second, "x", user("other")))
	snap := h.e.Snapshot()
	h2 := newHarness(t, "max_fingerprints", "1")
	if err := h2.e.Restore(snap); err != nil {
		t.Fatal(err)
	}
	h2.feed(secretGet(3*time.Second, "c"), secretGet(4*time.Second, "d"), secretGet(5*time.Second, "e"))
	h2.wantAlerts(1)
	if a := h2.alerts[0]; !a.Truncated {
		t.Fatalf("after a restore: alert on %v not flagged truncated", h2.names(a))
	}
	// A fingerprint that never held anything before the eviction's time is
	// complete.
	h = newHarness(t, "max_fingerprints", "1", "window", "10s")
	h.feed(secretGet(0, "a"), secretGet(time.Second, "x", user("other")),
		secretGet(20*time.Second, "c"), secretGet(21*time.Second, "d"), secretGet(22*time.Second, "e"))
	h.wantAlerts(1)
	if a := h.alerts[0]; a.Truncated {
		t.Fatalf("alert on %v flagged truncated, but the evicted records had left its window", h.names(a))
	}
}

// What a fingerprint lost to max_names_per_fingerprint can be newer than its
// newest record: when it is evicted (or swept) and comes back, its alerts
// over windows reaching that time must still be flagged.
func TestModelDroppedActivitySurvivesEviction(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	h := newHarness(t, "max_fingerprints", "1", "max_names_per_fingerprint", "3", "window", "1s")
	h.feed(secretGet(0, "a"), secretGet(ms(2000), "b"), secretGet(ms(4000), "c"),
		secretGet(ms(6000), "d"),                // a fourth name: dropped
		secretGet(ms(6100), "x", user("other")), // evicts mallory
		secretGet(ms(6200), "e"), secretGet(ms(6400), "f"), secretGet(ms(6600), "g"))
	h.wantAlerts(1)
	if a := h.alerts[0]; !a.Truncated {
		t.Fatalf("alert on %v, whose window [5.6s, 6.6s] held d, is not flagged truncated", h.names(a))
	}
}
