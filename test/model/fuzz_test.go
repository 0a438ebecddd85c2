package model

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// bytesource reads choices from the fuzzer's bytes (zeros once they run out).
type bytesource struct {
	b []byte
	i int
}

func (s *bytesource) next() byte {
	if s.i >= len(s.b) {
		return 0
	}
	c := s.b[s.i]
	s.i++
	return c
}

func (s *bytesource) n(k int) int { return int(s.next()) % k }

func (s *bytesource) more() bool { return s.i < len(s.b) }

// str is a short value chosen by the fuzzer, valid UTF-8 without NUL (what
// encoding/json would change, and what the engine cuts, is left out).
func (s *bytesource) str() string {
	n := s.n(9)
	b := make([]byte, 0, n)
	for i := 0; i < n; i++ {
		b = append(b, s.next())
	}
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "?"), "\x00", "0")
}

func choose[T any](s *bytesource, xs ...T) T { return xs[s.n(len(xs))] }

// fuzzSettings draws small, valid settings.
func fuzzSettings(s *bytesource) Settings {
	st := Defaults()
	sec := time.Second
	st.Threshold = 1 + s.n(5)
	st.Window = choose(s, sec, 2*sec, 5*sec, 10*sec, 30*sec, time.Minute, 1500*time.Millisecond)
	st.Suppress = choose(s, 0, sec, 2*sec, 3*sec, 10*sec, 45*sec, time.Minute)
	st.AllowedLateness = choose(s, 0, sec, 30*sec)
	st.MaxAlerts = choose(s, 1, 2, 100)
	st.SourceIP = choose(s, "peer", "client", "elastic")
	if s.n(2) == 0 {
		st.Mode = "schedule"
		st.Interval = choose(s, sec, 2*sec, 5*sec, 10*sec, 30*sec, time.Minute)
		if st.Interval > st.Window {
			st.Interval = st.Window.Truncate(sec)
		}
	} else {
		st.Interval = choose(s, sec, 2*sec, 5*sec, time.Minute)
		st.ReorderDelay = choose(s, 0, 0, time.Millisecond, sec, 3*sec)
	}
	switch s.n(4) {
	case 1:
		st.ExcludeUsers, st.ExcludeSourceIPs, st.ExcludeNames = nil, nil, nil
	case 2:
		st.ExcludeUsers = []string{"u2"}
		st.ExcludeSourceIPs = []string{"10.0.0.0/31", "::ffff:203.0.113.0/120"}
		st.ExcludeNames = []string{"?", `b\*`, "c*"}
	case 3:
		p := strings.TrimSpace(strings.ReplaceAll(s.str(), ",", ""))
		if strings.HasSuffix(p, `\`) && !strings.HasSuffix(p, `\\`) {
			p += "x"
		}
		if p != "" && p != "none" {
			st.ExcludeNames = []string{p}
		}
	}
	st.GroupBy = choose(s, []string{"user", "source_ip", "user_agent"}, []string{"user"},
		[]string{"source_ip", "user"}, []string{"user", "user_agent"}, []string{"user_agent", "source_ip", "user"})
	return st
}

// fuzzLines builds a time-ordered audit log from the fuzzer's bytes.
func fuzzLines(s *bytesource, st Settings) [][]byte {
	base := time.Date(2025, 11, 24, 16, 0, 0, 0, time.UTC).UnixNano()
	t := base
	type item struct {
		t  int64
		ev map[string]any
	}
	var items []item
	for n := 0; n < 80 && s.more(); n++ {
		switch s.n(6) {
		case 1:
			t += int64(time.Millisecond)
		case 2:
			t += int64(time.Second)
		case 3:
			t += int64(s.next()) * int64(100*time.Millisecond)
		case 4:
			t += int64(st.Window) - int64(s.n(3)) + 1 // around a window's edge
		case 5:
			t += int64(st.Suppress) - int64(s.n(3)) + 1 // around a mute end
		}
		ev := map[string]any{"kind": "Event", "stage": "ResponseComplete", "auditID": fmt.Sprintf("id-%d", n),
			"verb": choose(s, "get", "get", "get", "list"), "user": map[string]any{"username": choose(s, "u1", "u1", "u2", "")},
			"objectRef": map[string]any{"resource": choose(s, "secrets", "secrets", "secrets", "configmaps"),
				"namespace": choose(s, "ns1", "ns2", ""), "name": choose(s, "a", "b", "c", "d", "e", "", s.str())},
		}
		ev["sourceIPs"] = choose[any](s, []string{"10.0.0.9"}, []string{"10.0.0.9"}, []string{"::ffff:10.0.0.9"},
			[]string{"10.0.0.1"}, []string{"203.0.113.5", "10.0.0.9"}, []string{"10.0.0.9", "203.0.113.5"},
			"10.0.0.9", []string{"bad"}, []string{}, []string{"2001:db8::1", "x", "::1"}, []any{1, "10.0.0.9"})
		if ua := choose(s, "curl", "curl", "", "-", s.str()); ua != "-" {
			ev["userAgent"] = ua
		}
		if s.n(4) == 0 {
			ev["impersonatedUser"] = map[string]any{"username": choose(s, "imp", "", s.str())}
		}
		ev["annotations"] = map[string]any{"authorization.k8s.io/decision": choose(s, "allow", "forbid", "")}
		switch s.n(12) {
		case 0:
			ev["auditID"] = choose(s, "", "A0000000-0000-4000-8000-00000000000F", s.str())
		case 1:
			delete(ev, "kind")
		case 2:
			ev["user"] = map[string]any{"username": choose(s, "system:kube-scheduler", s.str())}
		case 3:
			ev["objectRef"].(map[string]any)["name"] = choose(s, "sh.helm.release.v1", "b*", s.str())
		}
		ts := time.Unix(0, t).UTC().Format(time.RFC3339Nano)
		switch s.n(10) {
		case 0:
			ts = time.Unix(0, t).In(time.FixedZone("", -3*3600)).Format(time.RFC3339Nano)
		case 1:
			ts = choose(s, "", "never", "1969-01-01T00:00:00Z", "2201-01-01T00:00:00Z")
			ev["stageTimestamp"] = time.Unix(0, t).UTC().Format(time.RFC3339Nano)
		case 2:
			ts = choose(s, "", "never")
		}
		ev["requestReceivedTimestamp"] = ts
		items = append(items, item{t, ev})
		if s.n(5) == 0 { // the request's other stage, at the same time
			other := map[string]any{}
			for k, v := range ev {
				other[k] = v
			}
			other["stage"] = "RequestReceived"
			items = append(items, item{t, other})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].t < items[j].t })
	var lines [][]byte
	for i := 0; i < len(items); i++ {
		if k := s.n(8); k < 2 && i+k+1 < len(items) {
			list := []any{}
			for _, it := range items[i : i+k+2] {
				list = append(list, it.ev)
			}
			lines = append(lines, marshal(map[string]any{"kind": "EventList", "items": list}))
			i += k + 1
			continue
		}
		lines = append(lines, marshal(items[i].ev))
	}
	return lines
}

// FuzzModel: the engine against the model on event sequences and settings
// built by the fuzzer.
func FuzzModel(f *testing.F) {
	f.Add([]byte("\x00\x02\x03\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00"))
	f.Add([]byte("scheduled\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"))
	f.Add([]byte(strings.Repeat("\x05\x01\x02\x00\x03\x04", 40)))
	f.Add([]byte(strings.Repeat("\x04\x00\x01\x00\x02\x00\x03\x01\x05\x02\x00\x00\x01", 30)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &bytesource{b: data}
		st := fuzzSettings(s)
		lines := fuzzLines(s, st)
		got := runEngine(t, st, lines)
		want := Run(st, lines)
		d := Compare(got.alerts, want.Alerts)
		if d == nil && got.stats.Matched == uint64(want.Matching) {
			return
		}
		input, _ := json.Marshal(Lines(lines))
		t.Fatalf("engine and model differ\nsettings: %s\ninput: %s\nmatched: engine %d, model %d\n%v",
			st, input, got.stats.Matched, want.Matching, d)
	})
}
