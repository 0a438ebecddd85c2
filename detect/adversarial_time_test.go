package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// Adversarial event times at the edge of int64 nanoseconds. With
// max_clock_skew 0 (the guard off, a documented setting) nothing clamps an
// event time, and a Fluent Bit record time given as an integer of seconds
// (the forward protocol) reaches 9 223 372 032 s (year 2262), just below
// math.MaxInt64 ns. Such times count as none; times just inside the range
// are processed with a bounded number of evaluations, and nothing
// overflows. (Before the range existed, the first evaluation time
// overflowed and Close looped from 1678 to 2262.)
func TestAdversarialFarFutureNoSkewGuard(t *testing.T) {
	farFuture := []int64{9223372030e9, 9223372031e9, 9223372032e9}
	edge := []int64{audit.MaxTime - 2*int64(time.Second), audit.MaxTime - int64(time.Second), audit.MaxTime}
	for _, mode := range []string{"stream", "schedule"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, "mode", mode, "max_clock_skew", "0")
			for i, ts := range farFuture {
				ev := secretGet(0, fmt.Sprintf("n%d", i))
				ev.Time = ts
				h.feed(ev)
			}
			if st := h.e.Stats(); st.NoTime != 3 || st.Matched != 0 {
				t.Fatalf("times past 2200: %+v", st)
			}
			for i, ts := range edge {
				ev := secretGet(0, fmt.Sprintf("n%d", i))
				ev.Time = ts
				h.feed(ev)
			}
			h.close()
			// Stream: one alert at the third read. Schedule: the two
			// evaluations whose 6m windows hold the reads, at 2200-01-01
			// 00:00 and 5m later.
			want := map[string]int{"stream": 1, "schedule": 2}[mode]
			st := h.e.Stats()
			if st.Matched != 3 || st.Evaluations > 2 || len(h.alerts) != want {
				t.Fatalf("times up to 2200: %d alerts, want %d; %+v", len(h.alerts), want, st)
			}
			for _, a := range h.alerts {
				if a.Timestamp < edge[0] || a.WindowEnd < a.WindowStart || a.WindowStart < 0 {
					t.Errorf("alert stamped %d, window [%d, %d]: an overflowed time", a.Timestamp, a.WindowStart, a.WindowEnd)
				}
			}
		})
	}
}
