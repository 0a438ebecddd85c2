package detect

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// workload is several fingerprints harvesting at overlapping times, with
// repeats, pauses longer than the suppression period, and noise.
func workload(r *rand.Rand) []*audit.Event {
	var evs []*audit.Event
	for f := 0; f < 6; f++ {
		start := time.Duration(r.Intn(600)) * time.Second
		for i := 0; i < 40; i++ {
			at := start + time.Duration(r.Intn(900))*time.Second
			evs = append(evs, secretGet(at, fmt.Sprintf("s%d", r.Intn(12)), user(fmt.Sprintf("u%d", f))))
		}
	}
	for i := 0; i < 300; i++ {
		evs = append(evs, secretGet(time.Duration(r.Intn(1600))*time.Second, "n", func(e *audit.Event) { e.Verb = "list" }))
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time < evs[j].Time })
	return evs
}

// shuffleWithin moves every event by at most d of event time from its
// place in time order.
func shuffleWithin(r *rand.Rand, evs []*audit.Event, d time.Duration) []*audit.Event {
	out := append([]*audit.Event(nil), evs...)
	keys := make([]int64, len(out))
	for i, e := range out {
		keys[i] = e.Time + r.Int63n(int64(d))
	}
	sort.SliceStable(out, func(i, j int) bool { return keys[i] < keys[j] })
	return out
}

func alertKeys(h *harness) []string {
	var out []string
	for _, a := range h.alerts {
		out = append(out, fmt.Sprintf("%s %s %s %v %d %v", a.ID, a.Type, FormatTime(a.Timestamp), h.names(a), a.EventCount, a.AuditIDs))
	}
	return out
}

// TestReorderDelayMakesAlertsOrderFree: with reorder_delay at least the
// disorder, any arrival order gives the alerts of the sorted stream.
func TestReorderDelayMakesAlertsOrderFree(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		r := rand.New(rand.NewSource(seed))
		evs := workload(r)
		sorted := newHarness(t, "reorder_delay", "30s").feed(evs...)
		sorted.close()
		want := alertKeys(sorted)
		if len(want) == 0 {
			t.Fatalf("seed %d: no alerts", seed)
		}
		for round := 0; round < 3; round++ {
			shuffled := shuffleWithin(r, evs, 20*time.Second)
			got := newHarness(t, "reorder_delay", "30s").feed(shuffled...)
			got.close()
			if g := alertKeys(got); !reflect.DeepEqual(g, want) {
				t.Fatalf("seed %d:\n got %v\nwant %v", seed, g, want)
			}
		}
		// Without the delay, the in-order stream reports the same
		// fingerprints at the same crossings (the delay changes when, not
		// what, except for events stamped at the very same instant).
		immediate := newHarness(t).feed(evs...)
		immediate.close()
		if len(immediate.alerts) != len(sorted.alerts) {
			t.Fatalf("seed %d: %d alerts without the delay, %d with it", seed, len(immediate.alerts), len(sorted.alerts))
		}
	}
}

func TestReorderDelayHoldsTheDecision(t *testing.T) {
	h := newHarness(t, "reorder_delay", "5s")
	h.feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"))
	h.wantAlerts(0)
	h.feed(secretGet(5*time.Second+1, "n", user("noise")))
	h.wantAlerts(0) // decided up to 1ns
	h.feed(secretGet(5*time.Second+2, "n", user("noise")))
	h.wantAlerts(1)
	if h.alerts[0].Timestamp != at(2) {
		t.Fatalf("stamp %d", h.alerts[0].Timestamp-t0)
	}
}

func TestRestoreKeepsPendingChecks(t *testing.T) {
	before := newHarness(t, "reorder_delay", "5s").feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"))
	after := roundTrip(t, before, "reorder_delay", "5s")
	after.feed(secretGet(10*time.Second, "n", user("noise")))
	after.wantAlerts(1)
}
