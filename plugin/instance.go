package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/deliver"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/metrics"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/statefile"
)

// instances numbers [OUTPUT] sections in log lines.
var instances atomic.Int64

// tickEvery is how often the idle watermark, the stats line and the state
// file are looked at.
const tickEvery = time.Second

// instance is one [OUTPUT] section: its configuration, its detector and
// its sender. Fluent Bit holds it through FLBPluginSetContext.
type instance struct {
	id  int64
	log *logging.Logger
	cfg config.Config

	// mu serialises the detector: with Workers N, Fluent Bit flushes one
	// instance from N threads, and each chunk is run through the engine
	// whole, so that one chunk's events are never interleaved with
	// another's.
	mu      sync.Mutex
	engine  *detect.Engine
	decoder *record.Decoder
	process func(*audit.Event)
	counts  record.Counts
	flushes uint64
	state   *statefile.File
	// outbox holds the alerts the engine emitted under mu; they are handed
	// to the sender after mu is released, so that a spool's fsync never
	// holds up another worker's flush.
	outbox []outgoing

	sender *deliver.Sender

	output   string          // the metrics' output label
	metrics  *metrics.Member // nil without metrics_listen
	lastTick atomic.Int64    // Unix ns of the timer's last run, for /healthz

	stop     chan struct{}
	done     chan struct{}
	exitOnce sync.Once

	lastStats      time.Time
	lastMalformed  uint64
	testPanicFlush uint64 // K8S_SECRET_ENUM_TEST_PANIC_FLUSH: panic in the Nth flush (tests only)
}

func newInstance(g config.Getter, logOut io.Writer) (*instance, error) {
	id := instances.Add(1) - 1
	output := nextOutput()
	log := logging.New(logOut, logging.Info, "#"+strconv.FormatInt(id, 10))
	cfg, err := config.Parse(g, config.Plugin)
	if err != nil {
		for _, e := range flatten(err) {
			log.Errorf("configuration: %v", e)
		}
		log.Errorf("not starting: fix the [OUTPUT] properties above (see the README for every key)")
		return nil, err
	}
	log.SetLevel(cfg.LogLevel)

	in := &instance{id: id, output: output, log: log, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}), lastStats: time.Now()}
	in.sender, err = deliver.New(cfg.Delivery, log)
	if err != nil {
		log.Errorf("alert delivery: %v", err)
		return nil, err
	}
	in.engine, err = detect.New(config.Rule, cfg.Engine)
	if err != nil {
		in.sender.Close()
		log.Errorf("configuration: %v", err)
		return nil, err
	}
	in.process = in.engine.Process
	in.decoder = record.NewDecoder(record.Options{RecordKey: cfg.RecordKey, Prefilter: cfg.Prefilter})
	in.lastTick.Store(time.Now().UnixNano())
	if err := in.serveMetrics(); err != nil {
		in.sender.Close()
		log.Errorf("configuration: %v", err)
		log.Errorf("not starting: fix the [OUTPUT] properties above (see the README for every key)")
		return nil, err
	}
	if cfg.StateFile != "" {
		in.state = statefile.New(cfg.StateFile, log)
		in.state.Restore(in.engine)
	}
	if v := os.Getenv("K8S_SECRET_ENUM_TEST_PANIC_FLUSH"); v != "" {
		in.testPanicFlush, _ = strconv.ParseUint(v, 10, 64)
	}
	log.Infof("started: rule %q; %s", config.Rule.Name, &cfg)
	go in.loop()
	return in, nil
}

// flush runs one chunk through the detector.
//
// The return code is decided here, once:
//   - FLB_OK when the chunk was read, including when some records were
//     skipped (not audit events, malformed, truncated): they are counted and
//     logged, and sending the same bytes again cannot make them valid.
//   - FLB_ERROR only when the plugin itself failed (a recovered panic, an
//     unknown instance): Fluent Bit then drops the chunk and counts an error.
//   - FLB_RETRY never: the detector has already consumed the records, and a
//     retried chunk would count every event twice. Delivery problems never
//     reach this point, since alerts leave through the asynchronous sender.
func (in *instance) flush(chunk []byte) int {
	in.locked(func() {
		in.flushes++
		if in.testPanicFlush != 0 && in.flushes == in.testPanicFlush {
			panic("test hook: K8S_SECRET_ENUM_TEST_PANIC_FLUSH")
		}
		in.engine.Arrive(time.Now())
		c := in.decoder.Decode(chunk, in.process)
		in.counts.Add(c)
		in.take()
		if skipped := c.NotAudit + c.Malformed + c.Truncated; skipped > 0 && in.log.Enabled(logging.Debug) {
			in.log.Debugf("chunk of %d bytes: %d records, %d audit events, skipped not_audit=%d malformed=%d truncated=%d",
				len(chunk), c.Records, c.Events, c.NotAudit, c.Malformed, c.Truncated)
		}
	})
	return output.FLB_OK
}

