package record

import (
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// samePrefiltered reports whether got, what the decoder handed over for a
// RecordKey string with the prefilter, is what the rule needs of full, the
// string's full reading: the same events in order, each whole when it may
// match (a get of secrets), else at least its time, verb, auditID and
// stage (audit.JSONParser.ParseTimes) and nothing else, or whole.
func samePrefiltered(got, full []audit.Event) bool {
	if len(got) != len(full) {
		return false
	}
	for i, ev := range full {
		if sameEvents(got[i:i+1], full[i:i+1]) {
			continue
		}
		if ev.Verb == "get" && ev.Resource == "secrets" {
			return false
		}
		kept := audit.Event{Time: ev.Time, Verb: ev.Verb, AuditID: ev.AuditID, Stage: ev.Stage}
		if !sameEvents(got[i:i+1], []audit.Event{kept}) {
			return false
		}
	}
	return true
}
