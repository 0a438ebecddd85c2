package e2e

// No alert lost: faults of the receiver injected through the whole plugin.
// For each fault, once it clears the receiver holds every alert id of the
// reference (the replay command over the same events): duplicates allowed,
// none missing, none foreign. When the in-memory queue bound is exceeded,
// the number of alerts lost is exactly the number counted and logged.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// deliveryHarvesters is the number of clients of the delivery corpus.
const deliveryHarvesters = 12

// deliveryCorpus is deliveryHarvesters clients, 40 s apart, each reading
// three secrets (a new alert); every other one reads a fourth a minute
// later (an update alert, stamped five minutes after the new one: the
// early ones are due while the chunks flow, the last ones at exit). One
// chunk per client, so that alerts leave one after another.
func deliveryCorpus(t *testing.T) (ls [][]byte, chunks [][]byte) {
	x := base.Add(2 * time.Hour)
	for i := 0; i < deliveryHarvesters; i++ {
		user := fmt.Sprintf("system:serviceaccount:team-%02d:runner", i)
		at0 := x.Add(time.Duration(i) * 40 * time.Second)
		evs := harvestEvs(user, at0)
		if i%2 == 0 {
			evs = append(evs, harvestEvs(user, at0.Add(time.Minute), "fourth-secret")...)
		}
		l := lines(evs...)
		ls = append(ls, l...)
		chunks = append(chunks, mustChunks(t, l, chunk.Options{FixedTime: at0}, 0)...)
	}
	return ls, chunks
}

var (
	refOnce sync.Once
	refIDs  idSet
	refErr  string
)

// referenceIDs are the alert ids of the replay command over the corpus.
func referenceIDs(t *testing.T) idSet {
	t.Helper()
	refOnce.Do(func() {
		ls, _ := deliveryCorpus(t)
		refIDs = summaryIDs(replay(t, ls))
		if want := deliveryHarvesters + deliveryHarvesters/2; len(refIDs) != want {
			refErr = fmt.Sprintf("replay gave %d alerts, want %d", len(refIDs), want)
		}
	})
	if refErr != "" {
		t.Fatal(refErr)
	}
	return refIDs
}

// fastDelivery are the delivery settings of the fault tests: short
// timeouts and backoffs, retries until the drain timeout, small batches.
// kv come first: the first occurrence of a property wins.
func fastDelivery(kv ...string) []string {
	return append(append([]string(nil), kv...),
		"alert_timeout", "200ms", "alert_retry_backoff", "20ms", "alert_retry_backoff_max", "200ms",
		"alert_retry_max", "no_limits", "alert_drain_timeout", "5s", "alert_batch_size", "3")
}

