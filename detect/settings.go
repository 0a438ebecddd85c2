package detect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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

// SourceIPMode is which sourceIPs entry is the client's address.
type SourceIPMode uint8

const (
	// SourceIPPeer is the last entry: the address that connected to the
	// API server, which a client cannot forge.
	SourceIPPeer SourceIPMode = iota
	// SourceIPClient is the first entry, as forwarded by proxies.
	SourceIPClient
	// SourceIPElastic is Elastic's mapping: the whole list, so an event
	// with more than one entry is dropped as the ES|QL rule drops it.
	SourceIPElastic
)

func (m SourceIPMode) String() string {
	switch m {
	case SourceIPClient:
		return "client"
	case SourceIPElastic:
		return "elastic"
	}
	return "peer"
}

// Settings are the engine's configuration. Every field has a key of the
// same name in snake_case (see SettingKeys).
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
	SourceIP     SourceIPMode
	// Exclusions holds each exclusion list by its setting key; a list given
	// in the configuration replaces the rule's default.
	Exclusions             map[string][]string
	MaxFingerprints        int
	MaxNamesPerFingerprint int
}

// Setting keys of the engine.
const (
	KeyMode                   = "mode"
	KeyThreshold              = "threshold"
	KeyWindow                 = "window"
	KeySuppress               = "suppress"
	KeyInterval               = "interval"
	KeyAllowedLateness        = "allowed_lateness"
	KeyReorderDelay           = "reorder_delay"
	KeyIdleTimeout            = "idle_timeout"
	KeyMaxClockSkew           = "max_clock_skew"
	KeyMaxAlerts              = "max_alerts"
	KeySourceIP               = "source_ip"
	KeyMaxFingerprints        = "max_fingerprints"
	KeyMaxNamesPerFingerprint = "max_names_per_fingerprint"
)

// SettingKeys lists every key ParseSettings reads for a rule, in
// documentation order.
func SettingKeys(r *Rule) []string {
	keys := []string{KeyMode, KeyThreshold, KeyWindow, KeySuppress, KeyInterval, KeyAllowedLateness,
		KeyReorderDelay, KeyIdleTimeout, KeyMaxClockSkew, KeyMaxAlerts, KeySourceIP}
	for _, x := range r.Exclusions {
		keys = append(keys, x.Setting)
	}
	return append(keys, KeyMaxFingerprints, KeyMaxNamesPerFingerprint)
}

// DefaultSettings reproduce the rule exactly: Elastic's 6-minute lookback
// and 5-minute schedule.
func DefaultSettings(r *Rule) Settings {
	s := Settings{
		Mode:                   ModeStream,
		Threshold:              r.Threshold,
		Window:                 6 * time.Minute,
		Suppress:               5 * time.Minute,
		Interval:               5 * time.Minute,
		AllowedLateness:        30 * time.Second,
		IdleTimeout:            30 * time.Second,
		MaxClockSkew:           10 * time.Minute,
		MaxAlerts:              100,
		SourceIP:               SourceIPPeer,
		Exclusions:             make(map[string][]string, len(r.Exclusions)),
		MaxFingerprints:        100000,
		MaxNamesPerFingerprint: 1000,
	}
	for _, x := range r.Exclusions {
		s.Exclusions[x.Setting] = append([]string(nil), x.Default...)
	}
	return s
}

// Getter reads one configuration value; "" means unset (Fluent Bit cannot
// tell an unset key from an empty one).
type Getter interface {
	Get(key string) string
}

// MapGetter is a Getter over a plain map, for tests and the replay command.
type MapGetter map[string]string

func (m MapGetter) Get(key string) string { return m[key] }

// ConfigError names the key, the value and what is accepted.
type ConfigError struct {
	Key    string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("invalid value %q for key %q: %s", e.Value, e.Key, e.Reason)
}

// NoneValue in an exclusion list empties it (an empty value cannot: Fluent
// Bit reads an empty value as unset).
const NoneValue = "none"

