package format

import (
	"fmt"
	"strings"
)

// FalcoSource is the event source of Falco's Kubernetes audit plugin.
const FalcoSource = "k8s_audit"

// falcoValue bounds every string field: falcosidekick cuts strings longer
// than 512 characters (to 507 and "[...]") when an event exceeds 4096
// bytes, which would split a list in the middle.
const falcoValue = 500

// falcoEvent is Falco's JSON output (json_output: true), the payload
// falcosidekick takes on POST /: it requires a known priority, a rule, a
// time with a zone and at least one output field, and reads one event
// per request.
type falcoEvent struct {
	UUID         string         `json:"uuid"`
	Output       string         `json:"output"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Time         string         `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Hostname     string         `json:"hostname,omitempty"`
}

// FalcoPriority maps the rule's severity onto Falco's priorities (which
// falcosidekick's minimumpriority settings filter on).
func FalcoPriority(severity string) string {
	switch strings.ToLower(severity) {
	case "critical":
		return "Critical"
	case "high":
		return "Error"
	case "low":
		return "Notice"
	}
	return "Warning"
}

func (f *Format) falco(a *alert) falcoEvent {
	n := f.maxNames()
	names := cut(listed(a.Esql.Names, n), falcoValue)
	namespaces := cut(listed(a.Esql.Namespaces, n), falcoValue)
	priority := FalcoPriority(a.Rule.Severity)
	ips, uas := a.sourceIPs(), a.userAgents()
	ua := uas.shown(n)

	// Field names follow the k8saudit plugin's (ka.*) where they mean the
	// same thing, so falcosidekick templates written for Falco's own
	// Kubernetes rules work; the rest is ours (secret_enum.*). Values are
	// strings, lists of strings, numbers or booleans.
	fields := map[string]any{
		"ka.user.name":          cut(a.user(), falcoValue),
		"ka.verb":               "get",
		"ka.target.resource":    "secrets",
		"ka.target.name":        names,
		"ka.target.namespace":   namespaces,
		"ka.auth.decision":      strings.Join(a.Esql.Outcomes, ","),
		"secret_enum.alert_id":  a.Alert.ID,
		"secret_enum.type":      a.Alert.Type,
		"secret_enum.mode":      a.Alert.Mode,
		"secret_enum.distinct":  a.distinct(),
		"secret_enum.events":    a.Event.Count,
		"secret_enum.rule_id":   a.Rule.ID,
		"secret_enum.truncated": a.Alert.Truncated,
	}
	if len(ips.list) > 0 {
		fields["ka.sourceips"] = ips.list[:min(len(ips.list), n)]
	}
	if len(uas.list) > 0 {
		fields["ka.useragent"] = cut(ua, falcoValue)
	}
	if imp := a.impersonated(); len(imp) > 0 {
		fields["ka.impuser.name"] = cut(strings.Join(imp, ","), falcoValue)
	}
	if fp := a.Alert.Fingerprint; fp != "" {
		fields["secret_enum.fingerprint"] = fp
	}
	if a.Window.Start != "" {
		fields["secret_enum.window_start"] = a.Window.Start
		fields["secret_enum.window_end"] = a.Window.End
	}

	// Falco's output line: "<time>: <Priority> <message>".
	msg := fmt.Sprintf("Kubernetes secret enumeration (user=%s source=%s useragent=%s distinct=%d ns=%s names=%s)",
		cut(a.user(), 100), cut(orNone(ips.shown(n)), 100), cut(orNone(ua), 100), a.distinct(), cut(namespaces, 100), cut(names, 150))
	return falcoEvent{
		UUID:         a.Alert.ID,
		Output:       a.Timestamp + ": " + priority + " " + msg,
		Priority:     priority,
		Rule:         a.Rule.Name,
		Time:         a.Timestamp,
		OutputFields: fields,
		Source:       FalcoSource,
		Tags:         a.tags(),
		Hostname:     f.Host,
	}
}

// tags follow Falco's rule tags: the domain, then the MITRE tactic
// (mitre_credential_access) and technique ids.
func (a *alert) tags() []string {
	tags := []string{"k8s", "secrets"}
	for _, t := range a.Rule.Threat {
		if t.Tactic.Name != "" {
			tags = append(tags, "mitre_"+strings.ReplaceAll(strings.ToLower(t.Tactic.Name), " ", "_"))
		}
		for _, tech := range t.Technique {
			if len(tech.Subtechnique) == 0 && tech.ID != "" {
				tags = append(tags, tech.ID)
			}
			for _, s := range tech.Subtechnique {
				tags = append(tags, s.ID)
			}
		}
	}
	return tags
}
