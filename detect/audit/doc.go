// Package audit reads Kubernetes API-server audit events (audit.k8s.io/v1
// Event, and the EventList the audit webhook posts) into Event, the few
// fields a detection rule reads, without copying: values are views into the
// input, valid until the call that handed the Event over returns.
//
// The mapping from an audit.k8s.io Event document onto Event is defined
// once, here, as a tree of keys. Every decoder (JSON lines, Fluent Bit's
// msgpack records) walks its input with these nodes, hands leaf values to a
// Record, and lets Record.Event apply the remaining rules (which timestamp
// wins, what counts as missing). Decoders differ only in how they read
// bytes, never in what they read.
//
// JSONParser reads JSON lines (the log backend) and webhook bodies; the
// plugin's msgpack decoder (plugin/record) walks the same schema over Fluent
// Bit's records. JSONParser walks a document once with a small scanner of
// its own (scan.go) that skips what the schema does not name without
// allocating and accepts exactly the documents encoding/json.Valid accepts,
// so what counts as malformed does not depend on the reader or the build;
// JSONParser.Walk with a Node.Select of a few keys reads only those. Both apply the same rules for what counts: an empty value
// is missing, a repeated key replaces the earlier one, the event time is
// requestReceivedTimestamp, else stageTimestamp, else the legacy timestamp,
// else the time the record carries, and only times between 1970 and 2200
// count.
package audit
