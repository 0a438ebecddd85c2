package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"unicode/utf8"
)

// emit applies max_alerts in stream mode (per interval of event time) and
// hands the alert over.
func (e *Engine) emit(a *Alert) {
	if e.set.Mode == ModeStream {
		bucket := floorDiv(a.Timestamp, e.interval)
		if e.streamAlerts[bucket] >= e.set.MaxAlerts {
			e.stats.AlertsCut++
			e.cut(bucket*e.interval, 1)
			return
		}
		e.streamAlerts[bucket]++
		if len(e.streamAlerts) > 8 {
			for b := range e.streamAlerts {
				if b < bucket-4 {
					delete(e.streamAlerts, b)
				}
			}
		}
	}
	if a.Type == AlertUpdate {
		e.stats.AlertsUpdate++
	} else {
		e.stats.AlertsNew++
	}
	e.alerts = append(e.alerts, a)
}

func (e *Engine) cut(intervalStart int64, n int) {
	if k := len(e.cuts); k > 0 && e.cuts[k-1].IntervalStart == intervalStart {
		e.cuts[k-1].Alerts += n
		return
	}
	e.cuts = append(e.cuts, Cut{intervalStart, n})
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// recordCap bounds the records a fingerprint keeps for the values it
// holds: four per value (a request's two stages and a repeat) and a few
// dozen more, so that a client re-reading the same secret all day costs a
// handful of records, not one per read. Past it, repeats are coalesced.
func recordCap(values int) int { return 4*values + 64 }

// maxValueLen bounds a value the engine keeps. Names, users and user
// agents come from request paths and headers a client controls: kept
// whole, one request could make an alert too large to deliver.
const maxValueLen = 1024

// bounded returns a value of at most maxValueLen bytes: a longer one is cut
// (at a character boundary) and ends with a digest of the whole value, so
// that distinct values stay distinct.
func bounded(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	h := sha256.New()
	io.WriteString(h, s)
	digest := hex.EncodeToString(h.Sum(nil)[:16])
	cut := maxValueLen - len(digest) - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…" + digest
}
