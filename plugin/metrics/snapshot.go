package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Namespace prefixes every metric name.
const Namespace = "k8s_secret_enum"

// Snapshot is one instance's counters and gauges at one moment: what the
// stats line prints, in the plugin's own terms (the plugin fills it from
// the decoder, the engine and the sender).
type Snapshot struct {
	// Input (cumulative).
	Flushes     uint64
	Records     uint64
	AuditEvents uint64
	Matching    uint64
	// Skipped records (not_audit, malformed, truncated, group_marker) and
	// audit events (no_time).
	NotAudit, Malformed, Truncated, GroupMarkers, NoTime uint64
	Late, TooLate, FutureClamped                         uint64

	// Detection (cumulative).
	AlertsNew, AlertsUpdate, AlertsCut, Evaluations    uint64
	FingerprintsEvicted, NamesDropped, EventsCoalesced uint64
	Fingerprints, Names                                int   // held now
	Watermark                                          int64 // Unix ns; 0 when there is none yet

	// Delivery (cumulative).
	Enqueued, Recovered, Sent, Requests, Retries, Spooled, SpoolErrors, SenderPanics uint64
	// Alerts lost or refused, by reason.
	Rejected, QueueFull, Closed, Invalid, RetriesExhausted, AtClose, SpoolFull, SpoolCorrupt, Unencodable uint64
	// Gauges.
	Pending         int64 // accepted, not settled: queued, in flight, or in the spool
	QueueCapacity   int   // alert_queue_size
	SpoolBytes      int64
	SpoolLimitBytes int64 // 0 without a spool
}

// metric is one exported name: its descriptor and how a snapshot gives its
// value(s), one per value of its variable label (if any).
type metric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	label []string // values of the variable label, in the order values returns them
	value func(s *Snapshot) []float64
}

func counter(name, help string, v func(s *Snapshot) uint64) metric {
	return metric{
		desc:  prometheus.NewDesc(Namespace+"_"+name, help, []string{OutputLabel}, nil),
		kind:  prometheus.CounterValue,
		value: func(s *Snapshot) []float64 { return []float64{float64(v(s))} },
	}
}

func gauge(name, help string, v func(s *Snapshot) float64) metric {
	return metric{
		desc:  prometheus.NewDesc(Namespace+"_"+name, help, []string{OutputLabel}, nil),
		kind:  prometheus.GaugeValue,
		value: func(s *Snapshot) []float64 { return []float64{v(s)} },
	}
}

// counters is a counter with one more label, values in the order given.
func counters(name, help, label string, values []string, v func(s *Snapshot) []uint64) metric {
	return metric{
		desc:  prometheus.NewDesc(Namespace+"_"+name, help, []string{OutputLabel, label}, nil),
		kind:  prometheus.CounterValue,
		label: values,
		value: func(s *Snapshot) []float64 {
			raw := v(s)
			out := make([]float64, len(raw))
			for i, x := range raw {
				out[i] = float64(x)
			}
			return out
		},
	}
}

// OutputLabel names the instance a series belongs to. It is not
// "instance": Prometheus gives every target an instance label of its own,
// and a scraped one would be renamed exported_instance.
const OutputLabel = "output"