// faultRun runs the corpus through one instance with flushes 100 ms apart,
// calling during (in its own goroutine) once the host started.
func faultRun(t *testing.T, r *receiver.Receiver, sleep time.Duration, kv []string, during func(p *host.Process)) host.Result {
	t.Helper()
	_, chunks := deliveryCorpus(t)
	p := startHost(t, host.Config{
		Instances:       []host.Instance{{Props: props(r.URL(), kv...), Chunks: chunks}},
		FlushGap:        100 * time.Millisecond,
		SleepBeforeExit: sleep,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if during != nil {
			during(p)
		}
	}()
	res, err := p.Wait()
	<-done
	if err != nil || res.Signal != "" {
		t.Fatalf("host: %v signal %q\n%s", err, res.Signal, tail(res.Stderr, 3000))
	}
	wantOK(t, res)
	return res
}

// wantAll checks that every reference id arrived and nothing else did.
func wantAll(t *testing.T, r *receiver.Receiver, res host.Result) stats {
	t.Helper()
	want := referenceIDs(t)
	got := ids(r.Alerts())
	st := lastStats(t, res.Stderr, 0)
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	t.Logf("%s: reference %d alerts, received %d distinct (%d duplicates) in %d requests; plugin sent=%d retries=%d dropped=%d",
		t.Name(), len(want), len(got), dups, len(r.Requests()), st["sent"], st["retries"], st["dropped"])
	if m := want.missing(got); len(m) > 0 {
		t.Errorf("%d alert(s) lost: %v\nstderr:\n%s", len(m), m, tail(res.Stderr, 3000))
	}
	if e := want.extra(got); len(e) > 0 {
		t.Errorf("%d alert(s) not in the reference: %v", len(e), e)
	}
	if st["dropped"] != 0 || st["sent"] != int64(len(want)) || st["queued"] != 0 {
		t.Errorf("stats: sent=%d queued=%d dropped=%d, want %d, 0, 0", st["sent"], st["queued"], st["dropped"], len(want))
	}
	wantValidBodies(t, r)
	return st
}

func TestReliabilityDeliveryFaults(t *testing.T) {
	referenceIDs(t)
	t.Run("clean", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		res := faultRun(t, r, 0, fastDelivery(), nil)
		wantAll(t, r, res)
	})
	t.Run("down-at-start", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		r.Down()
		res := faultRun(t, r, 1500*time.Millisecond, fastDelivery(), func(p *host.Process) {
			_ = p.WaitForFlushes(6, 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			if err := r.Up(); err != nil {
				t.Error(err)
			}
		})
		st := wantAll(t, r, res)
		if st["retries"] == 0 || countLines(res.Stderr, "unreachable") != 1 {
			t.Errorf("retries=%d, %d 'unreachable' lines (want 1, once per interval)", st["retries"], countLines(res.Stderr, "unreachable"))
		}
	})
	t.Run("down-mid-run", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		res := faultRun(t, r, 1500*time.Millisecond, fastDelivery(), func(p *host.Process) {
			if _, err := r.WaitForAlerts(1, 10*time.Second); err != nil {
				t.Error(err)
			}
			r.Down()
			time.Sleep(800 * time.Millisecond)
			if err := r.Up(); err != nil {
				t.Error(err)
			}
		})
		wantAll(t, r, res)
	})
	t.Run("slower-than-timeout", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		r.Delay(400 * time.Millisecond) // alert_timeout is 200ms
		res := faultRun(t, r, 1500*time.Millisecond, fastDelivery(), func(p *host.Process) {
			_ = p.WaitForFlushes(8, 10*time.Second)
			r.Delay(0)
		})
		st := wantAll(t, r, res)
		if st["retries"] == 0 || !strings.Contains(res.Stderr, "not answering within 200ms") {
			t.Errorf("retries=%d; no timeout line in stderr", st["retries"])
		}
	})
	t.Run("500s", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		r.RespondStatus(500, 6, "")
		res := faultRun(t, r, 500*time.Millisecond, fastDelivery(), nil)
		st := wantAll(t, r, res)
		if st["retries"] < 6 || countLines(res.Stderr, "answered 500") != 1 {
			t.Errorf("retries=%d, %d 'answered 500' lines (want ≥6 and 1)", st["retries"], countLines(res.Stderr, "answered 500"))
		}
	})
	t.Run("429-retry-after", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		r.RespondStatus(429, 2, "1")
		res := faultRun(t, r, 2500*time.Millisecond, fastDelivery(), nil)
		wantAll(t, r, res)
		// Retry-After: 1 is honoured although the backoff is 20ms..200ms.
		reqs := r.Requests()
		if len(reqs) < 3 || reqs[0].Status != 429 || reqs[1].Status != 429 {
			t.Fatalf("requests %d", len(reqs))
		}
		for i := 1; i <= 2; i++ {
			if gap := reqs[i].Time.Sub(reqs[i-1].Done); gap < 900*time.Millisecond {
				t.Errorf("request %d came %v after a 429 with Retry-After: 1", i, gap)
			}
		}
		if countLines(res.Stderr, "throttles us") != 1 {
			t.Errorf("%d 'throttles us' lines, want 1", countLines(res.Stderr, "throttles us"))
		}
	})
	t.Run("connection-resets", func(t *testing.T) {
		t.Parallel()
		r := startReceiver(t)
		r.ResetConnections(6)
		res := faultRun(t, r, 500*time.Millisecond, fastDelivery(), nil)
		st := wantAll(t, r, res)
		if st["retries"] < 6 {
			t.Errorf("retries=%d after 6 resets", st["retries"])
		}
	})
}

