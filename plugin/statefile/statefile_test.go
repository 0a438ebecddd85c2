package statefile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

func engine(t *testing.T) *detect.Engine {
	t.Helper()
	c, err := config.Parse(config.MapGetter{}, config.Replay)
	if err != nil {
		t.Fatal(err)
	}
	e, err := detect.New(config.Rule, c.Engine)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func get(at time.Time, name string) *audit.Event {
	return &audit.Event{Time: at.UnixNano(), Verb: "get", Resource: "secrets", Name: name, User: "u",
		SourceIPs: []string{"10.0.0.1"}, SourceIPCount: 1, AuditID: "x"}
}

func TestSaveAndRestore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	var logs bytes.Buffer
	log := logging.New(&logs, logging.Info, "")
	now := time.Now()

	e := engine(t)
	e.Process(get(now, "a"))
	e.Process(get(now.Add(time.Second), "b"))
	New(path, log).Save(e)

	r := engine(t)
	New(path, log).Restore(r)
	r.Process(get(now.Add(2*time.Second), "c"))
	before, after := len(e.TakeAlerts()), len(r.TakeAlerts())
	if before != 0 || after != 1 {
		t.Fatalf("alerts before %d after %d\n%s", before, after, logs.String())
	}
	if !strings.Contains(logs.String(), "restored 1 fingerprint") {
		t.Fatalf("log:\n%s", logs.String())
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".state-*")); len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

func TestBadFilesAreSetAside(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	log := logging.New(&logs, logging.Info, "")

	missing := filepath.Join(dir, "missing.json")
	New(missing, log).Restore(engine(t))
	if !strings.Contains(logs.String(), "starting empty") {
		t.Fatalf("missing: %s", logs.String())
	}

	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte(`{"saved_at": 1, "state": {"version": 1, "fingerprints": [`), 0o600)
	logs.Reset()
	New(corrupt, log).Restore(engine(t))
	if _, err := os.Stat(corrupt + ".bad"); err != nil || !strings.Contains(logs.String(), "corrupt") {
		t.Fatalf("corrupt: %v %s", err, logs.String())
	}

	stale := filepath.Join(dir, "stale.json")
	e := engine(t)
	e.Process(get(time.Now(), "a"))
	New(stale, log).Save(e)
	b, _ := os.ReadFile(stale)
	b = bytes.Replace(b, []byte(`"saved_at":`), []byte(`"saved_at":1000,"x":`), 1)
	os.WriteFile(stale, b, 0o600)
	logs.Reset()
	r := engine(t)
	New(stale, log).Restore(r)
	if r.Stats().Fingerprints != 0 || !strings.Contains(logs.String(), "longer than the window") {
		t.Fatalf("stale: %+v %s", r.Stats(), logs.String())
	}
}
