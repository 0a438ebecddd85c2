package detect

import (
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// Mode is when alerts are decided.
type Mode uint8

const (
	// ModeStream alerts on the event that crosses the threshold, then
	// reports the rest of the activity in updates.
	ModeStream Mode = iota
	// ModeSchedule reproduces Elastic's schedule on event time.
	ModeSchedule
)

func (m Mode) String() string {
	if m == ModeSchedule {
		return "schedule"
	}
	return "stream"
}

// Settings are the engine's configuration. The plugin's settings table
// (plugin/config) declares each key, its default and its rules; the engine
// takes the values as given.
type Settings struct {
	Mode            Mode
	Threshold       int
	Window          time.Duration
	Suppress        time.Duration
	Interval        time.Duration
	AllowedLateness time.Duration
	// ReorderDelay (stream mode) holds decisions until the watermark has
	// passed them by this much, so that alerts do not depend on arrival
	// order within it (Workers N, several API servers). 0: decide at once.
	ReorderDelay time.Duration
	IdleTimeout  time.Duration // 0 turns the idle advance off
	MaxClockSkew time.Duration // 0 turns the future-time guard off
	MaxAlerts    int
	SourceIP     rule.SourceIPMode
	// GroupBy is the fingerprint: the rule's group-by fields, or some of
	// them (the user always). nil groups as the rule does. A field left out
	// no longer splits fingerprints; alerts list the values it took.
	GroupBy []rule.Field
	// Exclusions holds each exclusion list by its setting key; a list given
	// in the configuration replaces the rule's default.
	Exclusions             map[string][]string
	MaxFingerprints        int
	MaxNamesPerFingerprint int
}
