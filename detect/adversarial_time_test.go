package detect

// Adversarial event times at the edge of int64 nanoseconds. With
// max_clock_skew 0 (the guard off, a documented setting) nothing clamps an
// event time, and a Fluent Bit record time given as an integer of seconds
// (the forward protocol) reaches 9 223 372 032 s (year 2262), just below
// math.MaxInt64 ns. Processing such events and closing the engine must end
// promptly: each scenario runs in a child process that is killed after a
// few seconds, so that a hang cannot stall the rest of the package's tests.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const adversarialChildEnv = "DETECT_ADVERSARIAL_TIME_CHILD"

// farFuture are the record times (ns) of three reads by one client.
var farFuture = []int64{9223372030e9, 9223372031e9, 9223372032e9}

func TestAdversarialFarFutureNoSkewGuard(t *testing.T) {
	if mode := os.Getenv(adversarialChildEnv); mode != "" {
		farFutureChild(t, mode)
		return
	}
	for _, mode := range []string{"stream", "schedule"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestAdversarialFarFutureNoSkewGuard$", "-test.v")
			cmd.Env = append(os.Environ(), adversarialChildEnv+"="+mode)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil || !strings.Contains(out.String(), "child done") {
					t.Fatalf("child: %v\n%s", err, out.String())
				}
				t.Logf("%s", lastLines(out.String(), "child"))
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				msg := fmt.Sprintf("mode %s, max_clock_skew 0: three reads at %d..%d ns do not finish within 3s (%s). "+
					"runDueEvaluations sets nextEval = ceilMultiple(due, interval), which overflows int64 to about -9.2e18 "+
					"on the first event; the next event then runs an evaluation for every 5m interval from 1678 to 2262 "+
					"(~6e7 evaluations, each over every fingerprint), and Close's `t += interval` loop wraps around and never ends",
					mode, farFuture[0], farFuture[2], lastLines(out.String(), "child"))
				t.Fatal("BUG: " + msg)
			}
		})
	}
}

func farFutureChild(t *testing.T, mode string) {
	h := newHarness(t, "mode", mode, "max_clock_skew", "0")
	for i, ts := range farFuture {
		ev := secretGet(0, fmt.Sprintf("n%d", i))
		ev.Time = ts
		start := time.Now()
		h.e.Process(ev)
		fmt.Printf("child processed event %d in %v (next_eval %d)\n", i, time.Since(start), h.e.nextEval)
	}
	start := time.Now()
	h.close()
	fmt.Printf("child closed in %v; %d alert(s)\n", time.Since(start), len(h.alerts))
	for _, a := range h.alerts {
		if a.Timestamp < farFuture[0] || a.WindowEnd < a.WindowStart {
			t.Errorf("alert stamped %d, window [%d, %d]: an overflowed time", a.Timestamp, a.WindowStart, a.WindowEnd)
		}
	}
	fmt.Println("child done")
}

func lastLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, "; ")
}
