package detect

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// The alert as ECS JSON: nested objects in a fixed order. Only names,
// namespaces and metadata appear: nothing of a request or response object
// is ever kept by the engine. encoding/json replaces invalid UTF-8 (an
// attacker's user agent) with U+FFFD and escapes HTML-special characters,
// so an alert is valid JSON for any receiver.
type ecsAlert struct {
	Timestamp  string        `json:"@timestamp"`
	User       *ecsUser      `json:"user,omitempty"`
	Source     *ecsSource    `json:"source,omitempty"`
	UserAgent  *ecsUserAgent `json:"user_agent,omitempty"`
	Esql       esqlColumns   `json:"Esql"`
	Rule       ecsRule       `json:"rule"`
	Window     ecsRange      `json:"window"`
	Event      ecsEvent      `json:"event"`
	Alert      ecsMeta       `json:"alert"`
	Related    ecsRelated    `json:"related"`
	Kubernetes ecsKubernetes `json:"kubernetes"`
}

type ecsUser struct {
	Name string `json:"name"`
}

// ecsSource and ecsUserAgent hold a string for a field of the fingerprint,
// and the list of values seen for a field group_by leaves out.
type ecsSource struct {
	IP any `json:"ip"`
}

type ecsUserAgent struct {
	Original any `json:"original"`
}

type ecsRule struct {
	Name        string        `json:"name"`
	ID          string        `json:"id"`
	Description string        `json:"description"`
	Severity    string        `json:"severity"`
	RiskScore   int           `json:"risk_score"`
	Version     int           `json:"version"`
	Reference   []string      `json:"reference"`
	Threat      []rule.Threat `json:"threat"`
}

type ecsRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type ecsEvent struct {
	Kind  string `json:"kind"`
	Start string `json:"start"`
	End   string `json:"end"`
	Count int    `json:"count"`
}

type ecsMeta struct {
	ID          string   `json:"id"`
	Type        string   `json:"type"`
	Mode        string   `json:"mode"`
	Fingerprint string   `json:"fingerprint"`
	Truncated   bool     `json:"truncated"`
	GroupBy     []string `json:"group_by,omitempty"`
}

type ecsRelated struct {
	IP   []string `json:"ip"`
	User []string `json:"user"`
}

type ecsKubernetes struct {
	Audit ecsAudit `json:"audit"`
}

type ecsAudit struct {
	ImpersonatedUser *ecsImpersonated `json:"impersonatedUser,omitempty"`
	AuditID          []string         `json:"auditID"`
}

type ecsImpersonated struct {
	Username []string `json:"username"`
}

// esqlColumns keeps the rule's column order, which a map would not.
type esqlColumns []ColumnValue

func (cols esqlColumns) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(c.Name)
		b.Write(name)
		b.WriteByte(':')
		var v any = c.Count
		if c.IsList {
			v = nonNil(c.Values)
		}
		value, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// ECS returns the alert in its ECS shape.
func (a *Alert) ecs() *ecsAlert {
	r := a.Rule
	e := &ecsAlert{
		Timestamp: FormatTime(a.Timestamp),
		Esql:      a.Columns,
		Rule: ecsRule{Name: r.Name, ID: r.ID, Description: r.Description, Severity: r.Severity,
			RiskScore: r.RiskScore, Version: r.Version, Reference: nonNil(r.References), Threat: r.Threat},
		Window: ecsRange{Start: FormatTime(a.WindowStart), End: FormatTime(a.WindowEnd)},
		Event:  ecsEvent{Kind: "alert", Start: FormatTime(a.EventStart), End: FormatTime(a.EventEnd), Count: a.EventCount},
		Alert: ecsMeta{ID: a.ID, Type: a.Type.String(), Mode: a.Mode.String(), Fingerprint: a.Fingerprint,
			Truncated: a.Truncated, GroupBy: a.GroupByNames},
		Related:    ecsRelated{IP: nonNil(a.RelatedIPs), User: relatedUsers(a)},
		Kubernetes: ecsKubernetes{Audit: ecsAudit{AuditID: nonNil(a.AuditIDs)}},
	}
	groups := a.GroupBy
	if groups == nil {
		groups = r.GroupBy
	}
	for _, g := range r.GroupBy {
		grouped := slices.Contains(groups, g)
		switch g {
		case rule.FieldUser:
			e.User = &ecsUser{a.User}
		case rule.FieldSourceIP:
			if grouped {
				e.Source = &ecsSource{a.SourceIP}
			} else {
				e.Source = &ecsSource{nonNil(a.SourceIPs)}
			}
		case rule.FieldUserAgent:
			switch {
			case grouped && a.HasUserAgent:
				e.UserAgent = &ecsUserAgent{a.UserAgent}
			case !grouped && len(a.UserAgents) > 0:
				e.UserAgent = &ecsUserAgent{a.UserAgents}
			}
		}
	}
	if len(a.ImpersonatedUsers) > 0 {
		e.Kubernetes.Audit.ImpersonatedUser = &ecsImpersonated{a.ImpersonatedUsers}
	}
	return e
}

// MarshalJSON writes the alert as ECS JSON.
func (a *Alert) MarshalJSON() ([]byte, error) { return json.Marshal(a.ecs()) }

func relatedUsers(a *Alert) []string {
	users := make([]string, 0, 1+len(a.ImpersonatedUsers))
	if a.User != "" {
		users = append(users, a.User)
	}
	return sortedUnique(append(users, a.ImpersonatedUsers...))
}

// nonNil makes an empty list [] rather than null: receivers iterate it.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
