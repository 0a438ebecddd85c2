package config

import (
	"strings"
	"sync"
)

// aliases are names other Fluent Bit outputs (or habit) use for our keys:
// too far from them for an edit distance to find.
var aliases = map[string]string{
	"url": "alert_url", "uri": "alert_url", "endpoint": "alert_url", "webhook_url": "alert_url",
	"alert_uri": "alert_url", "alert_endpoint": "alert_url", "format": "alert_format",
	"headers": "alert_headers", "header": "alert_headers", "alert_header": "alert_headers",
	"bearer_token_file": "alert_bearer_token_file", "http_user": "alert_basic_auth_user",
	"http_passwd": "alert_basic_auth_password", "timeout": "alert_timeout", "batch_size": "alert_batch_size",
	"queue_size": "alert_queue_size", "spool_dir": "alert_spool_dir", "exclude_ips": "exclude_source_ips",
	"sourceip": "source_ip", "loglevel": "plugin_log_level", "plugin_loglevel": "plugin_log_level",
}

// unknownKeys refuses keys that are not ours. Fluent Bit accepts any key
// for a Go plugin and cannot list them, so through it the likely mistakes
// are asked for one by one: every spelling one edit away from a key (a
// character missing, added, changed, or two swapped), hyphens for
// underscores, and the aliases.
func unknownKeys(g Getter) []error {
	var errs []error
	if l, ok := g.(Lister); ok {
		known := knownKeys()
		for _, k := range l.Keys() {
			if known[strings.ToLower(k)] {
				continue
			}
			reason := "unknown key"
			if s := suggest(strings.ToLower(k)); s != "" {
				reason += "; did you mean " + s + "?"
			}
			errs = append(errs, &Error{Key: k, Value: "<not shown>", Reason: reason})
		}
		return errs
	}
	for _, p := range probes() {
		if g.Get(p.key) != "" {
			errs = append(errs, &Error{Key: p.key, Value: "<not shown>", Reason: "unknown key; did you mean " + p.want + "?"})
		}
	}
	return errs
}

var knownKeys = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, len(table))
	for _, s := range table {
		m[s.Key] = true
	}
	return m
})

// suggest names the key a misspelling most likely meant: an alias, or the
// nearest key within two edits.
func suggest(k string) string {
	if want, ok := aliases[k]; ok {
		return want
	}
	best, bestDist := "", 3
	for _, s := range table {
		if d := editDistance(k, s.Key); d < bestDist {
			best, bestDist = s.Key, d
		}
	}
	return best
}

type probe struct{ key, want string }

// keyAlphabet is every character a key is made of.
const keyAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789_-."

// probes lists each misspelling once, with the key it is closest to.
var probes = sync.OnceValue(func() []probe {
	known := knownKeys()
	seen := map[string]bool{}
	var out []probe
	add := func(variant, want string) {
		if variant == "" || known[variant] || seen[variant] {
			return
		}
		seen[variant] = true
		out = append(out, probe{variant, want})
	}
	for a, want := range aliases {
		add(a, want)
	}
	for _, s := range table {
		k := s.Key
		add(strings.ReplaceAll(k, "_", "-"), k)
		for i := 0; i <= len(k); i++ {
			if i < len(k) {
				add(k[:i]+k[i+1:], k) // deletion
			}
			if i+1 < len(k) {
				add(k[:i]+string(k[i+1])+string(k[i])+k[i+2:], k) // transposition
			}
			for _, c := range keyAlphabet {
				add(k[:i]+string(c)+k[i:], k) // insertion
				if i < len(k) {
					add(k[:i]+string(c)+k[i+1:], k) // substitution
				}
			}
		}
	}
	return out
})

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent characters.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
