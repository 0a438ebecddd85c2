package e2e

// Detector state across restarts: a harvest that straddles a restart is
// still one harvest when state_file is set; a stale or corrupt state file is
// ignored with a log line, never fatal.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

// straddle is a harvest of three reads: the first two, then the third.
func straddle(t *testing.T) (first, second [][]byte) {
	x := base.Add(3 * time.Hour)
	ls := lines(harvestEvs(advUser, x)...)
	return mustChunks(t, ls[:2], chunk.Options{FixedTime: x}, 0), mustChunks(t, ls[2:], chunk.Options{FixedTime: x}, 0)
}

func TestReliabilityStateAcrossRestart(t *testing.T) {
	first, second := straddle(t)
	for _, kill := range []bool{false, true} {
		name := "normal-exit"
		if kill {
			name = "sigkill-after-periodic-save"
		}
		t.Run(name, func(t *testing.T) {
			r := startReceiver(t)
			state := filepath.Join(t.TempDir(), "state.json")
			kv := []string{"state_file", state, "state_save_interval", "1s"}
			if !kill {
				res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL(), kv...), Chunks: first}}})
				wantOK(t, res)
			} else {
				p := startHost(t, host.Config{SleepBeforeExit: time.Minute, Instances: []host.Instance{{Props: props(r.URL(), kv...), Chunks: first}}})
				if _, err := p.WaitForStep("sleep", 10*time.Second); err != nil {
					t.Fatal(err)
				}
				// The timer saves within state_save_interval plus one tick.
				if !waitFor(5*time.Second, func() bool { _, err := os.Stat(state); return err == nil }) {
					t.Fatalf("no state file after 5s:\n%s", p.Stderr())
				}
				_ = p.Kill()
				_, _ = p.Wait()
			}
			if n := len(r.Alerts()); n != 0 {
				t.Fatalf("two reads alerted (%d)", n)
			}
			res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL(), kv...), Chunks: second}}})
			wantOK(t, res)
			alerts := r.Alerts()
			if len(alerts) != 1 || !hasNames(alerts[0], "db-password", "api-token", "registry-creds") {
				t.Fatalf("after the restart: %+v, want one alert naming the three secrets\n%s", summarize(alerts), tail(res.Stderr, 3000))
			}
			if !strings.Contains(res.Stderr, "state: restored 1 fingerprint(s)") {
				t.Errorf("no restore line:\n%s", tail(res.Stderr, 2000))
			}
		})
	}
	// Control: the third read alone, without the state, alerts nothing.
	r := startReceiver(t)
	res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL()), Chunks: second}}})
	wantOK(t, res)
	if n := len(r.Alerts()); n != 0 {
		t.Fatalf("control: %d alerts", n)
	}
}

// TestReliabilityStateStaleOrCorrupt: a state file saved longer ago than
// the window is ignored, a corrupt one (garbage, truncated JSON, JSON of
// another shape, a directory in its place) is set aside; every start
// succeeds, logs why, and the third read alone alerts nothing.
func TestReliabilityStateStaleOrCorrupt(t *testing.T) {
	first, second := straddle(t)
	r0 := startReceiver(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	res := run(t, host.Config{Instances: []host.Instance{{Props: props(r0.URL(), "state_file", good), Chunks: first}}})
	wantOK(t, res)
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil || env["saved_at"] == nil || env["state"] == nil {
		t.Fatalf("state file %.200s: %v", raw, err)
	}
	stale := func() []byte {
		e := map[string]json.RawMessage{}
		for k, v := range env {
			e[k] = v
		}
		old, _ := json.Marshal(time.Now().Add(-time.Hour).UnixNano())
		e["saved_at"] = old
		b, _ := json.Marshal(e)
		return b
	}()
	cases := []struct {
		name, content, log string
		dir                bool
	}{
		{name: "stale", content: string(stale), log: "longer than the window"},
		{name: "garbage", content: "\x00\x01 not json at all", log: "moved to"},
		{name: "truncated", content: string(raw[:len(raw)/2]), log: "moved to"},
		{name: "other-shape", content: `{"saved_at":"yesterday","state":[1,2,3]}`, log: "moved to"},
		{name: "empty", content: "", log: "moved to"},
		{name: "directory", dir: true, log: "state: cannot read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := startReceiver(t)
			path := filepath.Join(t.TempDir(), "state.json")
			if c.dir {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL(), "state_file", path), Chunks: second}}})
			wantOK(t, res)
			if rc, _ := res.InitRC(0); rc != 1 {
				t.Fatalf("init rc %d", rc)
			}
			if n := countLines(res.Stderr, "state: ", c.log); n != 1 {
				t.Errorf("%d lines with %q, want 1:\n%s", n, c.log, res.Stderr)
			}
			if n := len(r.Alerts()); n != 0 {
				t.Errorf("%d alerts from a state that should have been ignored", n)
			}
			if c.log == "moved to" {
				if _, err := os.Stat(path + ".bad"); err != nil {
					t.Errorf("the corrupt file was not set aside: %v", err)
				}
				// The exit saved a fresh, usable state in its place.
				if b, err := os.ReadFile(path); err != nil || !json.Valid(b) {
					t.Errorf("no valid state saved at exit: %v", err)
				}
			}
		})
	}

	// A state whose first fingerprint is the genuine two reads and whose
	// second one is damaged (its source IP is not an address): the file is
	// refused as "not usable" and the log says "starting empty", so the
	// third read alone must alert nothing, as with any refused file.
	t.Run("damaged-second-fingerprint", func(t *testing.T) {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber() // int64 nanoseconds do not survive float64
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		st := m["state"].(map[string]any)
		st["fingerprints"] = append(st["fingerprints"].([]any), map[string]any{
			"user": "someone", "source_ip": "not-an-ip", "truncated_at": 0, "names": []any{}, "records": []any{}})
		b, _ := json.Marshal(m)
		r := startReceiver(t)
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL(), "state_file", path), Chunks: second}}})
		wantOK(t, res)
		if n := countLines(res.Stderr, "state: ", "not usable", "starting empty"); n != 1 {
			t.Fatalf("%d 'not usable ... starting empty' lines:\n%s", n, res.Stderr)
		}
		if n := len(r.Alerts()); n != 0 {
			bugf(t, "a state file refused as not usable (log: \"moved to %s.bad, starting empty\") was half restored: "+
				"the fingerprints before the damaged one and the watermark stay in the engine, and the third read alone raised %d alert(s); "+
				"Engine.Restore returns its error midway without resetting the engine", filepath.Base(path), n)
		}
	})
}
