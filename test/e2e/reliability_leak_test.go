package e2e

// No secret leaves the process: a realistic audit log at RequestResponse
// level whose every secret payload (Secret data and stringData, service
// account tokens) carries a marker goes through the plugin at
// plugin_log_level trace, with a spool and a state file, the receiver down
// while the chunks flow (so every alert goes through the spool) and up
// before exit. The marker must not appear, as a byte sequence, in any
// request the receiver got, any line on stderr or stdout, any spool file
// (read while the files exist, and what is left), or the state file. One
// occurrence fails the test.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/gen"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

const leakMarker = "LEAKMARKER_7f3a"

// leakCorpus is the generated log plus hostile variants of the lines that
// carry the marker: cut right after the marker (malformed JSON) and with
// the secret nested 20 000 levels deep (malformed by depth).
func leakCorpus(t *testing.T) (ls, hostile [][]byte, g *gen.Generator) {
	events := 20000
	if fullSize() {
		events = 200000
	}
	g = gen.New(gen.Config{Events: events, Seed: 7, Marker: leakMarker, RequestResponseShare: 0.3, Harvests: 6})
	for {
		l, ok := g.Next()
		if !ok {
			break
		}
		ls = append(ls, append([]byte(nil), l...))
	}
	with := 0
	for _, l := range ls {
		i := bytes.Index(l, []byte(leakMarker))
		if i < 0 {
			continue
		}
		with++
		if with%10 == 1 {
			hostile = append(hostile, append([]byte(nil), l[:i+len(leakMarker)+3]...))
			deep := strings.Repeat(`{"a":`, 20000) + `"` + leakMarker + `"` + strings.Repeat("}", 20000)
			hostile = append(hostile, []byte(strings.TrimSuffix(string(l), "}")+`,"requestObject":`+deep+"}"))
		}
	}
	if with < 50 {
		t.Fatalf("only %d of %d lines carry the marker", with, len(ls))
	}
	t.Logf("%d lines, %d carry the marker; %d hostile variants", len(ls), with, len(hostile))
	return ls, hostile, g
}

// leakScan records where the marker was found.
type leakScan struct {
	mu    sync.Mutex
	found []string
}

func (s *leakScan) check(where string, b []byte) {
	if i := bytes.Index(b, []byte(leakMarker)); i >= 0 {
		lo, hi := max(i-120, 0), min(i+len(leakMarker)+40, len(b))
		s.mu.Lock()
		s.found = append(s.found, fmt.Sprintf("%s: …%q…", where, b[lo:hi]))
		s.mu.Unlock()
	}
}

func TestReliabilityNoSecretLeaves(t *testing.T) {
	ls, hostile, g := leakCorpus(t)
	for _, o := range []chunk.Options{
		{Shape: chunk.LogString},
		{Shape: chunk.ParsedMap},
		{Shape: chunk.EventList, EventsPerRecord: 50},
	} {
		t.Run(o.Shape.String(), func(t *testing.T) {
			chunks := mustChunks(t, ls, o, 0)
			// The hostile lines: raw under "log" in every shape (as a tail
			// without parser would pass them), then one record cut in the
			// middle of its secret (truncated) at the end of a chunk.
			var extra []byte
			for _, h := range hostile {
				extra = append(extra, rawRecord(mp(mpKV{"log", string(h)}), base)...)
			}
			full := record(t, hostile[len(hostile)-1][:bytes.LastIndex(hostile[len(hostile)-1], []byte(`,"requestObject":`))], chunk.LogString, base)
			if i := bytes.Index(full, []byte(leakMarker)); i > 0 {
				extra = append(extra, full[:i+len(leakMarker)]...)
			}
			chunks = append(chunks, extra)
			// The plugin's input does carry the marker (the scan can see it).
			in := &leakScan{}
			for i, c := range chunks {
				in.check(fmt.Sprintf("chunk %d", i), c)
			}
			if len(in.found) < 2 {
				t.Fatalf("the marker is in %d chunks only", len(in.found))
			}

			r := startReceiver(t)
			r.Down()
			dir := t.TempDir()
			spool := filepath.Join(dir, "spool")
			state := filepath.Join(dir, "state", "state.json")
			if err := os.MkdirAll(filepath.Dir(state), 0o700); err != nil {
				t.Fatal(err)
			}
			kv := fastDelivery("alert_spool_dir", spool, "plugin_log_level", "trace", "state_file", state,
				"state_save_interval", "1s", "stats_interval", "1s")
			scan := &leakScan{}
			p := startHost(t, host.Config{
				Instances:       []host.Instance{{Props: props(r.URL(), kv...), Chunks: chunks}},
				FlushGap:        20 * time.Millisecond,
				SleepBeforeExit: 1500 * time.Millisecond,
			})
			// Read every spool file while it exists: delivered alerts are
			// removed, so a look at the end would miss them.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			seen := map[string]bool{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					for path, b := range readTree(t, spool) {
						seen[path] = true
						scan.check("spool file "+path, b)
					}
					for path, b := range readTree(t, filepath.Dir(state)) {
						scan.check("state file "+path, b)
					}
					select {
					case <-stop:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}()
			if _, err := p.WaitForStep("sleep", 2*time.Minute); err != nil {
				t.Fatal(err)
			}
			spooled := len(spoolFiles(t, spool))
			if err := r.Up(); err != nil {
				t.Fatal(err)
			}
			res, err := p.Wait()
			close(stop)
			wg.Wait()
			if err != nil || res.Signal != "" {
				t.Fatalf("host: %v signal %q", err, res.Signal)
			}
			wantOK(t, res)

			for path, b := range readTree(t, dir) {
				scan.check("left on disk "+path, b)
			}
			for _, q := range r.Requests() {
				scan.check(fmt.Sprintf("request %d body", q.Index), q.RawBody)
				for k, vs := range q.Header {
					scan.check("request header "+k, []byte(strings.Join(vs, ",")))
				}
			}
			for i, l := range strings.Split(res.Stderr, "\n") {
				scan.check(fmt.Sprintf("stderr line %d", i+1), []byte(l))
			}
			scan.check("stdout", []byte(res.Stdout))

			st := lastStats(t, res.Stderr, 0)
			alerts := r.Unique()
			t.Logf("%d chunks; %d alerts delivered, %d were in the spool when the receiver came up (%d spool files seen); "+
				"%d stderr bytes at trace; malformed=%d truncated=%d", len(chunks), len(alerts), spooled, len(seen),
				len(res.Stderr), st["malformed"], st["truncated"])
			if len(alerts) < len(g.Truth()) || spooled == 0 || st["spooled"] == 0 {
				t.Errorf("the run did not exercise what it should: %d alerts (truth %d), %d spooled", len(alerts), len(g.Truth()), spooled)
			}
			if st["malformed"] == 0 || st["truncated"] != 1 {
				t.Errorf("the hostile records were not read as such: malformed=%d truncated=%d", st["malformed"], st["truncated"])
			}
			if _, err := os.Stat(state); err != nil {
				t.Errorf("no state file: %v", err)
			}
			if len(scan.found) > 0 {
				t.Fatalf("the marker left the process %d time(s):\n%s", len(scan.found), strings.Join(scan.found[:min(len(scan.found), 10)], "\n"))
			}
		})
	}
}
