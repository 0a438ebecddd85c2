package record

import (
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// flushPending emits the items held back.
func (d *Decoder) flushPending() {
	for i := 0; i < d.npending; i++ {
		d.emitRecord(&d.pending[i])
	}
	d.npending = 0
}

// emitRecord hands rec over as an Event when it is an audit event.
func (d *Decoder) emitRecord(rec *audit.Record) {
	if !rec.IsAuditEvent() {
		return
	}
	if !rec.Event(&d.ev, d.time) {
		d.counts.NoTime++
		return
	}
	d.counts.Events++
	d.emit(&d.ev)
}

// parseLine reads a RecordKey string with the JSON decoder. A string that
// does not start like a JSON object is another log's plain line: it is not
// parsed at all.
func (d *Decoder) parseLine(line []byte) {
	if !startsObject(line) {
		d.counts.NotAudit++
		return
	}
	if d.json == nil {
		d.json = audit.NewJSONParser()
	}
	var err error
	if d.prefilter {
		_, err = d.json.ParsePrefiltered(line, d.time, d.onJSON)
	} else {
		_, err = d.json.Parse(line, d.time, d.onJSON)
	}
	switch {
	case err == nil:
		d.counts.AuditRecords++
	case err == audit.ErrNotAudit:
		d.counts.NotAudit++
	default:
		d.counts.Malformed++
	}
}

// emitJSON is the JSON decoder's emit: it applies the NoTime rule.
func (d *Decoder) emitJSON(ev *audit.Event) {
	if ev.Time == 0 {
		d.counts.NoTime++
		return
	}
	d.counts.Events++
	d.emit(ev)
}

// startsObject reports whether s starts like a JSON object.
func startsObject(s []byte) bool {
	for _, c := range s {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}
