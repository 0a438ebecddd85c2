package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/tinylib/msgp/msgp"
)

// sampleGet is a ~1 KB audit line of the API server's log backend.
const sampleGet = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0d1e0b4e-0d8a-4c41-9a52-3b7f0f4b1a11","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/secrets/db-password","verb":"get","user":{"username":"system:serviceaccount:ci:deployer","uid":"0a1b","groups":["system:serviceaccounts","system:serviceaccounts:ci","system:authenticated"],"extra":{"authentication.kubernetes.io/pod-name":["runner-7c9"]}},"sourceIPs":["10.244.1.17"],"userAgent":"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819","objectRef":{"resource":"secrets","namespace":"prod","name":"db-password","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z","stageTimestamp":"2026-11-25T10:00:00.130001Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"deployer\" of ClusterRole \"edit\""}}`

// A non-audit log line, as a container's log would be.
const otherLog = `{"level":"info","ts":"2026-11-25T10:00:00Z","msg":"reconciled","controller":"deployment","verb":"get"}`

// form selects the msgpack header forms the encoder writes.
type form int

const (
	formShort form = iota // the shortest form (fix* where it fits)
	form8                 // str8 for strings (maps and arrays have no 8 form: shortest)
	form16                // str16, array16, map16
	form32                // str32, array32, map32
)

// enc converts JSON to msgpack keeping the key order (and duplicate keys),
// as Fluent Bit's JSON parser does.
type enc struct {
	form    form
	binKeys bool // write map keys as bin
	binVals bool // write string values as bin
	// mix, when set, picks the form of every string and header from its
	// bits (rotated as they are used), so one document mixes them all.
	mix *uint64
}

func (e enc) pick() form {
	if e.mix == nil {
		return e.form
	}
	f := form(*e.mix & 3)
	*e.mix = *e.mix>>2 | *e.mix<<62
	return f
}

func (e enc) str(b []byte, s string, bin bool) []byte {
	f := e.pick()
	if bin {
		switch f {
		case form16:
			b = append(b, 0xc5, 0, 0)
			binary.BigEndian.PutUint16(b[len(b)-2:], uint16(len(s)))
			return append(b, s...)
		case form32:
			b = append(b, 0xc6, 0, 0, 0, 0)
			binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(s)))
			return append(b, s...)
		}
		return msgp.AppendBytes(b, []byte(s))
	}
	switch f {
	case form8:
		if len(s) < 256 {
			return append(append(b, 0xd9, byte(len(s))), s...)
		}
	case form16:
		b = append(b, 0xda, 0, 0)
		binary.BigEndian.PutUint16(b[len(b)-2:], uint16(len(s)))
		return append(b, s...)
	case form32:
		b = append(b, 0xdb, 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(s)))
		return append(b, s...)
	}
	return msgp.AppendString(b, s)
}

func (e enc) header(b []byte, n int, isMap bool) []byte {
	switch e.pick() {
	case form16:
		if isMap {
			b = append(b, 0xde, 0, 0)
		} else {
			b = append(b, 0xdc, 0, 0)
		}
		binary.BigEndian.PutUint16(b[len(b)-2:], uint16(n))
		return b
	case form32:
		if isMap {
			b = append(b, 0xdf, 0, 0, 0, 0)
		} else {
			b = append(b, 0xdd, 0, 0, 0, 0)
		}
		binary.BigEndian.PutUint32(b[len(b)-4:], uint32(n))
		return b
	}
	if isMap {
		return msgp.AppendMapHeader(b, uint32(n))
	}
	return msgp.AppendArrayHeader(b, uint32(n))
}

// fromJSON appends the msgpack form of a JSON document.
// t may be nil: an error then panics.
func (e enc) fromJSON(t testing.TB, b []byte, doc string) []byte {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	b, err := e.value(dec, b)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatalf("fromJSON: %v", err)
	}
	return b
}

func (e enc) value(dec *json.Decoder, b []byte) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		var inner []byte
		n := 0
		for dec.More() {
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				inner = e.str(inner, k.(string), e.binKeys)
			}
			if inner, err = e.value(dec, inner); err != nil {
				return nil, err
			}
			n++
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return append(e.header(b, n, v == '{'), inner...), nil
	case string:
		return e.str(b, v, e.binVals), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return msgp.AppendInt64(b, i), nil
		}
		f, _ := v.Float64()
		return msgp.AppendFloat64(b, f), nil
	case bool:
		return msgp.AppendBool(b, v), nil
	case nil:
		return msgp.AppendNil(b), nil
	}
	return nil, fmt.Errorf("token %T", tok)
}

// mp converts a JSON document with the shortest forms.
func mp(t testing.TB, doc string) []byte { return enc{}.fromJSON(t, nil, doc) }

// Timestamps.
func tsFixExt8(sec, nsec uint32) []byte {
	b := []byte{0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], sec)
	binary.BigEndian.PutUint32(b[6:], nsec)
	return b
}

func tsExt8(sec, nsec uint32) []byte {
	b := []byte{0xc7, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[3:], sec)
	binary.BigEndian.PutUint32(b[7:], nsec)
	return b
}

func tsUint(u uint64) []byte     { return msgp.AppendUint64(nil, u) }
func tsInt(i int64) []byte       { return msgp.AppendInt64(nil, i) }
func tsFloat(f float64) []byte   { return msgp.AppendFloat64(nil, f) }
func tsFloat32(f float32) []byte { return msgp.AppendFloat32(nil, f) }

// emptyMeta is Fluent Bit's usual metadata: an empty map.
var emptyMeta = []byte{0x80}

// v2 appends a Fluent Bit >= 2.1 record [[ts, meta], body].
func v2(b, ts, body []byte) []byte {
	b = append(b, 0x92, 0x92)
	b = append(b, ts...)
	b = append(b, emptyMeta...)
	return append(b, body...)
}

// v1 appends an older record [ts, body].
func v1(b, ts, body []byte) []byte {
	b = append(b, 0x92)
	b = append(b, ts...)
	return append(b, body...)
}

// v2x32 is v2 with array32 headers, as some Fluent Bit versions write them.
func v2x32(b, ts, body []byte) []byte {
	b = append(b, 0xdd, 0, 0, 0, 2, 0xdd, 0, 0, 0, 2)
	b = append(b, ts...)
	b = append(b, 0xdf, 0, 0, 0, 0)
	return append(b, body...)
}

// logBody is a body map {key: line}, as the tail input writes without a
// parser (plus the stream field of the cri parser).
func logBody(key, line string) []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "stream")
	b = msgp.AppendString(b, "stdout")
	b = msgp.AppendString(b, key)
	return msgp.AppendString(b, line)
}

// groupStart and groupEnd are group marker records (Fluent Bit >= 3.1).
func groupStart() []byte { return v2(nil, tsFixExt8(0xFFFFFFFF, 0), mp(nil, `{"resource":{"a":1}}`)) }
func groupEnd() []byte   { return v2(nil, tsFixExt8(0xFFFFFFFE, 0), []byte{0x80}) }

// eventList wraps docs in an audit.k8s.io EventList.
func eventList(docs ...string) string {
	return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(docs, ",") + `]}`
}

// collected is what a Decode call produced: copies of the events.
type collected struct {
	events []audit.Event
	counts Counts
}

func cloneEvent(ev *audit.Event) audit.Event {
	c := *ev
	c.Verb = strings.Clone(c.Verb)
	c.Resource = strings.Clone(c.Resource)
	c.Name = strings.Clone(c.Name)
	c.Namespace = strings.Clone(c.Namespace)
	c.User = strings.Clone(c.User)
	c.ImpersonatedUser = strings.Clone(c.ImpersonatedUser)
	c.UserAgent = strings.Clone(c.UserAgent)
	c.Decision = strings.Clone(c.Decision)
	c.AuditID = strings.Clone(c.AuditID)
	c.Stage = strings.Clone(c.Stage)
	c.SourceIPs = nil
	for _, ip := range ev.SourceIPs {
		c.SourceIPs = append(c.SourceIPs, strings.Clone(ip))
	}
	return c
}

func decodeAll(t testing.TB, opts Options, chunk []byte) collected {
	t.Helper()
	var out collected
	d := NewDecoder(opts)
	out.counts = d.Decode(chunk, func(ev *audit.Event) {
		out.events = append(out.events, cloneEvent(ev))
	})
	checkCounts(t, out.counts, uint64(len(out.events)))
	return out
}

// checkCounts asserts the invariants every Decode result holds.
func checkCounts(t testing.TB, c Counts, emitted uint64) {
	t.Helper()
	if c.Events != emitted {
		t.Fatalf("Events %d, but %d emitted", c.Events, emitted)
	}
	if sum := c.AuditRecords + c.GroupMarkers + c.NotAudit + c.Malformed + c.Truncated; sum != c.Records {
		t.Fatalf("outcomes add up to %d, Records %d: %+v", sum, c.Records, c)
	}
	if c.Truncated > 1 {
		t.Fatalf("Truncated %d > 1", c.Truncated)
	}
}

// jsonEvents is what audit.JSONParser makes of a document.
func jsonEvents(t testing.TB, doc string, recordTime int64) ([]audit.Event, error) {
	t.Helper()
	var out []audit.Event
	_, err := audit.NewJSONParser().Parse([]byte(doc), recordTime, func(ev *audit.Event) {
		out = append(out, cloneEvent(ev))
	})
	return out, err
}

func sameEvents(a, b []audit.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if len(x.SourceIPs) == 0 {
			x.SourceIPs = nil
		}
		if len(y.SourceIPs) == 0 {
			y.SourceIPs = nil
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// sampleDocs are the real audit samples in shared/reference (beside the
// repository), one document each; none when they are not there.
func sampleDocs(t testing.TB) []string {
	t.Helper()
	root := "../../../shared/reference/audit-samples"
	var docs []string
	files, _ := filepath.Glob(filepath.Join(root, "falco", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		docs = append(docs, buf.String())
	}
	if data, err := os.ReadFile(filepath.Join(root, "audit2rbac", "demo.log")); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			docs = append(docs, line)
		}
	}
	if len(docs) == 0 {
		t.Log("no audit samples under " + root + ": only the crafted documents are checked")
	}
	return docs
}

func mustTime(t testing.TB, s string) int64 {
	t.Helper()
	v, ok := audit.ParseTime(s)
	if !ok {
		t.Fatalf("bad time %q", s)
	}
	return v
}
