package model

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"time"
)

// Settings configure both the model and the engine (through Props), so that
// the two are always given the same rule parameters.
type Settings struct {
	Mode            string // "stream" or "schedule"
	Threshold       int
	Window          time.Duration
	Suppress        time.Duration
	Interval        time.Duration
	AllowedLateness time.Duration
	ReorderDelay    time.Duration
	MaxAlerts       int
	SourceIP        string // "peer", "client" or "elastic"
	// GroupBy is the group_by setting as written: "user" and any of
	// "source_ip", "user_agent", in any order. Empty is the rule's grouping.
	GroupBy []string

	// The exclusion lists, in full: an empty list is written as "none".
	ExcludeUsers     []string
	ExcludeSourceIPs []string
	ExcludeNames     []string

	// Caps are handed to the engine only; the model has none. Zero leaves
	// the engine's default.
	MaxFingerprints        int
	MaxNamesPerFingerprint int
}

// Defaults are the plugin's defaults (Elastic's rule).
func Defaults() Settings {
	return Settings{
		Mode: "stream", Threshold: 3, Window: 6 * time.Minute, Suppress: 5 * time.Minute,
		Interval: 5 * time.Minute, AllowedLateness: 30 * time.Second, MaxAlerts: 100, SourceIP: "peer",
		GroupBy:          []string{"user", "source_ip", "user_agent"},
		ExcludeUsers:     []string{"system:kube-controller-manager", "system:kube-scheduler"},
		ExcludeSourceIPs: []string{"127.0.0.1", "::1"},
		ExcludeNames:     []string{"sh.helm.release.*"},
	}
}

// Props are the plugin's key=value settings for s. Every detection key is
// written, so a change of the engine's defaults cannot make the two differ.
func (s Settings) Props() map[string]string {
	p := map[string]string{
		"mode":               s.Mode,
		"threshold":          strconv.Itoa(s.Threshold),
		"window":             s.Window.String(),
		"suppress":           s.Suppress.String(),
		"interval":           s.Interval.String(),
		"allowed_lateness":   s.AllowedLateness.String(),
		"reorder_delay":      s.ReorderDelay.String(),
		"max_alerts":         strconv.Itoa(s.MaxAlerts),
		"source_ip":          s.SourceIP,
		"group_by":           strings.Join(s.GroupBy, ","),
		"exclude_users":      list(s.ExcludeUsers),
		"exclude_source_ips": list(s.ExcludeSourceIPs),
		"exclude_names":      list(s.ExcludeNames),
	}
	if len(s.GroupBy) == 0 {
		p["group_by"] = "user,source_ip,user_agent"
	}
	if s.MaxFingerprints > 0 {
		p["max_fingerprints"] = strconv.Itoa(s.MaxFingerprints)
	}
	if s.MaxNamesPerFingerprint > 0 {
		p["max_names_per_fingerprint"] = strconv.Itoa(s.MaxNamesPerFingerprint)
	}
	return p
}

func list(v []string) string {
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ",")
}

// String prints the settings as the replay command's -p flags, so that a
// failure can be reproduced from the log.
func (s Settings) String() string {
	p := s.Props()
	var b strings.Builder
	for _, k := range []string{"mode", "threshold", "window", "suppress", "interval", "allowed_lateness",
		"reorder_delay", "max_alerts", "source_ip", "group_by", "exclude_users", "exclude_source_ips", "exclude_names",
		"max_fingerprints", "max_names_per_fingerprint"} {
		if v, ok := p[k]; ok {
			fmt.Fprintf(&b, " -p '%s=%s'", k, v)
		}
	}
	return strings.TrimSpace(b.String())
}

