// Package metrics serves the plugin's counters in the Prometheus text
// format (/metrics) and a liveness answer (/healthz) on the address of the
// metrics_listen setting.
//
// One HTTP server runs per address and process, shared by every output
// instance configured with that address; each instance's series carry an
// `output` label. Instances join at Init and leave at exit; the server
// closes when the last one leaves. An instance that joins while another with
// the same label is still there (the new instance of a hot reload, when
// Fluent Bit has not stopped the old one yet) takes its place.
//
// A scrape reads each instance through Source.Metrics, which must return
// quickly and never wait on the network: the scrape must not hold up a
// flush. Panics in a source or a handler are recovered: a scrape can fail,
// Fluent Bit cannot.
package metrics
