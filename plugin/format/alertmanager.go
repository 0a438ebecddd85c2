package format

import (
	"strconv"
	"strings"
	"time"
)

// AlertName is the alertname label of every alert this plugin posts.
const AlertName = "K8sSecretEnumeration"

// amAlert is one element of Alertmanager API v2's postableAlerts. Label and
// annotation names match [a-zA-Z_][a-zA-Z0-9_]*, which Alertmanager accepts
// in every label-name mode (classic mode refuses dots and dashes, in
// annotation names too); empty values are left out, since Alertmanager
// drops empty labels and refuses an alert left with none.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Alertmanager's own time format (strfmt.DateTime): RFC 3339, milliseconds.
const amTime = "2006-01-02T15:04:05.000Z07:00"

func (f *Format) alertmanager(a *alert) amAlert {
	// Alertmanager identifies an alert by its label set: the labels are the
	// fingerprint (user, source IP, user agent) and the rule, so that a new
	// alert and its updates are one Alertmanager alert.
	labels := map[string]string{"alertname": AlertName}
	set(labels, "severity", a.Rule.Severity)
	set(labels, "rule_id", a.Rule.ID)
	set(labels, "user", a.user())
	set(labels, "source_ip", a.sourceIP())
	if ua, ok := a.userAgent(); ok {
		set(labels, "user_agent", ua)
	}
	set(labels, "fingerprint", a.Alert.Fingerprint)

	n := f.maxNames()
	ann := map[string]string{}
	set(ann, "summary", a.summary())
	set(ann, "description", a.Rule.Description)
	set(ann, "names", listed(a.Esql.Names, n))
	set(ann, "namespaces", listed(a.Esql.Namespaces, n))
	set(ann, "outcomes", strings.Join(a.Esql.Outcomes, ", "))
	ann["distinct_names"] = strconv.Itoa(a.distinct())
	ann["events"] = strconv.Itoa(a.Event.Count)
	set(ann, "window_start", a.Window.Start)
	set(ann, "window_end", a.Window.End)
	set(ann, "alert_id", a.Alert.ID)
	set(ann, "alert_type", a.Alert.Type)
	if a.Alert.Truncated {
		ann["truncated"] = "true"
	}
	set(ann, "impersonated_users", strings.Join(a.impersonated(), ", "))
	set(ann, "audit_ids", strings.Join(a.Kubernetes.Audit.AuditID, ", "))
	set(ann, "rule_name", a.Rule.Name)
	// Fields the alert does not group by (group_by) are lists: not labels,
	// which would split one fingerprint's alerts.
	if ips := a.sourceIPs(); !ips.grouped {
		set(ann, "source_ips", listed(ips.list, n))
	}
	if uas := a.userAgents(); !uas.grouped {
		set(ann, "user_agents", listed(uas.list, n))
	}
	if len(a.Rule.Reference) > 0 {
		ann["reference"] = a.Rule.Reference[0]
	}

	start := a.at.UTC().Truncate(time.Millisecond)
	return amAlert{
		Labels:       labels,
		Annotations:  ann,
		StartsAt:     start.Format(amTime),
		EndsAt:       start.Add(f.resolveAfter(a)).Format(amTime),
		GeneratorURL: f.GeneratorURL,
	}
}

// resolveAfter is how long an alert stays firing without news: until the
// next report could come (the mute period in stream mode, the next
// evaluation in schedule mode).
func (f *Format) resolveAfter(a *alert) time.Duration {
	d := f.Suppress
	if a.Alert.Mode == "schedule" {
		d = f.Interval
	}
	if d <= 0 {
		d = f.Window
	}
	if d < time.Second {
		d = 5 * time.Minute // Alertmanager's own resolve_timeout
	}
	return d
}

func set(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}