// RandomSettings draws a valid configuration: threshold 1-10, window 10s-30m,
// suppress 0-30m, both modes, every source_ip mode, exclusion lists drawn from
// the vocabulary of Generate, now and then a small max_alerts so that cuts
// happen, and every group_by (half of the runs the rule's), written in any
// order.
func RandomSettings(r *rand.Rand) Settings {
	s := Defaults()
	if r.Intn(2) == 0 {
		s.Mode = "schedule"
	}
	s.Threshold = 1 + r.Intn(10)
	if r.Intn(3) > 0 {
		s.Threshold = 2 + r.Intn(5) // the realistic range gets more of the runs
	}
	s.Window = pickDuration(r, 10*time.Second, 30*time.Minute)
	s.Suppress = pickDuration(r, 0, 30*time.Minute)
	if r.Intn(8) == 0 {
		s.Suppress = 0
	}
	s.AllowedLateness = pickDuration(r, 0, 2*time.Minute)
	s.Interval = pickDuration(r, time.Second, 15*time.Minute)
	if s.Mode == "schedule" {
		// window >= interval; at most 40 evaluations per window keeps the
		// number of evaluations (engine and model alike) reasonable.
		lo := s.Window / 40
		if lo < time.Second {
			lo = time.Second
		}
		s.Interval = pickDuration(r, lo, s.Window)
	} else if r.Intn(2) == 0 {
		s.ReorderDelay = pickDuration(r, time.Millisecond, 20*time.Second)
	}
	s.MaxAlerts = 100
	switch r.Intn(4) {
	case 0:
		s.MaxAlerts = 1 + r.Intn(3)
	case 1:
		s.MaxAlerts = 1 + r.Intn(20)
	}
	s.SourceIP = []string{"peer", "client", "elastic"}[r.Intn(3)]
	s.ExcludeUsers = drawList(r, s.ExcludeUsers, userExclusions)
	s.ExcludeSourceIPs = drawList(r, s.ExcludeSourceIPs, ipExclusions)
	s.ExcludeNames = drawList(r, s.ExcludeNames, nameExclusions)
	// Drawn last, so that a seed's other settings are those it had before
	// group_by existed.
	switch r.Intn(8) {
	case 0, 1:
		s.GroupBy = []string{"user"}
	case 2:
		s.GroupBy = []string{"user", "source_ip"}
	case 3:
		s.GroupBy = []string{"user", "user_agent"}
	}
	r.Shuffle(len(s.GroupBy), func(i, j int) { s.GroupBy[i], s.GroupBy[j] = s.GroupBy[j], s.GroupBy[i] })
	return s
}

// grouping is which fields make the fingerprint: the user always, the
// source address and the user agent when group_by names them.
type grouping struct{ ip, ua bool }

func (s Settings) grouping() grouping {
	if len(s.GroupBy) == 0 {
		return grouping{true, true}
	}
	var g grouping
	for _, f := range s.GroupBy {
		switch f {
		case "source_ip":
			g.ip = true
		case "user_agent":
			g.ua = true
		case "user":
		default:
			panic("model: group_by " + f)
		}
	}
	return g
}

// rule says whether the grouping is the rule's own (user, source IP, user
// agent): alerts are then as they always were.
func (g grouping) rule() bool { return g.ip && g.ua }

// names is alert.group_by: the grouped fields in the order user, source_ip,
// user_agent.
func (g grouping) names() []string {
	out := []string{"user"}
	if g.ip {
		out = append(out, "source_ip")
	}
	if g.ua {
		out = append(out, "user_agent")
	}
	return out
}

// key is the fingerprint's key of a matching event: the parts of the grouped
// fields, in the order user, source IP, user agent, a missing user agent
// being distinct from every string.
func (g grouping) key(e *event) string {
	k := e.user + "\x00"
	if g.ip {
		k += e.ip + "\x00"
	}
	if g.ua {
		if e.hasUA {
			k += "\x02" + e.ua + "\x00"
		} else {
			k += "\x01\x00"
		}
	}
	return k
}

// pickDuration favours round values (whole seconds, minutes) as people set
// them, and now and then takes an odd number of milliseconds.
func pickDuration(r *rand.Rand, lo, hi time.Duration) time.Duration {
	span := hi - lo
	var d time.Duration
	switch r.Intn(4) {
	case 0:
		d = lo + time.Duration(r.Int63n(int64(span)+1))/time.Millisecond*time.Millisecond
	case 1:
		d = lo + time.Duration(r.Int63n(int64(span/time.Minute)+1))*time.Minute
	default:
		d = lo + time.Duration(r.Int63n(int64(span/time.Second)+1))*time.Second
	}
	if d > hi {
		d = hi
	}
	return d
}

// drawList keeps the default, empties the list, or draws a few entries.
func drawList(r *rand.Rand, def, vocabulary []string) []string {
	switch r.Intn(4) {
	case 0:
		return def
	case 1:
		return nil
	}
	n := 1 + r.Intn(4)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, vocabulary[r.Intn(len(vocabulary))])
	}
	return out
}

var userExclusions = []string{
	"system:kube-controller-manager", "system:kube-scheduler", "system:node:node-3", "admin@example.com",
	"system:serviceaccount:argocd:argocd-application-controller", "system:serviceaccount:ci:runner",
	"system:apiserver", "mallory",
}

var ipExclusions = []string{
	"127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "10.0.0.0/24", "10.0.0.7", "10.244.0.0/17",
	"10.244.3.0/24", "192.0.2.0/25", "::ffff:192.0.2.0/120", "2001:db8::/48", "2001:db8:0:1::/64",
	"2001:db8::17", "198.51.100.23", "fe80::1%eth0", "10.1.2.3/8",
}

var nameExclusions = []string{
	"sh.helm.release.*", "*-token", "*-token-?????", "app-secret-?", "secret-1*", "db-*", "*tls*",
	`literal\*star`, `q\?`, "??", "*", "sécret-?", `back\\slash*`, "default-token-*", "*.dockerconfigjson",
}