// table is every metric, in the order of the stats line.
var table = []metric{
	counter("flushes_total", "Chunks Fluent Bit flushed to the plugin.",
		func(s *Snapshot) uint64 { return s.Flushes }),
	counter("records_total", "Records read, skipped ones included.",
		func(s *Snapshot) uint64 { return s.Records }),
	counter("audit_events_total", "Audit events read (an EventList record holds several).",
		func(s *Snapshot) uint64 { return s.AuditEvents }),
	counter("matching_events_total", "Audit events that pass the rule's WHERE clause.",
		func(s *Snapshot) uint64 { return s.Matching }),
	counters("skipped_total",
		"Records (not_audit, malformed, truncated, group_marker) and audit events (no_time) skipped, by reason.",
		"reason", []string{"not_audit", "malformed", "truncated", "group_marker", "no_time"},
		func(s *Snapshot) []uint64 {
			return []uint64{s.NotAudit, s.Malformed, s.Truncated, s.GroupMarkers, s.NoTime}
		}),
	counter("late_events_total", "Matching events older than a decision already made; they join the windows still open.",
		func(s *Snapshot) uint64 { return s.Late }),
	counter("too_late_events_total", "Late events older than every window still open: dropped.",
		func(s *Snapshot) uint64 { return s.TooLate }),
	counter("future_clamped_events_total", "Events stamped more than max_clock_skew ahead, taken as arriving now.",
		func(s *Snapshot) uint64 { return s.FutureClamped }),
	counters("alerts_total", "Alerts raised, by alert.type.", "type", []string{"new", "update"},
		func(s *Snapshot) []uint64 { return []uint64{s.AlertsNew, s.AlertsUpdate} }),
	counter("alerts_cut_total", "Alerts not raised because max_alerts was reached.",
		func(s *Snapshot) uint64 { return s.AlertsCut }),
	counter("evaluations_total", "Scheduled evaluations run (mode schedule).",
		func(s *Snapshot) uint64 { return s.Evaluations }),
	counter("alerts_enqueued_total", "Alerts accepted for delivery.",
		func(s *Snapshot) uint64 { return s.Enqueued }),
	counter("alerts_recovered_total", "Alerts found in the spool at start (left by a previous process or a stopped output).",
		func(s *Snapshot) uint64 { return s.Recovered }),
	counter("alerts_sent_total", "Alerts acknowledged by the receiver with a 2xx.",
		func(s *Snapshot) uint64 { return s.Sent }),
	counters("alerts_dropped_total",
		"Alerts lost or refused, by reason: rejected (a non-retryable answer) and retries_exhausted are failed deliveries.",
		"reason", []string{"rejected", "retries_exhausted", "queue_full", "spool_full", "invalid", "closed", "at_close", "spool_corrupt", "unencodable"},
		func(s *Snapshot) []uint64 {
			return []uint64{s.Rejected, s.RetriesExhausted, s.QueueFull, s.SpoolFull, s.Invalid, s.Closed, s.AtClose, s.SpoolCorrupt, s.Unencodable}
		}),
	counter("delivery_requests_total", "HTTP requests attempted.",
		func(s *Snapshot) uint64 { return s.Requests }),
	counter("delivery_retries_total", "Attempts after the first, over all batches.",
		func(s *Snapshot) uint64 { return s.Retries }),
	counter("alerts_spooled_total", "Alerts written to the spool.",
		func(s *Snapshot) uint64 { return s.Spooled }),
	counter("spool_write_errors_total", "Spool writes that failed (the alert was kept in memory only).",
		func(s *Snapshot) uint64 { return s.SpoolErrors }),
	counter("sender_panics_total", "Recovered panics of the sender.",
		func(s *Snapshot) uint64 { return s.SenderPanics }),
	gauge("alerts_pending", "Alerts accepted and not settled yet: queued, in flight, or in the spool.",
		func(s *Snapshot) float64 { return float64(s.Pending) }),
	gauge("alert_queue_capacity", "Alerts the memory queue holds (alert_queue_size).",
		func(s *Snapshot) float64 { return float64(s.QueueCapacity) }),
	gauge("spool_bytes", "Bytes of alerts in the spool.",
		func(s *Snapshot) float64 { return float64(s.SpoolBytes) }),
	gauge("spool_limit_bytes", "Bound of the spool (alert_spool_max_bytes); 0 without a spool.",
		func(s *Snapshot) float64 { return float64(s.SpoolLimitBytes) }),
	gauge("fingerprints", "Fingerprints (user, source IP, user agent) held.",
		func(s *Snapshot) float64 { return float64(s.Fingerprints) }),
	gauge("names", "Distinct secret names held, over all fingerprints.",
		func(s *Snapshot) float64 { return float64(s.Names) }),
	counter("fingerprints_evicted_total", "Fingerprints evicted under max_fingerprints.",
		func(s *Snapshot) uint64 { return s.FingerprintsEvicted }),
	counter("names_dropped_total", "Events of new names over max_names_per_fingerprint.",
		func(s *Snapshot) uint64 { return s.NamesDropped }),
	counter("events_coalesced_total", "Repeated reads not kept under the per-fingerprint record cap.",
		func(s *Snapshot) uint64 { return s.EventsCoalesced }),
}

// watermark is absent until the instance has seen an event time.
var watermark = prometheus.NewDesc(Namespace+"_watermark_seconds",
	"Largest event time seen (Unix seconds): how far event time has progressed.", []string{OutputLabel}, nil)
