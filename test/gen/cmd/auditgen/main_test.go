package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/gen"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	logPath, truthPath, decoyPath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "truth.json"), filepath.Join(dir, "decoys.json")
	args := []string{"-events", "3000", "-seed", "9", "-start", "2025-06-01T00:00:00Z", "-rate", "300", "-harvests", "2",
		"-marker", "LEAKMARKER_1", "-disorder", "1s", "-o", logPath, "-truth", truthPath, "-decoys-out", decoyPath, "-stats"}
	var stderr bytes.Buffer
	if err := run(args, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte("\n")); n != 3000 {
		t.Fatalf("%d lines", n)
	}
	// Same flags, same bytes, on stdout this time.
	var stdout bytes.Buffer
	if err := run(args[:len(args)-7], &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), log) {
		t.Fatal("stdout output differs from -o output")
	}
	var truth []gen.Harvest
	b, _ := os.ReadFile(truthPath)
	if err := json.Unmarshal(b, &truth); err != nil || len(truth) != 2 {
		t.Fatalf("truth %v: %s", err, b)
	}
	var decoys []gen.Harvest
	b, _ = os.ReadFile(decoyPath)
	if err := json.Unmarshal(b, &decoys); err != nil || len(decoys) != 7 {
		t.Fatalf("decoys %v", err)
	}
	if !strings.Contains(stderr.String(), "events 3000") {
		t.Fatalf("stats: %s", stderr.String())
	}
	if !strings.HasPrefix(string(log), `{"kind":"Event","apiVersion":"audit.k8s.io/v1"`) || !bytes.Contains(log, []byte(`"2025-06-01T00:00:00.000000Z"`)) {
		t.Fatal("unexpected first line")
	}
}

func TestZeroMeansNone(t *testing.T) {
	dir := t.TempDir()
	truthPath := filepath.Join(dir, "truth.json")
	var out bytes.Buffer
	if err := run([]string{"-events", "2000", "-harvests", "0", "-decoys", "0", "-secret-share", "0", "-truth", truthPath}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte(`"verb":"get","user"`)) && bytes.Contains(out.Bytes(), []byte(`"resource":"secrets","namespace"`)) {
		for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
			if bytes.Contains(line, []byte(`"verb":"get"`)) && bytes.Contains(line, []byte(`{"resource":"secrets"`)) && !bytes.Contains(line, []byte(`"subresource"`)) {
				t.Fatalf("secret get with -secret-share 0: %.300s", line)
			}
		}
	}
	b, _ := os.ReadFile(truthPath)
	if strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("truth %s", b)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-start", "yesterday"}, {"-events", "-5"}, {"-rate", "0"}, {"extra"}} {
		if err := run(args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
