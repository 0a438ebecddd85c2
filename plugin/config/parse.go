package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Getter reads one property; "" means unset.
type Getter interface {
	Get(key string) string
}

// Lister is a Getter that can also list its keys (the replay command's -p
// flags can; Fluent Bit's property API cannot).
type Lister interface {
	Getter
	Keys() []string
}

// MapGetter holds properties in a map, keys compared case-insensitively as
// Fluent Bit compares them.
type MapGetter map[string]string

func (m MapGetter) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func (m MapGetter) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Error names the key, the value and what is accepted.
type Error struct {
	Key    string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid value %q for key %q: %s", e.Value, e.Key, e.Reason)
}

// Profile is what a caller needs: the plugin sends alerts and reads its
// files at start; the replay command prints alerts and checks only syntax.
type Profile int

const (
	Plugin Profile = iota
	Replay
)

// Parse reads every key through g: defaults for unset keys, then the
// rules between keys. Every problem is reported (errors.Join of *Error).
func Parse(g Getter, profile Profile) (Config, error) {
	var c Config
	var errs []error
	bad := map[string]bool{}
	for i := range table {
		s := &table[i]
		v := strings.TrimSpace(g.Get(s.Key))
		shown := v
		if s.Secret {
			shown = redactHeaders(v)
		}
		if v == "" && s.EnvDefault != "" {
			// The environment is a fallback: a bad word there is ignored,
			// not fatal, since nobody wrote it for this plugin.
			if env := strings.TrimSpace(os.Getenv(s.EnvDefault)); env != "" && s.set(&c, env) == nil {
				continue
			}
		}
		if v == "" {
			if s.Default == "" {
				continue
			}
			v = s.Default
		}
		if err := s.set(&c, v); err != nil {
			reason := "accepted: " + s.Accepted
			if !errors.Is(err, errRejected) {
				reason = err.Error()
			}
			errs = append(errs, &Error{Key: s.Key, Value: shown, Reason: reason})
			bad[s.Key] = true
		}
	}
	errs = append(errs, c.validate(profile, bad)...)
	errs = append(errs, unknownKeys(g)...)
	return c, errors.Join(errs...)
}

// String is the effective configuration in one line for the start-up log:
// every key with a value, credentials redacted.
func (c *Config) String() string {
	var b strings.Builder
	for i := range table {
		s := &table[i]
		v := s.show(c)
		if v == "" {
			continue
		}
		if s.Secret && s.Key != "alert_headers" {
			v = "<redacted>"
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s.Key)
		b.WriteByte('=')
		b.WriteString(v)
	}
	return b.String()
}
