package detect_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// TestAlertJSONGolden holds the ECS encoding to the bytes the plugin has
// always sent (the golden files were written by the hand-written encoder
// this one replaced): key order, escapes, invalid UTF-8, empty lists.
func TestAlertJSONGolden(t *testing.T) {
	dir := filepath.Join("..", "test", "testdata", "golden")
	sample := filepath.Join("..", "test", "testdata", "sample-audit.log.gz")
	for _, c := range []struct {
		golden, input string
		mode          detect.Mode
		threshold     int
	}{
		{"alerts-stream.jsonl", filepath.Join(dir, "alerts-input.log"), detect.ModeStream, 3},
		{"alerts-schedule.jsonl", filepath.Join(dir, "alerts-input.log"), detect.ModeSchedule, 3},
		{"sample-stream.jsonl", sample, detect.ModeStream, 3},
		{"sample-schedule.jsonl", sample, detect.ModeSchedule, 4},
	} {
		t.Run(c.golden, func(t *testing.T) {
			s := goldenSettings()
			s.Mode, s.Threshold = c.mode, c.threshold
			e, err := detect.New(rule.RapidSecretGet, s)
			if err != nil {
				t.Fatal(err)
			}
			p := audit.NewJSONParser()
			sc := bufio.NewScanner(open(t, c.input))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				p.Parse(sc.Bytes(), 0, e.Process)
			}
			e.Close()
			var got bytes.Buffer
			for _, a := range e.TakeAlerts() {
				b, err := a.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				got.Write(b)
				got.WriteByte('\n')
			}
			want, err := os.ReadFile(filepath.Join(dir, c.golden))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				gl, wl := bytes.Split(got.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
				for i := range min(len(gl), len(wl)) {
					if !bytes.Equal(gl[i], wl[i]) {
						t.Fatalf("line %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%d lines, want %d", len(gl), len(wl))
			}
		})
	}
}

func goldenSettings() detect.Settings {
	s := detect.Settings{Threshold: 3, Window: 6 * time.Minute, Suppress: 5 * time.Minute, Interval: 5 * time.Minute,
		AllowedLateness: 30 * time.Second, MaxAlerts: 100, MaxFingerprints: 100000, MaxNamesPerFingerprint: 1000,
		Exclusions: map[string][]string{}}
	for _, x := range rule.RapidSecretGet.Exclusions {
		s.Exclusions[x.Setting] = x.Default
	}
	return s
}

func open(t *testing.T, name string) io.Reader {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if filepath.Ext(name) != ".gz" {
		return f
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return z
}
