// Package config holds the plugin's settings. Every key is declared once,
// in the table of settings.go: its name, default, parser, README section
// and one-line description. Parsing, defaults, validation, the effective
// settings logged at start (credentials redacted), "did you mean" for
// misspelled keys and the README's configuration tables all come from that
// table; readme_test.go fails when the README and the table disagree.
//
// Values follow Fluent Bit's conventions. Keys are case-insensitive (Fluent
// Bit compares them so), and an empty value reads as unset: Fluent Bit
// cannot tell the two apart. Durations are Go durations ("30s", "1h30m") or
// a bare number of seconds; sizes take K, M, G (powers of 1024); booleans
// are on/off, true/false or yes/no. Lists are comma-separated, replace the
// default when set, and "none" empties them.
//
// Parse reads through a one-method Getter so that every rule is
// table-tested with a plain map; in the plugin the Getter is Fluent Bit's
// property API. Every problem is reported at once, each naming the key, the
// value and what is accepted, and a bad value stops the instance at start.
package config
