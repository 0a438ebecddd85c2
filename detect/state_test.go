package detect

import (
	"encoding/json"
	"testing"
	"time"
)

func roundTrip(t *testing.T, h *harness, kv ...string) *harness {
	t.Helper()
	raw, err := json.Marshal(h.e.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	n := newHarness(t, kv...)
	if err := n.e.Restore(&s); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRestoreContinuesAHarvest(t *testing.T) {
	before := newHarness(t).feed(secretGet(0, "a", ua("")), secretGet(time.Second, "b", ua("")))
	before.wantAlerts(0)
	after := roundTrip(t, before)
	after.feed(secretGet(2*time.Second, "c", ua("")))
	after.wantAlerts(1)
	if got := after.names(after.alerts[0]); len(got) != 3 || after.alerts[0].HasUserAgent {
		t.Fatalf("names %v", got)
	}
	// The same events without a restart give the same alert.
	ref := newHarness(t).feed(secretGet(0, "a", ua("")), secretGet(time.Second, "b", ua("")), secretGet(2*time.Second, "c", ua("")))
	if ref.alerts[0].ID != after.alerts[0].ID {
		t.Fatal("a restart changed the alert id")
	}
}

func TestRestoreKeepsTheMute(t *testing.T) {
	before := newHarness(t).feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"))
	before.wantAlerts(1)
	after := roundTrip(t, before)
	after.feed(secretGet(time.Minute, "d"), secretGet(time.Minute+1, "a"))
	after.wantAlerts(0) // still muted: alerted once, before the restart
	after.close()
	after.wantAlerts(1)
	if a := after.alerts[0]; a.Type != AlertUpdate || len(after.names(a)) != 4 {
		t.Fatalf("update %s %v", a.Type, after.names(a))
	}
}

func TestRestoreSchedule(t *testing.T) {
	before := newHarness(t, "mode", "schedule").feed(secretGet(time.Minute, "a"), secretGet(2*time.Minute, "b"))
	after := roundTrip(t, before, "mode", "schedule")
	after.feed(secretGet(3*time.Minute, "c"), secretGet(6*time.Minute, "n", user("noise")))
	after.wantAlerts(1)
	if after.alerts[0].Timestamp != at(5*time.Minute) {
		t.Fatalf("stamp %d", after.alerts[0].Timestamp-t0)
	}
}

func TestRestoreRefusesOtherStates(t *testing.T) {
	h := newHarness(t).feed(secretGet(0, "a"))
	s := h.e.Snapshot()
	for name, mutate := range map[string]func(*Snapshot){
		"version": func(s *Snapshot) { s.Version = 99 },
		"rule":    func(s *Snapshot) { s.Rule = "other" },
		"mode":    func(s *Snapshot) { s.Mode = "schedule" },
		"name index": func(s *Snapshot) {
			s.Fingerprints[0].Records[0].Name = 7
		},
	} {
		c := *s
		c.Fingerprints = append([]FingerprintSnapshot(nil), s.Fingerprints...)
		c.Fingerprints[0].Records = append([]RecordSnapshot(nil), s.Fingerprints[0].Records...)
		mutate(&c)
		if err := newHarness(t).e.Restore(&c); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
	used := newHarness(t).feed(secretGet(0, "x"))
	if err := used.e.Restore(s); err == nil {
		t.Error("restored into a used engine")
	}
}