// ParseSettings reads the engine settings for rule r through g: defaults
// for unset keys, every bad value reported (errors.Join of *ConfigError).
func ParseSettings(r *Rule, g Getter) (Settings, error) {
	s := DefaultSettings(r)
	p := parser{g: g}
	if v := p.get(KeyMode); v != "" {
		switch strings.ToLower(v) {
		case "stream":
			s.Mode = ModeStream
		case "schedule":
			s.Mode = ModeSchedule
		default:
			p.fail(KeyMode, v, "accepted: stream, schedule")
		}
	}
	p.integer(KeyThreshold, &s.Threshold, 1)
	p.duration(KeyWindow, &s.Window, time.Second)
	p.duration(KeySuppress, &s.Suppress, 0)
	p.duration(KeyInterval, &s.Interval, time.Second)
	p.duration(KeyAllowedLateness, &s.AllowedLateness, 0)
	p.duration(KeyReorderDelay, &s.ReorderDelay, 0)
	p.duration(KeyIdleTimeout, &s.IdleTimeout, 0)
	p.duration(KeyMaxClockSkew, &s.MaxClockSkew, 0)
	p.integer(KeyMaxAlerts, &s.MaxAlerts, 1)
	if v := p.get(KeySourceIP); v != "" {
		switch strings.ToLower(v) {
		case "peer":
			s.SourceIP = SourceIPPeer
		case "client":
			s.SourceIP = SourceIPClient
		case "elastic":
			s.SourceIP = SourceIPElastic
		default:
			p.fail(KeySourceIP, v, "accepted: peer (last sourceIPs entry), client (first entry), elastic (single-entry events only, as Elastic's rule)")
		}
	}
	for _, x := range r.Exclusions {
		v := p.get(x.Setting)
		if v == "" {
			continue
		}
		list := SplitList(v)
		if len(list) == 1 && strings.EqualFold(list[0], NoneValue) {
			list = nil
		}
		if _, err := compileExclusion(x, list); err != nil {
			p.fail(x.Setting, v, err.Error())
			continue
		}
		s.Exclusions[x.Setting] = list
	}
	p.integer(KeyMaxFingerprints, &s.MaxFingerprints, 1)
	p.integer(KeyMaxNamesPerFingerprint, &s.MaxNamesPerFingerprint, 1)
	if p.err == nil {
		p.err = s.Validate()
	}
	return s, p.err
}

// Validate checks the rules between settings.
func (s *Settings) Validate() error {
	var errs []error
	if s.MaxNamesPerFingerprint < s.Threshold {
		errs = append(errs, &ConfigError{Key: KeyMaxNamesPerFingerprint, Value: strconv.Itoa(s.MaxNamesPerFingerprint),
			Reason: fmt.Sprintf("must be at least threshold (%d), or no fingerprint could ever alert", s.Threshold)})
	}
	if s.Mode == ModeSchedule && s.ReorderDelay > 0 {
		errs = append(errs, &ConfigError{Key: KeyReorderDelay, Value: s.ReorderDelay.String(),
			Reason: "applies to stream mode only; schedule mode waits allowed_lateness before each evaluation"})
	}
	if s.Mode == ModeSchedule && s.Window < s.Interval {
		errs = append(errs, &ConfigError{Key: KeyWindow, Value: s.Window.String(),
			Reason: fmt.Sprintf("must be at least interval (%s) in schedule mode, or events between evaluations are never seen", s.Interval)})
	}
	return errors.Join(errs...)
}

// SplitList splits a comma-separated value, trimming blanks and dropping
// empty entries.
func SplitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ParseDuration reads a Go duration ("6m", "1m30s") or a bare number of
// seconds, the Fluent Bit convention for time properties.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n > float64(1<<62)/float64(time.Second) {
			return 0, errors.New("out of range")
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	return d, nil
}

type parser struct {
	g   Getter
	err error
}

func (p *parser) get(key string) string { return strings.TrimSpace(p.g.Get(key)) }

func (p *parser) fail(key, value, reason string) {
	p.err = errors.Join(p.err, &ConfigError{Key: key, Value: value, Reason: reason})
}

func (p *parser) integer(key string, dst *int, min int) {
	v := p.get(key)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		p.fail(key, v, fmt.Sprintf("accepted: an integer ≥ %d", min))
		return
	}
	*dst = n
}

func (p *parser) duration(key string, dst *time.Duration, min time.Duration) {
	v := p.get(key)
	if v == "" {
		return
	}
	d, err := ParseDuration(v)
	if err != nil || d < min {
		what := "a duration"
		if min > 0 {
			what += " ≥ " + min.String()
		} else {
			what += " ≥ 0"
		}
		p.fail(key, v, "accepted: "+what+` such as "30s", "6m", "1h30m", or a number of seconds`)
		return
	}
	*dst = d
}
