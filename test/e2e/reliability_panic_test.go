package e2e

// Panic containment: K8S_SECRET_ENUM_TEST_PANIC_FLUSH=N makes the plugin
// panic inside the Nth flush of each instance (a test hook). The panic must
// stay inside the plugin: that flush returns FLB_ERROR (0) with the panic
// and its stack on stderr, the instance keeps working (its lock released),
// and the alerts of later chunks arrive.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

func TestReliabilityPanicContainment(t *testing.T) {
	x := base.Add(time.Hour)
	// Chunk k holds a complete harvest of user-k, and one read of a
	// harvest by "spanning" that runs across chunks 1..3: its read in the
	// lost chunk 2 is gone, the other three names still make an alert.
	var chunks [][]byte
	spanning := []string{"s-1", "s-2", "s-3", "s-4"}
	for k := 1; k <= 4; k++ {
		evs := harvestEvs(fmt.Sprintf("user-%d", k), x.Add(time.Duration(k)*10*time.Second))
		span := harvestEvs("spanning", x.Add(time.Duration(k)*10*time.Second), spanning[k-1])
		chunks = append(chunks, mustChunks(t, lines(append(evs, span...)...), chunk.Options{FixedTime: x}, 0)...)
	}
	if len(chunks) != 4 {
		t.Fatalf("%d chunks", len(chunks))
	}
	r0, r1 := startReceiver(t), startReceiver(t)
	res := run(t, host.Config{
		Env: []string{"K8S_SECRET_ENUM_TEST_PANIC_FLUSH=2"},
		Instances: []host.Instance{
			{Props: props(r0.URL()), Chunks: chunks},
			{Props: props(r1.URL()), Chunks: chunks},
		},
	})
	if res.ExitCode != 0 || !res.Done {
		t.Fatalf("host exit %d done %v\n%s", res.ExitCode, res.Done, res.String())
	}
	for i := 0; i < 2; i++ {
		if rcs := res.FlushRCs(i, 4); fmt.Sprint(rcs) != "[1 0 1 1]" {
			t.Errorf("instance %d: flush return codes %v, want [1 0 1 1]", i, rcs)
		}
		if rc, _ := res.ExitRC(i); rc != 1 {
			t.Errorf("instance %d: exit rc %d", i, rc)
		}
		st := lastStats(t, res.Stderr, i)
		// The panicking flush read nothing: three chunks of 4 reads.
		if st["flushes"] != 4 || st["audit_events"] != 12 {
			t.Errorf("instance %d: stats %v", i, st)
		}
	}
	// One panic line per instance, each followed by a stack naming the
	// flush path.
	if n := strings.Count(res.Stderr, "panic in FLBPluginFlushCtx: test hook: K8S_SECRET_ENUM_TEST_PANIC_FLUSH"); n != 2 {
		t.Errorf("%d panic lines, want 2:\n%s", n, res.Stderr)
	}
	for _, frame := range []string{"goroutine ", "runtime/debug.Stack", "main.(*instance).flush", "main.FLBPluginFlushCtx"} {
		if !strings.Contains(res.Stderr, frame) {
			t.Errorf("stderr has no stack frame %q:\n%s", frame, tail(res.Stderr, 3000))
		}
	}
	for i, rec := range []*receiver.Receiver{r0, r1} {
		alerts := rec.Alerts()
		for _, u := range []string{"user-1", "user-3", "user-4"} {
			if n := len(alertsOf(alerts, u)); n != 1 {
				t.Errorf("instance %d: %d alerts for %s, want 1", i, n, u)
			}
		}
		if n := len(alertsOf(alerts, "user-2")); n != 0 {
			t.Errorf("instance %d: the chunk of the panicking flush alerted (%d)", i, n)
		}
		sp := alertsOf(alerts, "spanning")
		if len(sp) != 1 || !hasNames(sp[0], "s-1", "s-3", "s-4") {
			t.Errorf("instance %d: spanning harvest %+v, want one alert naming s-1,s-3,s-4", i, summarize(sp))
		}
	}
}
