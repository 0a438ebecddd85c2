package detect

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"

	jsoniter "github.com/json-iterator/go"
)

// AlertType tells a first report from a follow-up on the same activity.
type AlertType uint8

const (
	AlertNew AlertType = iota + 1
	AlertUpdate
)

func (t AlertType) String() string {
	if t == AlertUpdate {
		return "update"
	}
	return "new"
}

// Alert describes the matching events of one fingerprint in one window.
// It mirrors the rule's output columns, shaped as ECS: see MarshalJSON.
type Alert struct {
	Rule *Rule
	ID   string
	Type AlertType
	Mode Mode

	// Timestamp is when the alert is stamped: the crossing event's time,
	// the end of a suppression period (updates) or the evaluation time
	// (schedule). Window is [WindowStart, WindowEnd], closed.
	Timestamp   int64
	WindowStart int64
	WindowEnd   int64

	// Fingerprint. HasUserAgent is false when the events carried none.
	User         string
	SourceIP     string
	UserAgent    string
	HasUserAgent bool

	// Columns in the rule's order.
	Columns []ColumnValue

	// Matching events in the window.
	EventStart int64
	EventEnd   int64
	EventCount int

	RelatedIPs        []string
	ImpersonatedUsers []string
	AuditIDs          []string

	// Truncated is set when a cap dropped some of the fingerprint's
	// activity in this window (max_names_per_fingerprint, or repeated reads
	// coalesced under the per-fingerprint record cap): the names listed
	// are then a subset.
	Truncated bool
	// Fingerprint identifies the (user, source IP, user agent) group across
	// its new and update alerts.
	Fingerprint string
}

// ColumnValue is one Esql.* column: a count, or sorted distinct values.
type ColumnValue struct {
	Name   string
	Count  int
	Values []string
	IsList bool
}

// maxAuditIDs bounds the auditIDs listed for pivoting.
const maxAuditIDs = 5

// FormatTime prints Unix nanoseconds as RFC 3339 in UTC with nine
// fractional digits: exact (window boundaries are nanosecond values) and
// sortable as text.
func FormatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// alertID is a UUID (version 5, in the rule's namespace) of the fingerprint
// and the window, so that two replicas that see the same events name the
// same alert and a receiver can deduplicate retried deliveries.
func alertID(rule *Rule, fingerprint string, start, end int64) string {
	ns := parseUUID(rule.ID)
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(fingerprint))
	var buf [40]byte
	h.Write(strconv.AppendInt(append(buf[:0], '|'), start, 10))
	h.Write(strconv.AppendInt(append(buf[:0], '|'), end, 10))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// fingerprintID is a short stable name for a fingerprint.
func fingerprintID(fingerprint string) string {
	sum := sha1.Sum([]byte(fingerprint))
	return hex.EncodeToString(sum[:10])
}

