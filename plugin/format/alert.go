package format

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// alert is what the formats read of an ECS alert. Nothing else of the
// alert (and nothing that is not in it) can reach a destination.
type alert struct {
	Timestamp string `json:"@timestamp"`
	User      *struct {
		Name string `json:"name"`
	} `json:"user"`
	Source *struct {
		IP values `json:"ip"`
	} `json:"source"`
	UserAgent *struct {
		Original values `json:"original"`
	} `json:"user_agent"`
	Esql struct {
		Distinct   int      `json:"unique_credentials"`
		Names      []string `json:"secrets_names"`
		Namespaces []string `json:"namespaces"`
		Outcomes   []string `json:"outcome"`
	} `json:"Esql"`
	Rule struct {
		Name        string   `json:"name"`
		ID          string   `json:"id"`
		Description string   `json:"description"`
		Severity    string   `json:"severity"`
		Reference   []string `json:"reference"`
		Threat      []struct {
			Tactic struct {
				Name string `json:"name"`
			} `json:"tactic"`
			Technique []struct {
				ID           string `json:"id"`
				Subtechnique []struct {
					ID string `json:"id"`
				} `json:"subtechnique"`
			} `json:"technique"`
		} `json:"threat"`
	} `json:"rule"`
	Window struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"window"`
	Event struct {
		Count int `json:"count"`
	} `json:"event"`
	Alert struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		Mode        string `json:"mode"`
		Fingerprint string `json:"fingerprint"`
		Truncated   bool   `json:"truncated"`
	} `json:"alert"`
	Kubernetes struct {
		Audit struct {
			ImpersonatedUser *struct {
				Username []string `json:"username"`
			} `json:"impersonatedUser"`
			AuditID []string `json:"auditID"`
		} `json:"audit"`
	} `json:"kubernetes"`

	at          time.Time
	windowStart time.Time
	windowEnd   time.Time
}

func decode(ecs []byte) (*alert, error) {
	a := &alert{}
	if err := json.Unmarshal(ecs, a); err != nil {
		return nil, fmt.Errorf("not an alert: %w", err)
	}
	var err error
	if a.at, err = time.Parse(time.RFC3339Nano, a.Timestamp); err != nil {
		return nil, fmt.Errorf("not an alert: @timestamp: %w", err)
	}
	if a.Alert.ID == "" {
		return nil, errors.New("not an alert: no alert.id")
	}
	// The window is informative: an alert without one still renders.
	a.windowStart, _ = time.Parse(time.RFC3339Nano, a.Window.Start)
	a.windowEnd, _ = time.Parse(time.RFC3339Nano, a.Window.End)
	return a, nil
}

func (a *alert) user() string {
	if a.User == nil {
		return ""
	}
	return a.User.Name
}

// values is a fingerprint field: a string when the alert groups by it, or
// the list of values the window's events carried when group_by leaves it
// out.
type values struct {
	list    []string
	grouped bool
}

func (v *values) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = values{list: []string{s}, grouped: true}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("neither a string nor a list of strings: %s", b)
	}
	*v = values{list: l}
	return nil
}

// one is the value of a grouped field, "" otherwise.
func (v values) one() string {
	if v.grouped {
		return v.list[0]
	}
	return ""
}

func (a *alert) sourceIPs() values {
	if a.Source == nil {
		return values{}
	}
	return a.Source.IP
}

func (a *alert) sourceIP() string { return a.sourceIPs().one() }

func (a *alert) userAgents() values {
	if a.UserAgent == nil {
		return values{}
	}
	return a.UserAgent.Original
}

// userAgent is the fingerprint's user agent; false when the events carried
// none or the alert does not group by it.
func (a *alert) userAgent() (string, bool) {
	ua := a.userAgents()
	return ua.one(), ua.grouped
}

// shown is a field for a reader: the value, or the listed values.
func (v values) shown(max int) string {
	if v.grouped {
		return v.list[0]
	}
	return listed(v.list, max)
}

func (a *alert) impersonated() []string {
	if a.Kubernetes.Audit.ImpersonatedUser == nil {
		return nil
	}
	return a.Kubernetes.Audit.ImpersonatedUser.Username
}

// distinct is the number of distinct names, which the engine reports even
// when a cap kept fewer names than it counted.
func (a *alert) distinct() int {
	return max(a.Esql.Distinct, len(a.Esql.Names))
}

// window is the length of the alert's window ("6m0s"), or "" if unknown.
func (a *alert) window() string {
	if a.windowStart.IsZero() || a.windowEnd.Before(a.windowStart) {
		return ""
	}
	return a.windowEnd.Sub(a.windowStart).String()
}

// summary is the one-line description every message format starts with.
func (a *alert) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s read %d distinct secret%s", orNone(a.user()), a.distinct(), plural(a.distinct()))
	if n := len(a.Esql.Namespaces); n > 0 {
		fmt.Fprintf(&b, " in %d namespace%s", n, plural(n))
	}
	switch ips := a.sourceIPs(); {
	case ips.grouped || len(ips.list) == 1:
		fmt.Fprintf(&b, " from %s", ips.list[0])
	case len(ips.list) > 1:
		fmt.Fprintf(&b, " from %d addresses", len(ips.list))
	}
	if w := a.window(); w != "" {
		fmt.Fprintf(&b, " within %s", w)
	}
	if a.Alert.Type == "update" {
		b.WriteString(" (update)")
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// listed joins at most max values; the rest is counted.
func listed(values []string, max int) string {
	if len(values) <= max {
		return strings.Join(values, ", ")
	}
	return fmt.Sprintf("%s (and %d more)", strings.Join(values[:max], ", "), len(values)-max)
}

// cut shortens s to at most n bytes, on a rune boundary, marking the cut
// with "…". Counting bytes keeps every destination's character limit,
// whether it counts code points or UTF-16 units.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	end, suffix := n-len(mark), mark
	if end < 0 {
		end, suffix = max(n, 0), ""
	}
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + suffix
}
