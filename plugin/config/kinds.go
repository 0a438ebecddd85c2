package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Section is where a setting is documented in the README.
type Section string

const (
	Detection Section = "detection"
	Input     Section = "input"
	Delivery  Section = "delivery"
	Operation Section = "operation"
)

// Setting declares one key.
type Setting struct {
	Key     string
	Section Section
	// Default is the value of an unset key, written as a user would write
	// it; "" leaves the zero value. DefaultDoc replaces it in the README
	// where the default is not a literal ("system roots").
	Default    string
	DefaultDoc string
	// EnvDefault names an environment variable read when the key is unset.
	EnvDefault string
	Doc        string
	// Accepted says what a value may be, for error messages.
	Accepted string
	// Secret values are never logged or shown in errors.
	Secret bool

	set  func(c *Config, v string) error
	show func(c *Config) string
}

// errRejected makes a setter's error "accepted: <Accepted>".
var errRejected = errors.New("rejected")

// Value kinds. Each returns a Setting reading a value into the field that
// at points to; the table in settings.go fills in the rest.

func integer(min, max int, at func(*Config) *int) Setting {
	return Setting{
		Accepted: fmt.Sprintf("an integer from %d to %d", min, max),
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < min || n > max {
				return errRejected
			}
			*at(c) = n
			return nil
		},
		show: func(c *Config) string { return strconv.Itoa(*at(c)) },
	}
}

func duration(min time.Duration, at func(*Config) *time.Duration) Setting {
	return Setting{
		Accepted: fmt.Sprintf(`a duration ≥ %s such as "500ms", "30s", "6m", "1h30m", or a number of seconds`, min),
		set: func(c *Config, v string) error {
			d, err := ParseDuration(v)
			if err != nil || d < min {
				return errRejected
			}
			*at(c) = d
			return nil
		},
		show: func(c *Config) string { return at(c).String() },
	}
}

func size(min int64, at func(*Config) *int64) Setting {
	return Setting{
		Accepted: fmt.Sprintf(`a size ≥ %d bytes such as "4096", "512K", "64M", "1G"`, min),
		set: func(c *Config, v string) error {
			n, err := ParseSize(v)
			if err != nil || n < min {
				return errRejected
			}
			*at(c) = n
			return nil
		},
		show: func(c *Config) string { return strconv.FormatInt(*at(c), 10) },
	}
}

func boolean(at func(*Config) *bool) Setting {
	return Setting{
		Accepted: "on, off (also true/false, yes/no)",
		set: func(c *Config, v string) error {
			switch strings.ToLower(v) {
			case "on", "true", "yes", "1":
				*at(c) = true
			case "off", "false", "no", "0":
				*at(c) = false
			default:
				return errRejected
			}
			return nil
		},
		show: func(c *Config) string {
			if *at(c) {
				return "on"
			}
			return "off"
		},
	}
}

// text is a string taken as written (a path, a key name).
func text(at func(*Config) *string) Setting {
	return Setting{
		Accepted: "any text",
		set:      func(c *Config, v string) error { *at(c) = v; return nil },
		show:     func(c *Config) string { return *at(c) },
	}
}

// word is one accepted value of a choice.
type word[T comparable] struct {
	text  string
	value T
}

func is[T comparable](text string, value T) word[T] { return word[T]{text, value} }

// choice accepts one of a few words, case-insensitively; the first word
// for a value is the one shown.
func choice[T comparable](at func(*Config) *T, words ...word[T]) Setting {
	names := make([]string, len(words))
	for i, w := range words {
		names[i] = w.text
	}
	return Setting{
		Accepted: strings.Join(names, ", "),
		set: func(c *Config, v string) error {
			for _, w := range words {
				if strings.EqualFold(v, w.text) {
					*at(c) = w.value
					return nil
				}
			}
			return errRejected
		},
		show: func(c *Config) string {
			for _, w := range words {
				if w.value == *at(c) {
					return w.text
				}
			}
			return fmt.Sprint(*at(c))
		},
	}
}

// NoneValue in a list empties it: an empty value cannot, since Fluent Bit
// reads it as unset.
const NoneValue = "none"

// list is a comma-separated list; check validates it as a whole. It reads
// and writes through get and put, since lists live in maps as well as in
// fields.
func list(check func([]string) error, get func(*Config) []string, put func(*Config, []string)) Setting {
	return Setting{
		Accepted: `a comma-separated list, or "none"`,
		set: func(c *Config, v string) error {
			l := SplitList(v)
			if len(l) == 1 && strings.EqualFold(l[0], NoneValue) {
				l = nil
			}
			if check != nil {
				if err := check(l); err != nil {
					return err
				}
			}
			put(c, l)
			return nil
		},
		show: func(c *Config) string {
			if l := get(c); len(l) > 0 {
				return strings.Join(l, ",")
			}
			return NoneValue
		},
	}
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
	return time.ParseDuration(v)
}

// ParseSize reads a byte size the way Fluent Bit does: a number with an
// optional K, M or G suffix (powers of 1024), with or without a B.
func ParseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.TrimSuffix(s, "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n * mult, nil
}
