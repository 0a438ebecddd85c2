// Package e2e drives the plugin's .so through the C host (test/host), the
// way Fluent Bit's Go proxy calls it, against a real HTTP receiver
// (test/receiver): alerts end to end, the independent model's alerts
// through the .so, hostile input, delivery faults, the spool and the state
// file across restarts, floods within the memory bounds, panics, and that
// no secret ever leaves the process. It needs FLBHOST and K8S_SECRET_ENUM_SO
// (make e2e sets them).
package e2e
