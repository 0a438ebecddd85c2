package detect

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
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
	Rule *rule.Rule
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
	// GroupBy is the fingerprint's fields (nil: the rule's). For a field the
	// rule groups by and GroupBy leaves out, SourceIPs and UserAgents list
	// the distinct values of the window's events, sorted (a missing user
	// agent adds none); GroupByNames is then alert.group_by.
	GroupBy      []rule.Field
	GroupByNames []string
	SourceIPs    []string
	UserAgents   []string

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
func alertID(r *rule.Rule, fingerprint string, start, end int64) string {
	name := make([]byte, 0, len(fingerprint)+42)
	name = append(name, fingerprint...)
	name = strconv.AppendInt(append(name, '|'), start, 10)
	name = strconv.AppendInt(append(name, '|'), end, 10)
	return uuid.NewSHA1(uuid.MustParse(r.ID), name).String()
}

// fingerprintID is a short stable name for a fingerprint.
func fingerprintID(fingerprint string) string {
	sum := sha1.Sum([]byte(fingerprint))
	return hex.EncodeToString(sum[:10])
}
