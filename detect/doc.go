// Package detect runs a detection rule over a stream of Kubernetes audit
// events, on event time, as the events arrive: for each fingerprint (the
// rule's group-by fields: user, source IP, user agent) it keeps the
// matching events inside the retention horizon, and decides alerts in one
// of two modes. The exact semantics of both (windows, mutes and updates,
// schedules, max_alerts, shutdown, ids) are stated point by point in the
// README's "When alerts fire" and in the independent model that tests this
// package (test/model).
//
// Data flows one way: a decoder (audit's JSON parser, or the plugin's
// msgpack decoder) hands each audit.Event to Engine.Process; the compiled
// rule (rule.Filter) keeps the matching ones; the engine keeps them per
// fingerprint and decides; the caller takes the decided alerts with
// TakeAlerts and encodes them (Alert.MarshalJSON is the ECS shape).
//
// How the state is laid out, and why:
//
//   - A fingerprint keeps its matching events as 32-byte records sorted by
//     time (fingerprint.go), a slot per distinct value counted, and a
//     sliding window that ends at its newest record, so that an in-order
//     event costs a constant number of steps.
//   - Every string the engine keeps is interned once in a reference-counted
//     pool (pool.go); a record's other listed values (namespace, decision,
//     impersonated user, extra source addresses, a non-UUID auditID) are
//     interned together as one string (attrs.go).
//   - Stream mode (stream.go) keeps a heap of mute periods and, with
//     reorder_delay, a heap of deferred decisions; schedule mode
//     (schedule.go) evaluates at multiples of the interval.
//   - Memory is bounded (fingerprints.go, limits.go): max_fingerprints
//     evicts the least recently active fingerprint, max_names_per_fingerprint
//     caps a fingerprint's values, repeated reads of one value are coalesced
//     under a per-fingerprint record cap, and kept values are cut at 1 KiB.
//     An alert whose window a cap touched says so (alert.truncated).
//   - Snapshot and Restore (state.go) carry windows, mutes and the
//     watermark across restarts.
package detect
