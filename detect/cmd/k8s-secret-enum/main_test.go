package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func line(sec int, name string) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a-%d","stage":"ResponseComplete","verb":"get","user":{"username":"mallory"},"sourceIPs":["10.0.0.9"],"userAgent":"curl/8.5.0","objectRef":{"resource":"secrets","namespace":"prod","name":%q},"requestReceivedTimestamp":"2026-11-25T10:00:%02d.000000Z","annotations":{"authorization.k8s.io/decision":"allow"}}`, sec, name, sec)
}

func replayArgs(t *testing.T, args []string, stdin string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	rc := run(args, strings.NewReader(stdin), &out, &errOut)
	return rc, out.String(), errOut.String()
}

func TestReplayPrintsAlerts(t *testing.T) {
	in := strings.Join([]string{line(1, "a"), "not json", "", line(2, "b"), `{"log":"other"}`, line(3, "c")}, "\n")
	rc, out, errOut := replayArgs(t, []string{"replay", "-"}, in)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("alerts:\n%s", out)
	}
	var a map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &a); err != nil {
		t.Fatal(err)
	}
	if a["Esql"].(map[string]any)["unique_credentials"] != 3.0 {
		t.Fatalf("alert %v", a)
	}
	if !strings.Contains(errOut, "malformed=1") || !strings.Contains(errOut, "not_audit=1") || !strings.Contains(errOut, "-:2: skipped a malformed line") {
		t.Fatalf("stderr: %s", errOut)
	}
}

func TestReplaySettingsAndFiles(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.log")
	os.WriteFile(plain, []byte(line(1, "a")+"\n"+line(2, "b")+"\n"), 0o600)
	gz := filepath.Join(dir, "b.log.gz")
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(line(3, "c") + "\n" + line(4, "d")))
	w.Close()
	os.WriteFile(gz, b.Bytes(), 0o600)

	rc, out, errOut := replayArgs(t, []string{"replay", "-q", "-p", "threshold=4", plain, gz}, "")
	if rc != 0 || strings.Count(out, "\n") != 1 || errOut != "" {
		t.Fatalf("rc %d out %q err %q", rc, out, errOut)
	}
	rc, out, _ = replayArgs(t, []string{"replay", "-q", "-p", "threshold=5", plain, gz}, "")
	if rc != 0 || out != "" {
		t.Fatalf("threshold 5: rc %d out %q", rc, out)
	}
}

func TestReplayRefusesBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"replay", "-p", "threshold=zero"},
		{"replay", "-p", "threshhold=4"},
		{"replay", "-p", "novalue"},
		{"frobnicate"},
		{},
	} {
		rc, _, errOut := replayArgs(t, args, "")
		if rc != 2 || errOut == "" {
			t.Errorf("%v: rc %d err %q", args, rc, errOut)
		}
	}
	rc, _, errOut := replayArgs(t, []string{"replay", filepath.Join(t.TempDir(), "missing.log")}, "")
	if rc != 1 || !strings.Contains(errOut, "missing.log") {
		t.Errorf("missing file: rc %d err %q", rc, errOut)
	}
}