// TestReliabilityDeliveryTLS: the receiver's certificate is signed by a CA
// the plugin was not told to trust. Delivery fails closed (not one request
// reaches the receiver), the log says so once per interval whatever the
// number of attempts and alerts, and the alerts wait in the spool. The next
// start, with alert_tls_ca_file right and no new chunk, delivers them all.
// A run with the right CA from the start delivers everything too.
func TestReliabilityDeliveryTLS(t *testing.T) {
	want := referenceIDs(t)
	r := receiver.Start(t, receiver.Options{TLS: true})
	other := receiver.Start(t, receiver.Options{TLS: true})
	spool := t.TempDir()
	kv := fastDelivery("alert_spool_dir", spool, "alert_drain_timeout", "300ms")

	res := faultRun(t, r, 1500*time.Millisecond, append([]string{"alert_tls_ca_file", other.CAFile()}, kv...), nil)
	st := lastStats(t, res.Stderr, 0)
	t.Logf("wrong CA: %d requests reached the receiver; plugin retries=%d sent=%d spooled=%d; %d spool files",
		len(r.Requests()), st["retries"], st["sent"], st["spooled"], len(spoolFiles(t, spool)))
	if n := len(r.Requests()); n != 0 {
		t.Errorf("%d requests reached a receiver whose certificate is not trusted", n)
	}
	if n := countLines(res.Stderr, "TLS verification of receiver"); n != 1 || st["retries"] < 5 {
		t.Errorf("%d TLS verification lines for %d retries of %d alerts, want exactly 1\n%s", n, st["retries"], len(want), tail(res.Stderr, 3000))
	}
	if !strings.Contains(res.Stderr, "fail closed") {
		t.Errorf("the log does not say delivery fails closed")
	}
	if st["sent"] != 0 || st["spooled"] != int64(len(want)) || len(spoolFiles(t, spool)) != len(want) {
		t.Errorf("sent=%d spooled=%d, %d spool files; want 0, %d, %d", st["sent"], st["spooled"], len(spoolFiles(t, spool)), len(want), len(want))
	}

	// Restart with the right CA, no chunks: the spool is delivered.
	res = run(t, host.Config{SleepBeforeExit: time.Second, Instances: []host.Instance{
		{Props: props(r.URL(), append([]string{"alert_tls_ca_file", r.CAFile()}, kv...)...)}}})
	wantOK(t, res)
	got := ids(r.Alerts())
	if m := want.missing(got); len(m) > 0 {
		t.Errorf("after the restart with the right CA, %d alert(s) missing: %v\n%s", len(m), m, tail(res.Stderr, 3000))
	}
	if n := len(spoolFiles(t, spool)); n != 0 {
		t.Errorf("%d files left in the spool", n)
	}
	t.Logf("right CA after restart: %d distinct alerts of %d delivered from the spool", len(got), len(want))

	// And the right CA from the start, without a spool.
	r2 := receiver.Start(t, receiver.Options{TLS: true})
	res = faultRun(t, r2, 0, fastDelivery("alert_tls_ca_file", r2.CAFile()), nil)
	wantAll(t, r2, res)
}

