// Package conventional is the baseline a Fluent Bit Go output plugin is
// usually written as: fluent-bit-go's output.NewDecoder and
// output.GetRecord decode every record into generic maps, and the fields
// the rule needs are then looked up in them. A record whose body holds the
// raw audit line under "log" is unmarshalled with encoding/json into a
// struct of the same fields. Nothing is filtered out before decoding: this
// is what the plugin's decoder is compared with.
package conventional

import (
	"encoding/json"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

// Event holds the fields the rule reads.
type Event struct {
	Time             time.Time
	Verb             string
	Resource         string
	Name             string
	Namespace        string
	User             string
	ImpersonatedUser string
	UserAgent        string
	Decision         string
	AuditID          string
	Stage            string
	SourceIPs        []string
}

// Counts is what Decode saw; SecretGets keeps the lookups from being
// optimised away.
type Counts struct {
	Records    int
	Events     int
	SecretGets int
}

// Decode decodes one flush payload the conventional way (C.GoBytes copy
// included, as in every fluent-bit-go plugin).
func Decode(data unsafe.Pointer, length int) Counts {
	var c Counts
	dec := output.NewDecoder(data, length)
	var ev Event
	for {
		ret, ts, rec := output.GetRecord(dec)
		if ret != 0 {
			break
		}
		c.Records++
		ok := false
		if _, isEvent := rec["verb"]; isEvent {
			ok = FromMap(rec, &ev)
		} else if line, isLog := rec["log"]; isLog {
			ok = FromJSON(bytesOf(line), &ev)
		}
		if !ok {
			continue
		}
		if ev.Time.IsZero() {
			if t, isTime := ts.(output.FLBTime); isTime {
				ev.Time = t.Time
			}
		}
		c.Events++
		if ev.Verb == "get" && ev.Resource == "secrets" {
			c.SecretGets++
		}
	}
	return c
}

// DecodeBytes is Decode for a Go slice.
func DecodeBytes(chunk []byte) Counts {
	if len(chunk) == 0 {
		return Counts{}
	}
	return Decode(unsafe.Pointer(&chunk[0]), len(chunk))
}

// FromMap looks the fields up in a generic map.
func FromMap(m map[interface{}]interface{}, ev *Event) bool {
	*ev = Event{
		Verb:      str(m["verb"]),
		UserAgent: str(m["userAgent"]),
		AuditID:   str(m["auditID"]),
		Stage:     str(m["stage"]),
	}
	if ref, ok := m["objectRef"].(map[interface{}]interface{}); ok {
		ev.Resource, ev.Name, ev.Namespace = str(ref["resource"]), str(ref["name"]), str(ref["namespace"])
	}
	if u, ok := m["user"].(map[interface{}]interface{}); ok {
		ev.User = str(u["username"])
	}
	if u, ok := m["impersonatedUser"].(map[interface{}]interface{}); ok {
		ev.ImpersonatedUser = str(u["username"])
	}
	if a, ok := m["annotations"].(map[interface{}]interface{}); ok {
		ev.Decision = str(a["authorization.k8s.io/decision"])
	}
	if ips, ok := m["sourceIPs"].([]interface{}); ok {
		ev.SourceIPs = make([]string, 0, len(ips))
		for _, ip := range ips {
			ev.SourceIPs = append(ev.SourceIPs, str(ip))
		}
	}
	ev.Time = eventTime(str(m["requestReceivedTimestamp"]), str(m["stageTimestamp"]), str(m["timestamp"]))
	return ev.Verb != ""
}

// stdEvent is the struct encoding/json fills.
type stdEvent struct {
	Verb      string   `json:"verb"`
	AuditID   string   `json:"auditID"`
	Stage     string   `json:"stage"`
	UserAgent string   `json:"userAgent"`
	SourceIPs []string `json:"sourceIPs"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
	Annotations              map[string]string `json:"annotations"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Timestamp                string            `json:"timestamp"`
}

// FromJSON unmarshals a raw audit line with encoding/json.
func FromJSON(line []byte, ev *Event) bool {
	var s stdEvent
	if json.Unmarshal(line, &s) != nil {
		return false
	}
	*ev = Event{Verb: s.Verb, Resource: s.ObjectRef.Resource, Name: s.ObjectRef.Name, Namespace: s.ObjectRef.Namespace,
		User: s.User.Username, ImpersonatedUser: s.ImpersonatedUser.Username, UserAgent: s.UserAgent,
		Decision: s.Annotations["authorization.k8s.io/decision"], AuditID: s.AuditID, Stage: s.Stage, SourceIPs: s.SourceIPs,
		Time: eventTime(s.RequestReceivedTimestamp, s.StageTimestamp, s.Timestamp)}
	return ev.Verb != ""
}

func eventTime(candidates ...string) time.Time {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, c); err == nil {
			return t
		}
	}
	return time.Time{}
}

// str converts a decoded value the way plugins do: fluent-bit-go hands
// strings over as []byte.
func str(v interface{}) string {
	switch s := v.(type) {
	case []byte:
		return string(s)
	case string:
		return s
	}
	return ""
}

func bytesOf(v interface{}) []byte {
	switch s := v.(type) {
	case []byte:
		return s
	case string:
		return []byte(s)
	}
	return nil
}
