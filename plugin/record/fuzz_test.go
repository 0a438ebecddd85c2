package record

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// fuzzSeeds are small chunks of every shape; they are also stored in
// testdata/fuzz/FuzzDecode (RECORD_WRITE_SEEDS=1 go test -run
// TestWriteFuzzSeeds rewrites them).
func fuzzSeeds(t testing.TB) map[string][]byte {
	small := `{"kind":"Event","auditID":"a","stage":"ResponseComplete","verb":"get","user":{"username":"u"},"sourceIPs":["1.2.3.4","5.6.7.8"],"objectRef":{"resource":"secrets","namespace":"n","name":"s"},"requestReceivedTimestamp":"2026-11-25T10:00:00.5Z","annotations":{"authorization.k8s.io/decision":"allow"}}`
	return map[string][]byte{
		"map-v2":        v2(nil, tsFixExt8(recSec, 7), mp(t, small)),
		"map-v1-ext8":   v1(nil, tsExt8(recSec, 0), enc{form: form16, binKeys: true}.fromJSON(t, nil, small)),
		"log-string":    v2(nil, tsUint(recSec), logBody("log", small)),
		"eventlist":     v2x32(nil, tsFloat(recSec), mp(t, eventList(small, small))),
		"groups":        bytes.Join([][]byte{groupStart(), v2(nil, tsInt(recSec), mp(t, small)), groupEnd()}, nil),
		"mixed-corrupt": bytes.Join([][]byte{v2(nil, tsUint(recSec), mp(t, otherLog)), {0x91, 0xc0}, v2(nil, tsUint(recSec), mp(t, small)), {0x92, 0xc1}}, nil),
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("RECORD_WRITE_SEEDS") == "" {
		t.Skip("set RECORD_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzDecode")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds(t) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecode: any input decodes without panic, in bounded time, with
// consistent counts; a good record before it changes nothing in how the
// input is read.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	good := v2(nil, tsFixExt8(recSec, 0), mp(f, sampleGet))
	d := NewDecoder(Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var emitted uint64
		emit := func(ev *audit.Event) {
			emitted++
			if ev.Time == 0 {
				t.Fatalf("event without time: %+v", ev)
			}
		}
		c := d.Decode(data, emit)
		checkCounts(t, c, emitted)
		if c.Records > uint64(len(data)) {
			t.Fatalf("%d records in %d bytes", c.Records, len(data))
		}
		if again := d.Decode(data, func(*audit.Event) {}); again != c {
			t.Fatalf("second decode %+v, first %+v", again, c)
		}
		emitted = 0
		both := d.Decode(append(append([]byte(nil), good...), data...), emit)
		checkCounts(t, both, emitted)
		want := c
		want.Add(Counts{Records: 1, Events: 1, AuditRecords: 1})
		if both != want {
			t.Fatalf("after a good record %+v, want %+v", both, want)
		}
	})
}
