package rule

// A Rule is one detection of the family "one client touches many distinct
// things in a short window", written as data: which events it counts,
// what it counts distinct, how it groups, when it alerts, and what its
// alerts say. The engine has no knowledge of secrets; a sibling rule (say,
// distinct resource kinds listed by one client) is a new Rule value.
type Rule struct {
	Name        string
	ID          string
	Description string
	Severity    string
	RiskScore   int
	Version     int
	References  []string
	Threat      []Threat

	// Actions and Resources are the allowed event.action (verb) and
	// objectRef.resource values; an empty list allows any value.
	Actions   []string
	Resources []string

	// Distinct is the field counted distinct; events without it never
	// match (a null in an ES|QL WHERE drops the row).
	Distinct Field
	// GroupBy lists the fingerprint fields, a subset of user, source IP and
	// user agent. A missing user or source IP never matches; a missing user
	// agent is a value of its own (a null BY key is its own group). The
	// engine's group_by may group by fewer of them; the WHERE clause still
	// requires the user and the source IP the rule groups by.
	GroupBy []Field
	// Threshold is the default number of distinct values that alerts.
	Threshold int

	// Exclusions are the rule's allowlists, each settable by its key.
	Exclusions []Exclusion

	// Columns are the alert's Esql.* columns, in the rule's order.
	Columns []Column
}

// Field names an Event field a rule reads.
type Field uint8

const (
	FieldNone Field = iota
	FieldVerb
	FieldResource
	FieldName
	FieldNamespace
	FieldUser
	FieldSourceIP // the sourceIPs entry chosen by the source_ip setting
	FieldUserAgent
	FieldDecision
	FieldImpersonatedUser
)

// GroupName is the name of a fingerprint field in the group_by setting and
// in alert.group_by ("" for a field no rule groups by).
func (f Field) GroupName() string {
	switch f {
	case FieldUser:
		return "user"
	case FieldSourceIP:
		return "source_ip"
	case FieldUserAgent:
		return "user_agent"
	}
	return ""
}

// Match says how an exclusion compares values.
type Match uint8

const (
	// MatchExact compares whole strings, case-sensitively.
	MatchExact Match = iota + 1
	// MatchIP compares addresses (any spelling of an address matches) and
	// accepts CIDR prefixes.
	MatchIP
	// MatchLike is ES|QL LIKE: * any run, ? one character, whole string,
	// case-sensitive.
	MatchLike
)

// Exclusion drops matching events whose field matches one of its values.
type Exclusion struct {
	Setting string // configuration key, e.g. exclude_users
	Doc     string // the setting's one-line description
	Field   Field
	Match   Match
	Default []string
}

// Aggregate is how a column summarises the events of a group.
type Aggregate uint8

const (
	// CountDistinct counts distinct values (ES|QL count_distinct).
	CountDistinct Aggregate = iota + 1
	// Values lists distinct non-null values, sorted (ES|QL values()).
	Values
)

// Column is one Esql.* output column.
type Column struct {
	Name      string
	Aggregate Aggregate
	Field     Field
}

// Threat is a MITRE ATT&CK mapping, shaped as in Elastic's rule files.
type Threat struct {
	Framework string      `json:"framework"`
	Tactic    Reference   `json:"tactic"`
	Technique []Technique `json:"technique,omitempty"`
}

// Technique is an ATT&CK technique and its sub-techniques.
type Technique struct {
	Reference
	Subtechnique []Reference `json:"subtechnique,omitempty"`
}

// Reference is an ATT&CK entry.
type Reference struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Reference string `json:"reference"`
}

// RapidSecretGet is Elastic's "Kubernetes Rapid Secret GET Activity Against
// Multiple Objects" (rule_id b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c, version 1):
//
//	where event.action == "get" and kubernetes.audit.objectRef.resource == "secrets"
//	  and source.ip is not null and user.name is not null
//	  and not to_string(source.ip) in ("127.0.0.1", "::1")
//	  and not user.name in ("system:kube-controller-manager", "system:kube-scheduler")
//	  and not kubernetes.audit.objectRef.name like "sh.helm.release.*"
//	| stats count_distinct(objectRef.name), values(objectRef.name),
//	        values(objectRef.namespace), values(decision) by user.name, source.ip, user_agent.original
//	| where Esql.unique_credentials >= 3
var RapidSecretGet = &Rule{
	Name:        "Kubernetes Rapid Secret GET Activity Against Multiple Objects",
	ID:          "b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c",
	Description: "One client fingerprint (user, source IP, user agent) read several distinct Secrets in a short window: credential harvesting, RBAC probing or scripted secret spraying.",
	Severity:    "high",
	RiskScore:   73,
	Version:     1,
	References:  []string{"https://attack.mitre.org/techniques/T1552/007/"},
	Threat: []Threat{{
		Framework: "MITRE ATT&CK",
		Tactic:    Reference{ID: "TA0006", Name: "Credential Access", Reference: "https://attack.mitre.org/tactics/TA0006/"},
		Technique: []Technique{{
			Reference:    Reference{ID: "T1552", Name: "Unsecured Credentials", Reference: "https://attack.mitre.org/techniques/T1552/"},
			Subtechnique: []Reference{{ID: "T1552.007", Name: "Container API", Reference: "https://attack.mitre.org/techniques/T1552/007/"}},
		}},
	}},
	Actions:   []string{"get"},
	Resources: []string{"secrets"},
	Distinct:  FieldName,
	GroupBy:   []Field{FieldUser, FieldSourceIP, FieldUserAgent},
	Threshold: 3,
	Exclusions: []Exclusion{
		{Setting: "exclude_users", Field: FieldUser, Match: MatchExact,
			Doc:     "users never counted (exact match)",
			Default: []string{"system:kube-controller-manager", "system:kube-scheduler"}},
		{Setting: "exclude_source_ips", Field: FieldSourceIP, Match: MatchIP,
			Doc:     "addresses or CIDR prefixes never counted (`::1`, `0:0:0:0:0:0:0:1` and `::ffff:127.0.0.1` are one loopback)",
			Default: []string{"127.0.0.1", "::1"}},
		{Setting: "exclude_names", Field: FieldName, Match: MatchLike,
			Doc:     "secret-name patterns never counted (ES\\|QL `LIKE`: `*` any run, `?` one character, `\\` escapes, case-sensitive)",
			Default: []string{"sh.helm.release.*"}},
	},
	Columns: []Column{
		{Name: "unique_credentials", Aggregate: CountDistinct, Field: FieldName},
		{Name: "secrets_names", Aggregate: Values, Field: FieldName},
		{Name: "namespaces", Aggregate: Values, Field: FieldNamespace},
		{Name: "outcome", Aggregate: Values, Field: FieldDecision},
	},
}