func parseUUID(s string) (u [16]byte) {
	j := 0
	for i := 0; i+1 < len(s) && j < 16; i++ {
		if s[i] == '-' {
			continue
		}
		b, err := hex.DecodeString(s[i : i+2])
		if err != nil {
			return u
		}
		u[j] = b[0]
		j++
		i++
	}
	return u
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// MarshalJSON writes the alert as nested ECS objects, in a fixed key
// order. Only names, namespaces and metadata appear: nothing of a request
// or response object is ever kept by the engine.
func (a *Alert) MarshalJSON() ([]byte, error) {
	s := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowStream(nil)
	defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnStream(s)
	a.write(s)
	if s.Error != nil {
		return nil, s.Error
	}
	return append([]byte(nil), s.Buffer()...), nil
}

func (a *Alert) write(s *jsoniter.Stream) {
	r := a.Rule
	s.WriteObjectStart()
	field(s, "@timestamp", true)
	writeString(s, FormatTime(a.Timestamp))
	for _, g := range r.GroupBy {
		switch g {
		case FieldUser:
			nested(s, "user", "name", a.User)
		case FieldSourceIP:
			nested(s, "source", "ip", a.SourceIP)
		case FieldUserAgent:
			if a.HasUserAgent {
				nested(s, "user_agent", "original", a.UserAgent)
			}
		}
	}

	field(s, "Esql", false)
	s.WriteObjectStart()
	for i, c := range a.Columns {
		field(s, c.Name, i == 0)
		if c.IsList {
			stringList(s, c.Values)
		} else {
			s.WriteInt(c.Count)
		}
	}
	s.WriteObjectEnd()

	field(s, "rule", false)
	s.WriteObjectStart()
	field(s, "name", true)
	writeString(s, r.Name)
	field(s, "id", false)
	writeString(s, r.ID)
	field(s, "description", false)
	writeString(s, r.Description)
	field(s, "severity", false)
	writeString(s, r.Severity)
	field(s, "risk_score", false)
	s.WriteInt(r.RiskScore)
	field(s, "version", false)
	s.WriteInt(r.Version)
	field(s, "reference", false)
	stringList(s, r.References)
	field(s, "threat", false)
	s.WriteVal(r.Threat)
	s.WriteObjectEnd()

	field(s, "window", false)
	s.WriteObjectStart()
	field(s, "start", true)
	writeString(s, FormatTime(a.WindowStart))
	field(s, "end", false)
	writeString(s, FormatTime(a.WindowEnd))
	s.WriteObjectEnd()

	field(s, "event", false)
	s.WriteObjectStart()
	field(s, "kind", true)
	writeString(s, "alert")
	field(s, "start", false)
	writeString(s, FormatTime(a.EventStart))
	field(s, "end", false)
	writeString(s, FormatTime(a.EventEnd))
	field(s, "count", false)
	s.WriteInt(a.EventCount)
	s.WriteObjectEnd()

	field(s, "alert", false)
	s.WriteObjectStart()
	field(s, "id", true)
	writeString(s, a.ID)
	field(s, "type", false)
	writeString(s, a.Type.String())
	field(s, "mode", false)
	writeString(s, a.Mode.String())
	field(s, "fingerprint", false)
	writeString(s, a.Fingerprint)
	field(s, "truncated", false)
	s.WriteBool(a.Truncated)
	s.WriteObjectEnd()

	field(s, "related", false)
	s.WriteObjectStart()
	field(s, "ip", true)
	stringList(s, a.RelatedIPs)
	field(s, "user", false)
	stringList(s, relatedUsers(a))
	s.WriteObjectEnd()

	field(s, "kubernetes", false)
	s.WriteObjectStart()
	field(s, "audit", true)
	s.WriteObjectStart()
	first := true
	if len(a.ImpersonatedUsers) > 0 {
		field(s, "impersonatedUser", true)
		s.WriteObjectStart()
		field(s, "username", true)
		stringList(s, a.ImpersonatedUsers)
		s.WriteObjectEnd()
		first = false
	}
	field(s, "auditID", first)
	stringList(s, a.AuditIDs)
	s.WriteObjectEnd()
	s.WriteObjectEnd()

	s.WriteObjectEnd()
}

func relatedUsers(a *Alert) []string {
	users := make([]string, 0, 1+len(a.ImpersonatedUsers))
	if a.User != "" {
		users = append(users, a.User)
	}
	return sortedUnique(append(users, a.ImpersonatedUsers...))
}

// writeString writes a JSON string with json-iterator's checking writer:
// invalid UTF-8 (an attacker's user agent) becomes U+FFFD and HTML-special
// characters are escaped, so an alert is always valid JSON for any receiver.
func writeString(s *jsoniter.Stream, v string) { s.WriteStringWithHTMLEscaped(v) }

func field(s *jsoniter.Stream, name string, first bool) {
	if !first {
		s.WriteMore()
	}
	s.WriteObjectField(name)
}

func nested(s *jsoniter.Stream, name, key, value string) {
	field(s, name, false)
	s.WriteObjectStart()
	field(s, key, true)
	writeString(s, value)
	s.WriteObjectEnd()
}

func stringList(s *jsoniter.Stream, values []string) {
	s.WriteArrayStart()
	for i, v := range values {
		if i > 0 {
			s.WriteMore()
		}
		writeString(s, v)
	}
	s.WriteArrayEnd()
}
