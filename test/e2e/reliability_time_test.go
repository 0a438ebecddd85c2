package e2e

// Event time from the future: a record stamped hours ahead of the wall clock
// must not drag the watermark (README: "An event stamped more than
// max_clock_skew (10m) in the future is counted and taken as arriving now,
// so one bad line cannot close every window").

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

var watermarkRE = regexp.MustCompile(`\[#0\] stats: .* watermark=(\S+)`)

// lastWatermark is the watermark of instance #0's last stats line.
func lastWatermark(t *testing.T, stderr string) time.Time {
	t.Helper()
	m := watermarkRE.FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		t.Fatalf("no watermark in stderr:\n%s", tail(stderr, 2000))
	}
	w, err := time.Parse(time.RFC3339Nano, m[len(m)-1][1])
	if err != nil {
		t.Fatalf("watermark %q: %v", m[len(m)-1][1], err)
	}
	return w
}

// futureChunks is a harvest stamped x (reads at x, x+1s, x+2s) with, after
// the second read, one matching read by another client stamped 3 hours
// ahead: in its audit timestamps, or (recordTime) only in the Fluent Bit
// record time.
func futureChunks(t *testing.T, x time.Time, recordTime, withFuture bool) [][]byte {
	h := lines(harvestEvs(advUser, x)...)
	future := time.Now().Add(3 * time.Hour)
	var bad []byte
	if recordTime {
		bad = rawRecord(mp(auditKVs("skewed-client", "x", "curl/8", "10.9.9.9", time.Time{})...), future)
	} else {
		bad = rawRecord(mp(auditKVs("skewed-client", "x", "curl/8", "10.9.9.9", future)...), x)
	}
	c0 := concat(record(t, h[0], chunk.ParsedMap, x), record(t, h[1], chunk.ParsedMap, x))
	if withFuture {
		c0 = append(c0, bad...)
	}
	return [][]byte{c0, record(t, h[2], chunk.ParsedMap, x)}
}

// TestReliabilityFutureEventLive: events arrive ten seconds after they
// happened (a live tail). One read stamped three hours ahead is counted as
// future_clamped, the watermark stays at the wall clock, and the harvest
// around it alerts, in both modes and whichever time carries the future.
func TestReliabilityFutureEventLive(t *testing.T) {
	for _, mode := range []string{"stream", "schedule"} {
		for _, recordTime := range []bool{false, true} {
			name := mode + "/audit-timestamp"
			if recordTime {
				name = mode + "/record-time"
			}
			t.Run(name, func(t *testing.T) {
				a := runAdv(t, futureChunks(t, nowBase(), recordTime, true), "mode", mode)
				a.want(t, map[string]int64{"future_clamped": 1, "audit_events": 4, "matching": 4})
				if w := lastWatermark(t, a.res.Stderr); w.After(time.Now().Add(time.Minute)) {
					t.Errorf("watermark %s: dragged into the future", w)
				}
				// Schedule mode's 6-minute windows every 5 minutes overlap:
				// a harvest in the last minute before an evaluation time is
				// in two windows (as with Elastic's runs).
				got := alertsOf(a.r.Alerts(), advUser)
				most := 1
				if mode == "schedule" {
					most = 2
				}
				ok := len(got) >= 1 && len(got) <= most
				for _, g := range got {
					ok = ok && hasNames(g, "db-password", "api-token", "registry-creds")
				}
				if !ok {
					t.Errorf("harvest alerts %+v\nstderr:\n%s", summarize(got), tail(a.res.Stderr, 2000))
				}
			})
		}
	}
}

// TestReliabilityFutureEventBehindWallClock: the pipeline runs two minutes
// behind the wall clock (Fluent Bit catching up after a restart or under
// back-pressure; a backlog of hours is the same story). Without the future
// record the harvest alerts (control). With it, the clamped record is taken
// as arriving "now", which moves the watermark two minutes past every event
// of the stream: the harvest's reads fall behind allowed_lateness and are
// counted late, and nothing alerts. The watermark has been dragged after
// all, by the clamp itself.
func TestReliabilityFutureEventBehindWallClock(t *testing.T) {
	x := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	control := runAdv(t, futureChunks(t, x, false, false))
	if got := alertsOf(control.r.Alerts(), advUser); len(got) != 1 {
		t.Fatalf("control run without the future record: %d alerts", len(got))
	}
	a := runAdv(t, futureChunks(t, x, false, true))
	a.want(t, map[string]int64{"future_clamped": 1, "audit_events": 4, "matching": 4})
	w := lastWatermark(t, a.res.Stderr)
	got := alertsOf(a.r.Alerts(), advUser)
	t.Logf("watermark %s (newest genuine event %s), late=%d, harvest alerts=%d", w.Format(time.RFC3339), x.Add(2*time.Second).Format(time.RFC3339), a.stats["late"], len(got))
	if len(got) != 1 {
		bugf(t, "one read stamped 3h ahead, clamped to the wall clock, moves the watermark %s past the newest genuine event: "+
			"the harvest read right after it is late (late=%d) and never alerts; a pipeline more than allowed_lateness (30s) "+
			"behind the wall clock loses every window to one bad line", w.Sub(x.Add(2*time.Second)).Round(time.Second), a.stats["late"])
	}
}

// TestReliabilityNoClockSkewGuardFarFuture: with max_clock_skew 0 (the
// guard off, a documented setting) a record whose only time is the Fluent
// Bit record time as an integer of 9 223 372 030 seconds (year 2262: valid
// for the decoder, within int64 nanoseconds) may close windows, but the
// flush must return and the plugin must exit. Integer record times come
// from the forward protocol.
func TestReliabilityNoClockSkewGuardFarFuture(t *testing.T) {
	var c []byte
	for i, n := range []string{"a", "b", "c"} {
		b := chunk.AppendArrayHeader(nil, 2, chunk.WidthMin)
		b = chunk.AppendArrayHeader(b, 2, chunk.WidthMin)
		b = msgp.AppendUint64(b, 9223372030+uint64(i))
		b = append(b, 0x80)
		b = append(b, mp(auditKVs("far", n, "curl/8", "10.1.1.1", time.Time{})...)...)
		c = append(c, b...)
	}
	for _, mode := range []string{"stream", "schedule"} {
		t.Run(mode, func(t *testing.T) {
			r := startReceiver(t)
			bin, so := host.Build(t)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			defer cancel()
			start := time.Now()
			res, err := host.Run(ctx, host.Config{Bin: bin, SO: so, Instances: []host.Instance{
				{Props: props(r.URL(), "mode", mode, "max_clock_skew", "0"), Chunks: [][]byte{c}}}})
			t.Logf("%s: %v, exit %d, signal %q, %d flush(es) returned, %d alert(s)", mode, time.Since(start).Round(time.Millisecond),
				res.ExitCode, res.Signal, len(res.Flushes), len(r.Alerts()))
			if err != nil && ctx.Err() != nil {
				bugf(t, "mode %s, max_clock_skew 0: three reads with the integer record time 9223372030 s hang the flush (killed after 4s, "+
					"%d flush returned): the evaluation time overflows int64 (ceilMultiple), the engine then walks every 5m interval "+
					"from 1678 to 2262 and Close never ends", mode, len(res.Flushes))
			}
			if err != nil || res.Signal != "" {
				t.Fatalf("host: %v, signal %q\n%s", err, res.Signal, tail(res.Stderr, 2000))
			}
			wantOK(t, res)
			if strings.Contains(res.Stderr, "panic") {
				t.Errorf("panic:\n%s", tail(res.Stderr, 2000))
			}
		})
	}
}
