// Package model is an independent model of the detection rule, written from
// the specification (README.md and the rule's intended behaviour) to check
// the engine (package detect) against. It shares no code with detect: it
// decodes raw audit JSON with encoding/json, applies the clauses itself,
// keeps every matching event in a slice and recomputes each window from
// scratch. It is written to be obviously right, not fast.
//
// # Input
//
// Lines are trimmed; an empty line, or one that is not a JSON object, is
// ignored. An object of kind "EventList" with an items array stands for its
// items that are objects, in order; any other object is one candidate. A
// candidate is an audit event when it has a string verb and a string auditID,
// a string stage, or kind "Event" (an empty string counts as a string here).
// A field of another JSON type, or an empty string, is missing. The event
// time is the first of requestReceivedTimestamp, stageTimestamp and timestamp
// that parses as RFC 3339 (time.RFC3339Nano) to a time after
// 1970-01-01T00:00:00Z and not after 2200-01-01T00:00:00Z (a time outside
// that range counts as none, and the next field is tried); without one, the
// event has no time and is ignored. sourceIPs is an array (its string
// entries) or a single string.
//
// Run orders the events by time (a stable sort). The model's inputs are
// time-ordered; where the engine may see them out of order (disorder below
// reorder_delay in stream mode, at most allowed_lateness in schedule mode),
// its alerts must be those of the model on the ordered events.
//
// # Matching
//
// An event with a time matches when: verb is "get" and objectRef.resource is
// "secrets" (exact); user.username and objectRef.name are present; the source
// entry exists — the last sourceIPs entry (source_ip peer), the first
// (client), or the only one (elastic: a list of any other length has none) —
// and parses as an address (netip.ParseAddr; no fallback to another entry);
// the user is not in exclude_users (exact); the address, without its zone and
// with an IPv4-mapped IPv6 address taken as IPv4, is not in
// exclude_source_ips (addresses compared the same way; CIDR prefixes, an
// IPv4-mapped prefix ::ffff:a.b.c.d/n with n >= 96 being a.b.c.d/(n-96));
// the name matches no exclude_names pattern (ES|QL LIKE on code points: *
// any run, ? one character, \ makes the next one literal, anything else
// literal, whole name, case-sensitive). Every stage of a request counts, and
// forbidden reads as well as allowed ones.
//
// # Fingerprints and ids
//
// Matching events are grouped by the fingerprint: the fields group_by names,
// by default the rule's (user, source address text, user agent; a missing
// user agent is a value of its own). Its key is the parts of the grouped
// fields in the order user NUL, address NUL, (0x01 | 0x02 user-agent) NUL
// (user NUL alone under group_by user); keys are compared byte-wise. alert.fingerprint is the first 10 bytes of SHA-1(key) in hex;
// alert.id is the version 5 UUID, in the namespace of the rule id
// b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c, of key|window.start|window.end (Unix
// nanoseconds in decimal).
//
// # Stream mode
//
// The watermark wm is the largest event time seen (any audit event with a
// time, matching or not). Each fingerprint has its events, a muted flag, the
// end U of its mute period and the set of names reported in its current
// episode. Decisions are made per event in input order when reorder_delay is
// 0, and per event time when it is not: all events of time t are taken in,
// then the decisions of t are made for each fingerprint with an event at t,
// in key order. Each such step, at time t:
//
//  1. Mute ends. If t > wm, wm becomes t and every mute end U <= wm is handled
//     in order of (U, key), including mute periods created meanwhile. With E
//     the fingerprint's events in [U - window, U) (half-open: events stamped
//     U come after the mute end), if E holds a name not yet reported in the
//     episode, an update alert goes out, stamped U, window [U - window, U],
//     listing E; its names are added to the reported set and the fingerprint
//     is muted until U + suppress. Otherwise the episode ends: the fingerprint
//     is unmuted, nothing is emitted. If t <= wm nothing is handled, so a mute
//     period ending at the current watermark (suppress 0) waits for the next
//     advance.
//  2. The event (or the events of time t) is added to its fingerprint.
//  3. New alerts. A fingerprint that is not muted and holds at least
//     threshold distinct names among its events in [t - window, t] (events
//     read so far) alerts new: stamped t, window [t - window, t], listing
//     those events; their names become the reported set and it is muted until
//     t + suppress. The event need not bring a new name: a fingerprint whose
//     episode ended alerts again at its next event while its window holds the
//     threshold, as Elastic's rule alerts on every run.
//
// At the end of the input every remaining mute end is handled in order of
// (U, key) as if the watermark had reached it; updates mute again and are
// handled again, which ends because an update reports every name of its
// window.
//
// max_alerts: alerts are counted per interval of @timestamp (floor(stamp /
// interval)), new and update alike, in the order decided. An alert beyond
// max_alerts in its interval is cut: it has all its effects (mute, reported
// names, end of mute) but is not emitted.
//
// # Schedule mode
//
// Evaluations run at every multiple T of interval since the Unix epoch whose
// window [T - window, T] holds a matching event, in order of T. For each
// fingerprint with at least threshold distinct names among its events in the
// window there is a hit; hits are ordered by distinct names (descending),
// user, source address text, present user agent before missing, user agent;
// the first max_alerts go out as new alerts (mode schedule) stamped T with
// window [T - window, T] listing the fingerprint's events in it, the rest are
// cut. Nothing carries over between evaluations. (Under group_by, only the
// grouped fields are compared after the count and the user.)
//
// # Alerts
//
// For a stamp S, a window [W0, S] and the listed events E (never empty):
// @timestamp S; user.name, source.ip, user_agent.original (left out when the
// user agent is missing); Esql.unique_credentials (distinct names of E),
// Esql.secrets_names, Esql.namespaces and Esql.outcome (the decision
// annotation) as sorted distinct non-empty values; the constant rule object;
// window.start W0, window.end S; event.kind "alert", event.start and
// event.end the first and last time of E, event.count the number of events
// of E; alert.id, alert.type (new, update), alert.mode, alert.fingerprint,
// alert.truncated false; related.ip: the source address and, for each event
// of E with more than one sourceIPs entry, every entry among the first 15 and
// the last that parses (canonical text), sorted distinct; related.user: the
// user and the impersonated users of E, sorted distinct;
// kubernetes.audit.impersonatedUser.username: the impersonated users (the key
// is left out when there is none); kubernetes.audit.auditID: the auditIDs of
// E (a UUID's text lowercased), taking from the latest (time descending, then
// id descending) each id once until five are taken, printed sorted. Times are
// UTC RFC 3339 with nine fractional digits. Lists are [] when empty.
//
// # group_by
//
// group_by (issue 13) is user and any of source_ip, user_agent, in any
// order. The WHERE clause stays the rule's: an event still needs a user and a
// source address. Events that differ only in a field left out are one
// fingerprint, and stream and schedule mode work on these fingerprints
// unchanged. Under any grouping but the rule's, an alert lists the values of
// a left-out field among its events: source.ip becomes the sorted distinct
// source addresses (a list even of one), user_agent.original the sorted
// distinct user agents present (user_agent is left out when there is none);
// related.ip holds every event's source address; and alert.group_by names the
// grouped fields in the order user, source_ip, user_agent. Under the rule's
// grouping, however written, the alert is as above, without alert.group_by.
//
// # Not modelled
//
// Caps (max_fingerprints, max_names_per_fingerprint, the per-fingerprint
// record cap) do not exist here: with caps hit, an engine alert must still be
// consistent with the model (View): its names a subset of the model's names
// of the fingerprint in the same window, its count no larger, and
// alert.truncated set when it differs. Wall-clock behaviour (idle_timeout,
// max_clock_skew) plays no part in a replay. Values longer than 1 KiB, which
// the engine cuts, are not generated; neither is invalid UTF-8, which
// encoding/json would replace, nor a NUL character (the engine replaces it
// by U+FFFD in every value, since it separates the fields of its keys; the
// model leaves that out).
package model