// TestReliabilityDeliveryQueueBound: a queue of two alerts and a receiver
// that is down while every chunk is flushed. The alerts that do not fit are
// dropped; the number dropped is exactly the number the stats line counts,
// the number the exit line reports, and the number of reference ids that
// never arrive. The queue-full condition is logged once per interval, not
// once per alert.
func TestReliabilityDeliveryQueueBound(t *testing.T) {
	want := referenceIDs(t)
	r := startReceiver(t)
	r.Down()
	res := faultRun(t, r, 1500*time.Millisecond, fastDelivery("alert_queue_size", "2", "alert_batch_size", "1"), upAfterFlush(t, r))
	st := lastStats(t, res.Stderr, 0)
	got := ids(r.Alerts())
	lost := want.missing(got)
	exitLost := exitNotDelivered(res.Stderr)
	t.Logf("%d alerts: %d received, %d lost; stats dropped=%d sent=%d; exit line: %d not delivered; %d queue-full line(s)",
		len(want), len(got), len(lost), st["dropped"], st["sent"], exitLost, countLines(res.Stderr, "alert queue full"))
	if len(lost) == 0 {
		t.Fatalf("nothing was dropped: the test does not exceed the queue bound")
	}
	if int64(len(lost)) != st["dropped"] || exitLost != len(lost) || st["sent"] != int64(len(want)-len(lost)) {
		t.Errorf("lost %d, stats dropped=%d sent=%d, exit line %d: all must agree\n%s", len(lost), st["dropped"], st["sent"], exitLost, tail(res.Stderr, 3000))
	}
	if n := countLines(res.Stderr, "alert queue full (2 alerts)"); n != 1 {
		t.Errorf("%d queue-full lines, want 1 (once per interval)", n)
	}
	if e := want.extra(got); len(e) > 0 {
		t.Errorf("foreign alerts %v", e)
	}
}

// TestReliabilityDeliverySpoolBound: the same with a spool bounded to
// 4096 bytes (the smallest accepted) instead of the memory queue: what the
// spool refuses is dropped, counted, logged once per interval and reported
// at exit, and everything it accepted arrives.
func TestReliabilityDeliverySpoolBound(t *testing.T) {
	want := referenceIDs(t)
	r := startReceiver(t)
	r.Down()
	spool := t.TempDir()
	res := faultRun(t, r, 1500*time.Millisecond, fastDelivery("alert_spool_dir", spool, "alert_spool_max_bytes", "4096", "alert_batch_size", "1"), upAfterFlush(t, r))
	st := lastStats(t, res.Stderr, 0)
	got := ids(r.Alerts())
	lost := want.missing(got)
	exitLost := exitNotDelivered(res.Stderr)
	t.Logf("%d alerts: %d received, %d lost; stats dropped=%d sent=%d spooled=%d; exit line: %d; %d spool-full line(s)",
		len(want), len(got), len(lost), st["dropped"], st["sent"], st["spooled"], exitLost, countLines(res.Stderr, "full (", "dropping alert"))
	if len(lost) == 0 {
		t.Fatalf("nothing was dropped: the test does not exceed the spool bound")
	}
	if int64(len(lost)) != st["dropped"] || exitLost != len(lost) || st["sent"] != st["spooled"] || st["sent"] != int64(len(got)) {
		t.Errorf("lost %d, stats dropped=%d sent=%d spooled=%d, exit line %d: all must agree\n%s",
			len(lost), st["dropped"], st["sent"], st["spooled"], exitLost, tail(res.Stderr, 3000))
	}
	if n := countLines(res.Stderr, "spool ", "full (", "dropping alert"); n != 1 {
		t.Errorf("%d spool-full lines, want 1 (once per interval)", n)
	}
	if left := spoolFiles(t, spool); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
}

// upAfterFlush brings the receiver up once the host has flushed every
// chunk: alerts queued while it was down must then be sent or dropped.
func upAfterFlush(t *testing.T, r *receiver.Receiver) func(p *host.Process) {
	return func(p *host.Process) {
		if _, err := p.WaitForStep("flushed", 20*time.Second); err != nil {
			t.Error(err)
		}
		if err := r.Up(); err != nil {
			t.Error(err)
		}
	}
}

// exitNotDelivered reads the count of the plugin's exit line "exit: N
// alert(s) not delivered" (0 when there is none).
func exitNotDelivered(stderr string) int {
	var n int
	for _, l := range strings.Split(stderr, "\n") {
		if i := strings.Index(l, "exit: "); i >= 0 {
			fmt.Sscanf(l[i:], "exit: %d alert(s) not delivered", &n)
		}
	}
	return n
}
