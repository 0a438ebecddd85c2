package main

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/metrics"
)

// outputs numbers the [OUTPUT] sections of one configuration for the
// metrics' output label: 0, 1, … in the order Fluent Bit initialises them.
// Register starts a new count, and Fluent Bit registers the plugin again
// before each hot reload initialises the new instances, so a section keeps
// its label across reloads (the instance id of the log lines does not).
var outputs struct {
	sync.Mutex
	next int
}

func newConfiguration() {
	outputs.Lock()
	outputs.next = 0
	outputs.Unlock()
}

func nextOutput() string {
	outputs.Lock()
	defer outputs.Unlock()
	n := outputs.next
	outputs.next++
	return strconv.Itoa(n)
}

// stuckAfter is how long the timer may go without running before /healthz
// reports the instance unhealthy: it runs every second unless the detector
// is held, so a minute means a flush that never returns.
const stuckAfter = time.Minute

// serveMetrics joins the metrics endpoint of metrics_listen, if set.
func (in *instance) serveMetrics() error {
	if in.cfg.MetricsListen == "" {
		return nil
	}
	m, err := metrics.Join(in.cfg.MetricsListen, in.output, in, in.log)
	if err != nil {
		return &config.Error{Key: "metrics_listen", Value: in.cfg.MetricsListen, Reason: "cannot listen: " + err.Error()}
	}
	in.metrics = m
	return nil
}

// Metrics is the stats line's counters as a metrics snapshot. It holds the
// detector's lock as long as copying its counters takes.
func (in *instance) Metrics() metrics.Snapshot {
	in.mu.Lock()
	c, e, flushes := in.counts, in.engine.Stats(), in.flushes
	in.mu.Unlock()
	s := in.sender.Stats()
	snap := metrics.Snapshot{
		Flushes: flushes, Records: c.Records, AuditEvents: c.Events, Matching: e.Matched,
		NotAudit: c.NotAudit, Malformed: c.Malformed, Truncated: c.Truncated, GroupMarkers: c.GroupMarkers,
		NoTime: c.NoTime + e.NoTime, Late: e.Late, TooLate: e.TooLate, FutureClamped: e.FutureClamped,

		AlertsNew: e.AlertsNew, AlertsUpdate: e.AlertsUpdate, AlertsCut: e.AlertsCut, Evaluations: e.Evaluations,
		FingerprintsEvicted: e.FingerprintsEvicted, NamesDropped: e.NamesDropped, EventsCoalesced: e.EventsCoalesced,
		Fingerprints: e.Fingerprints, Names: e.Names,

		Enqueued: s.Enqueued, Recovered: s.Recovered, Sent: s.Sent, Requests: s.Requests, Retries: s.Retries,
		Spooled: s.Spooled, SpoolErrors: s.SpoolErrors, SenderPanics: s.Panics,
		Rejected: s.Rejected, QueueFull: s.DroppedQueueFull, Closed: s.DroppedClosed, Invalid: s.DroppedInvalid,
		RetriesExhausted: s.DroppedRetriesExhausted, AtClose: s.DroppedAtClose, SpoolFull: s.SpoolDropped,
		SpoolCorrupt: s.SpoolCorrupt, Unencodable: s.DroppedUnencodable,

		Pending: s.Pending, QueueCapacity: in.cfg.Delivery.QueueSize, SpoolBytes: in.sender.SpoolBytes(),
	}
	if wm := e.Watermark; wm != 0 && wm != -1<<63 {
		snap.Watermark = wm
	}
	if in.cfg.Delivery.SpoolDir != "" {
		snap.SpoolLimitBytes = in.cfg.Delivery.SpoolMaxBytes
	}
	return snap
}

var errStopping = errors.New("stopping")

// Healthy is nil while the instance runs: not stopping, and its timer
// (idle watermark, state saves) ran within stuckAfter.
func (in *instance) Healthy() error {
	select {
	case <-in.stop:
		return errStopping
	default:
	}
	if last := time.Unix(0, in.lastTick.Load()); time.Since(last) > stuckAfter {
		return errors.New("stuck: the detector has been busy since " + last.UTC().Format(time.RFC3339))
	}
	return nil
}
