// Package record decodes the payload that Fluent Bit hands a Go output
// plugin's flush callback into audit events, without copying it.
//
// A payload is msgpack records back to back, with no outer array:
//
//	Fluent Bit >= 2.1: [[timestamp, metadata], body]
//	older:             [timestamp, body]
//
// The timestamp is an EventTime (ext type 0, 8 bytes: uint32 BE seconds,
// uint32 BE nanoseconds, as fixext8 or ext8), or seconds as an integer or a
// float. Since Fluent Bit 3.1 records whose timestamp seconds are
// 0xFFFFFFFF / 0xFFFFFFFE (int32 -1 / -2) open and close a group; they carry
// no log and are skipped (flb_log_event.h, flb_log_event_decoder.c).
//
// The body is read in one pass with the mapping shared with the JSON
// decoder (audit.BodySchema), in one of three shapes:
//
//  1. the audit Event itself (tail input with a json parser): the map's
//     leaves are the Event's;
//  2. a string holding the audit JSON line under Options.RecordKey ("log":
//     tail input without a parser), used only when the map itself is not an
//     audit Event; it is read by audit.JSONParser (by its ParsePrefiltered
//     with Options.Prefilter);
//  3. an audit.k8s.io EventList with "items" (the API server's audit webhook
//     posting to the http input): one event per item.
//
// Policy for everything else (see Counts):
//   - a body of none of these shapes is counted NotAudit; a RecordKey string
//     that is not JSON, or is JSON of another kind, is NotAudit too (it is a
//     plain log line that a loose Match routed here); a RecordKey string
//     that starts like a JSON object but does not parse is Malformed;
//   - a record that is not well-formed msgpack, is not [header, map], has a
//     header array that is not [timestamp, metadata], or whose body nests
//     deeper than 10000 levels is Malformed, and decoding goes on after it
//     when its end can still be found (any complete msgpack value has one);
//     when it cannot (the payload ends inside it, or an invalid byte hides
//     its end) the record is counted Truncated and decoding stops there;
//   - a timestamp of another type (string, nil, an ext that is not type 0
//     of 8 bytes, a negative or overflowing number) is taken as no record
//     time, not as a malformed record: the audit document carries its own;
//   - a value of the wrong type for a leaf (a number for verb, a string for
//     user, ...) counts as missing; non-string keys are skipped;
//   - an event with no time at all (no parsable timestamp in the document
//     and no record time) is counted NoTime and not emitted.
//
// A record emits its events only when it is complete and well-formed: the
// body's own event after the whole body is read, an EventList's items once
// the record is known to be complete (the first 1024 are held back until
// then; past that, the rest of the record is checked before any is
// emitted). So a Malformed or Truncated record emits nothing, except what
// audit.JSONParser emits from an EventList in a RecordKey string before a
// JSON syntax error, which it does not take back.
//
// Repeated keys follow audit.JSONParser: the last one wins, wholesale (a
// later null unsets a leaf, a repeated object replaces every leaf of the
// earlier one), so both decoders give the same Events for a document.
//
// Zero-copy: Event strings alias the payload, RecordKey strings included
// (audit.JSONParser reads them in place). Nothing is allocated per record
// once a Decoder is warm, except by audit.JSONParser for a leaf of a
// RecordKey string that holds a JSON escape (unescaped into a new string).
//
// Reading is split in two (see fast.go): the few encodings that make up
// nearly every byte of an audit record (the Fluent Bit >= 2.1 header with
// an EventTime, fixmap/fixarray, fixstr/str8, fixed-size scalars) are read
// inline by index, and everything else, including every malformed byte, by
// github.com/tinylib/msgp's zero-copy readers (Read*Bytes, NextType, Skip).
// A test holds the inline readers to msgp for every lead byte, and a fuzz
// target holds the decoder to the JSON decoder with the encodings mixed.
// Keys are looked up in keyIndex, a per-node table laid out for the walk.
// Values the rule does not read are skipped by skipValue, with an explicit
// stack instead of msgp.Skip's recursion, so that nesting is bounded like
// the JSON decoder's and a hostile record costs one record, not the rest
// of the chunk.
package record
