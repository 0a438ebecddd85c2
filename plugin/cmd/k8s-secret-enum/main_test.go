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

// The two streams of issue 9: a fingerprint whose older records leave the
// window before the event that crosses (or nearly crosses) the threshold.
// Releasing those records freed another name's slot.
func TestReplayRegressionsOfExpiredRecords(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "test", "testdata", "regress")
	rc, out, errOut := replayArgs(t, []string{"replay", "-q", filepath.Join(dir, "stream-threshold-after-expiry.log")}, "")
	if rc != 0 || out != "" {
		t.Fatalf("window [16:21:00, 16:27:00] holds 2 names, want no alert: rc %d out %s err %s", rc, out, errOut)
	}
	rc, out, errOut = replayArgs(t, []string{"replay", "-q", "-p", "threshold=4", "-p", "window=3m", "-p", "suppress=2m",
		filepath.Join(dir, "stream-name-lost-after-expiry.log")}, "")
	if rc != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one alert: rc %d out %s err %s", rc, out, errOut)
	}
	var a struct {
		Timestamp string `json:"@timestamp"`
		Esql      struct {
			Count int      `json:"unique_credentials"`
			Names []string `json:"secrets_names"`
		}
		Alert struct{ Type string }
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	if a.Timestamp != "2025-11-24T16:14:47.665521000Z" || a.Alert.Type != "new" || a.Esql.Count != 4 ||
		strings.Join(a.Esql.Names, ",") != "secret-1,secret-25,secret-28,secret-8" {
		t.Fatalf("alert %+v", a)
	}
}

func TestReplayCommandLine(t *testing.T) {
	for _, help := range [][]string{{"--help"}, {"-h"}, {"help"}, {"replay", "--help"}, {"replay", "-h"}} {
		if rc, out, _ := replayArgs(t, help, ""); rc != 0 || !strings.Contains(out, "usage: k8s-secret-enum replay") {
			t.Errorf("%v: rc %d, usage on stdout %q", help, rc, out)
		}
	}
	if rc, _, errOut := replayArgs(t, []string{"replay"}, line(1, "a")); rc != 2 || !strings.Contains(errOut, "no file to read") ||
		!strings.Contains(errOut, "usage:") {
		t.Errorf("no file: rc %d err %q (stdin is -, never read silently)", rc, errOut)
	}
	in := strings.Join([]string{line(1, "a"), line(2, "b"), line(3, "c")}, "\n")
	// Flags after the file apply to it: threshold 4 silences three names.
	if rc, out, errOut := replayArgs(t, []string{"replay", "-", "-p", "threshold=4", "-q"}, in); rc != 0 || out != "" || errOut != "" {
		t.Errorf("flags after the file: rc %d out %q err %q", rc, out, errOut)
	}
	if rc, out, _ := replayArgs(t, []string{"replay", "-q", "-"}, in); rc != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("control: rc %d out %q", rc, out)
	}
	// A bad flag after the file is refused before anything is printed.
	if rc, out, errOut := replayArgs(t, []string{"replay", "-", "-p", "thresold=4"}, in); rc != 2 || out != "" ||
		!strings.Contains(errOut, "did you mean threshold") {
		t.Errorf("bad flag after the file: rc %d out %q err %q", rc, out, errOut)
	}
	// After "--" everything is a file.
	if rc, _, errOut := replayArgs(t, []string{"replay", "-q", "--", "-p"}, ""); rc != 1 || !strings.Contains(errOut, "-p: open -p") {
		t.Errorf("--: rc %d err %q", rc, errOut)
	}
}