// locked runs f under the engine lock, then hands the alerts f made to the
// sender (Enqueue never waits on the network; with a spool it waits for
// the disk, which is why it runs outside the lock).
func (in *instance) locked(f func()) {
	var out []outgoing
	func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		f()
		out, in.outbox = in.outbox, nil
	}()
	for _, o := range out {
		in.sender.Enqueue(o.id, o.body)
	}
}

type outgoing struct {
	id   string
	body []byte
}

// take encodes what the engine decided for the sender; it runs under the
// engine lock.
func (in *instance) take() {
	for _, a := range in.engine.TakeAlerts() {
		body, err := a.MarshalJSON()
		if err != nil {
			in.log.Errorf("encoding alert %s: %v", a.ID, err)
			continue
		}
		if in.log.Enabled(logging.Debug) {
			in.log.Debugf("alert %s (%s) user=%q source=%s: %d events", a.ID, a.Type, a.User, a.SourceIP, a.EventCount)
		}
		in.outbox = append(in.outbox, outgoing{id: a.ID, body: body})
	}
	for _, c := range in.engine.TakeCuts() {
		if in.log.Every("max_alerts", time.Minute) {
			in.log.Warnf("max_alerts (%d) reached: %d alert(s) of the interval starting %s were not sent (counted as alerts_cut)",
				in.cfg.Engine.MaxAlerts, c.Alerts, detect.FormatTime(c.IntervalStart))
		}
	}
}

// loop moves the idle watermark, logs the counters and saves the state.
func (in *instance) loop() {
	defer close(in.done)
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case now := <-t.C:
			in.tick(now)
		}
	}
}

func (in *instance) tick(now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			in.log.Errorf("panic in the timer: %v\n%s", r, debug.Stack())
		}
	}()
	var malformed uint64
	in.locked(func() {
		in.engine.Tick(now)
		in.take()
		if in.state != nil {
			in.state.MaybeSave(in.engine, now, in.cfg.StateSaveInterval)
		}
		malformed = in.counts.Malformed + in.counts.Truncated
	})
	if malformed > in.lastMalformed {
		if in.log.Every("malformed", time.Minute) {
			in.log.Warnf("%d malformed or truncated record(s) skipped so far (see the stats line)", malformed)
		}
		in.lastMalformed = malformed
	}
	in.lastTick.Store(now.UnixNano())
	if in.cfg.StatsInterval > 0 && now.Sub(in.lastStats) >= in.cfg.StatsInterval {
		in.lastStats = now
		in.log.Infof("%s", in.statsLine())
	}
}

func (in *instance) statsLine() string {
	in.mu.Lock()
	c, e, flushes := in.counts, in.engine.Stats(), in.flushes
	in.mu.Unlock()
	s := in.sender.Stats()
	return fmt.Sprintf("stats: flushes=%d records=%d audit_events=%d matching=%d skipped(not_audit=%d malformed=%d truncated=%d no_time=%d group_markers=%d) "+
		"late=%d too_late=%d future_clamped=%d alerts(new=%d update=%d cut=%d) delivery(sent=%d queued=%d retries=%d rejected=%d dropped=%d spooled=%d) "+
		"fingerprints=%d names=%d evicted=%d names_dropped=%d coalesced=%d watermark=%s",
		flushes, c.Records, c.Events, e.Matched, c.NotAudit, c.Malformed, c.Truncated, c.NoTime+e.NoTime, c.GroupMarkers,
		e.Late, e.TooLate, e.FutureClamped, e.AlertsNew, e.AlertsUpdate, e.AlertsCut,
		s.Sent, s.Pending, s.Retries, s.Rejected, s.Dropped()-s.Rejected, s.Spooled,
		e.Fingerprints, e.Names, e.FingerprintsEvicted, e.NamesDropped, e.EventsCoalesced, watermark(e.Watermark))
}

func watermark(ns int64) string {
	if ns == 0 || ns == -1<<63 {
		return "none"
	}
	return detect.FormatTime(ns)
}

// exit evaluates what is pending (shutdown semantics of the engine), then
// drains the sender within alert_drain_timeout.
func (in *instance) exit() {
	in.exitOnce.Do(func() {
		close(in.stop)
		<-in.done
		in.locked(func() {
			in.engine.Close()
			in.take()
			if in.state != nil {
				in.state.Save(in.engine)
			}
		})
		st := in.sender.Close()
		in.log.Infof("%s", in.statsLine())
		if st.Pending > 0 || st.Dropped() > 0 {
			in.log.Warnf("exit: %d alert(s) not delivered (%d still pending%s)", st.Dropped()+uint64(st.Pending), st.Pending, spoolNote(&in.cfg))
		}
		in.metrics.Leave()
		in.log.Infof("stopped")
	})
}

func spoolNote(c *config.Config) string {
	if c.Delivery.SpoolDir != "" {
		return ", kept in " + c.Delivery.SpoolDir + " for the next start"
	}
	return ""
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
