package e2e

// Adversarial records through the whole plugin (C host): every chunk mixes a
// genuine harvest with hostile records. For each case: the host is not
// killed by a signal, every flush returns 1 (FLB_OK), the hostile records
// are counted in the stats line under the reason the package documentation
// of plugin/record gives, and the harvest in the same chunk still alerts.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

const advUser = "system:serviceaccount:ci:harvester"

// ---- a tiny msgpack builder for hostile bodies ----

// mpRaw is already encoded msgpack, written as is.
type mpRaw []byte

// mpKV is one map entry; a slice keeps order and duplicates.
type mpKV struct {
	k string
	v any
}

func mpAppend(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return msgp.AppendNil(b)
	case mpRaw:
		return append(b, x...)
	case string:
		return msgp.AppendString(b, x)
	case []byte:
		// A str holding arbitrary bytes (invalid UTF-8 included).
		return msgp.AppendStringFromBytes(b, x)
	case int:
		return msgp.AppendInt64(b, int64(x))
	case int64:
		return msgp.AppendInt64(b, x)
	case uint64:
		return msgp.AppendUint64(b, x)
	case float64:
		return msgp.AppendFloat64(b, x)
	case bool:
		return msgp.AppendBool(b, x)
	case []string:
		b = msgp.AppendArrayHeader(b, uint32(len(x)))
		for _, s := range x {
			b = msgp.AppendString(b, s)
		}
		return b
	case []any:
		b = msgp.AppendArrayHeader(b, uint32(len(x)))
		for _, e := range x {
			b = mpAppend(b, e)
		}
		return b
	case []mpKV:
		b = msgp.AppendMapHeader(b, uint32(len(x)))
		for _, kv := range x {
			b = msgp.AppendString(b, kv.k)
			b = mpAppend(b, kv.v)
		}
		return b
	}
	panic(fmt.Sprintf("mpAppend: %T", v))
}

func mp(kvs ...mpKV) []byte { return mpAppend(nil, kvs) }

// auditKVs is a get-secret audit event as msgpack entries (no timestamps
// unless ts is set).
func auditKVs(user, name, ua, ip string, ts time.Time) []mpKV {
	kvs := []mpKV{
		{"kind", "Event"}, {"apiVersion", "audit.k8s.io/v1"}, {"level", "Metadata"},
		{"auditID", "11111111-2222-4333-8444-555555555555"}, {"stage", "ResponseComplete"},
		{"verb", "get"},
		{"user", []mpKV{{"username", user}}},
		{"sourceIPs", []string{ip}},
		{"userAgent", ua},
		{"objectRef", []mpKV{{"resource", "secrets"}, {"namespace", "prod"}, {"name", name}}},
	}
	if !ts.IsZero() {
		s := ts.UTC().Format("2006-01-02T15:04:05.000000Z")
		kvs = append(kvs, mpKV{"requestReceivedTimestamp", s}, mpKV{"stageTimestamp", s})
	}
	return kvs
}

// deepArrays is n nested one-element arrays around a nil.
func deepArrays(n int) mpRaw {
	b := bytes.Repeat([]byte{0x91}, n)
	return append(b, 0xc0)
}

// deepMaps is n nested one-entry maps {"x": {"x": ... nil}}.
func deepMaps(n int) mpRaw {
	b := bytes.Repeat([]byte{0x81, 0xa1, 'x'}, n)
	return append(b, 0xc0)
}

// ---- the harvest and the runner ----

type advHarvest struct {
	at    time.Time
	names []string
	recs  [][]byte // one record per read, ParsedMap
}

func newAdvHarvest(t *testing.T, shape chunk.Shape) advHarvest {
	h := advHarvest{at: nowBase(), names: []string{"db-password", "api-token", "registry-creds"}}
	for _, l := range lines(harvestEvs(advUser, h.at, h.names...)...) {
		h.recs = append(h.recs, record(t, l, shape, h.at))
	}
	return h
}

// interleave puts the bad records before, between and after the reads.
func (h advHarvest) interleave(bad ...[]byte) []byte {
	var b []byte
	for _, r := range h.recs {
		b = append(b, concat(bad...)...)
		b = append(b, r...)
	}
	return append(b, concat(bad...)...)
}

type advResult struct {
	res   host.Result
	r     *receiver.Receiver
	stats stats
}

// runAdv runs chunks through one instance and checks the invariants every
// case shares: no signal, exit 0, every flush rc=1, valid bodies.
func runAdv(t *testing.T, chunks [][]byte, kv ...string) advResult {
	t.Helper()
	a := runAdvBodies(t, chunks, kv...)
	wantValidBodies(t, a.r)
	return a
}

// runAdvBodies is runAdv without the check of the request bodies.
func runAdvBodies(t *testing.T, chunks [][]byte, kv ...string) advResult {
	t.Helper()
	r := startReceiver(t)
	start := time.Now()
	res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL(), kv...), Chunks: chunks}}})
	wantOK(t, res)
	if len(res.Flushes) != len(chunks) {
		t.Fatalf("%d flushes for %d chunks\n%s", len(res.Flushes), len(chunks), res.Stdout)
	}
	st := lastStats(t, res.Stderr, 0)
	t.Logf("%d chunk(s) in %v: %v", len(chunks), time.Since(start).Round(time.Millisecond), st)
	return advResult{res, r, st}
}

// wantHarvest checks that the harvest alerted once, with its names.
func (a advResult) wantHarvest(t *testing.T, h advHarvest) {
	t.Helper()
	got := alertsOf(a.r.Alerts(), advUser)
	if len(got) != 1 || !hasNames(got[0], h.names...) {
		t.Errorf("harvest: want one alert naming %v, got %d: %+v\nstderr:\n%s", h.names, len(got), summarize(got), tail(a.res.Stderr, 3000))
	}
}

// want checks counters of the stats line.
func (a advResult) want(t *testing.T, kv map[string]int64) {
	t.Helper()
	for k, v := range kv {
		if a.stats[k] != v {
			t.Errorf("stats %s = %d, want %d (%v)", k, a.stats[k], v, a.stats)
		}
	}
}

// TestReliabilityAdversarialNesting: deeply nested JSON in a log string and
// deeply nested msgpack (100 000 levels) anywhere in a record cost that
// record (malformed, or not_audit when it is no audit document at all),
// never the process, the flush, or the harvest around it.
func TestReliabilityAdversarialNesting(t *testing.T) {
	const depth = 100000
	h := newAdvHarvest(t, chunk.ParsedMap)
	ts := h.at
	deepObjJSON := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	deepArrJSON := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	evJSON := string(ev{at: at(ts), name: "other", user: "someone-else"}.json())
	deepInEvent := strings.TrimSuffix(evJSON, "}") + `,"requestObject":` + deepObjJSON + "}"

	// V2 record whose metadata map nests deep: [[time, deep], body].
	deepMeta := chunk.AppendArrayHeader(nil, 2, chunk.WidthMin)
	deepMeta = chunk.AppendArrayHeader(deepMeta, 2, chunk.WidthMin)
	deepMeta = chunk.AppendTimestamp(deepMeta, ts, chunk.TimeFixExt8)
	deepMeta = append(deepMeta, mpRaw(bytes.Repeat([]byte{0x81, 0xa1, 'x'}, depth))...)
	deepMeta = append(deepMeta, 0x80) // innermost value: an empty map
	deepMeta = append(deepMeta, mp(auditKVs("someone-else", "other", "curl/8", "10.9.9.9", ts)...)...)

	// A record whose timestamp is a deeply nested array: not a time, the
	// record is read without one (its body is no audit event: not_audit).
	deepTime := chunk.AppendArrayHeader(nil, 2, chunk.WidthMin)
	deepTime = chunk.AppendArrayHeader(deepTime, 2, chunk.WidthMin)
	deepTime = append(deepTime, deepArrays(depth)...)
	deepTime = append(deepTime, 0x80)
	deepTime = append(deepTime, mp(mpKV{"msg", "hello"})...)

	cases := []struct {
		name string
		bad  []byte
		want map[string]int64
	}{
		{"json-log-object", rawRecord(mp(mpKV{"log", deepObjJSON}), ts), map[string]int64{"malformed": 4}},
		{"json-log-array", rawRecord(mp(mpKV{"log", deepArrJSON}), ts), map[string]int64{"not_audit": 4}},
		{"json-log-event-with-deep-requestObject", rawRecord(mp(mpKV{"log", deepInEvent}), ts), map[string]int64{"malformed": 4}},
		{"msgpack-unknown-key", rawRecord(mp(append(auditKVs("someone-else", "other", "curl/8", "10.9.9.9", ts), mpKV{"x", deepArrays(depth)})...), ts), map[string]int64{"malformed": 4}},
		{"msgpack-in-objectRef", rawRecord(mp(mpKV{"verb", "get"}, mpKV{"kind", "Event"}, mpKV{"objectRef", deepMaps(depth)}), ts), map[string]int64{"malformed": 4}},
		{"msgpack-in-user", rawRecord(mp(mpKV{"verb", "get"}, mpKV{"kind", "Event"}, mpKV{"user", mpRaw(append(bytes.Repeat([]byte{0x81, 0xa8, 'u', 's', 'e', 'r', 'n', 'a', 'm', 'e'}, depth), 0xc0))}), ts), map[string]int64{"malformed": 4}},
		{"msgpack-in-items", rawRecord(mp(mpKV{"kind", "EventList"}, mpKV{"items", []any{deepArrays(depth)}}), ts), map[string]int64{"malformed": 4}},
		{"msgpack-in-sourceIPs", rawRecord(mp(mpKV{"verb", "get"}, mpKV{"kind", "Event"}, mpKV{"sourceIPs", deepArrays(depth)}), ts), map[string]int64{"malformed": 4}},
		{"msgpack-metadata", deepMeta, map[string]int64{"malformed": 4}},
		{"msgpack-whole-record", []byte(deepArrays(depth)), map[string]int64{"malformed": 4}},
		{"msgpack-timestamp", deepTime, map[string]int64{"not_audit": 4, "malformed": 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := runAdv(t, [][]byte{h.interleave(c.bad)})
			a.want(t, c.want)
			a.want(t, map[string]int64{"audit_events": 3, "records": 7, "truncated": 0})
			a.wantHarvest(t, h)
		})
	}
}

// TestReliabilityAdversarial64MB: records of 64 MB in both body shapes
// (parsed map and raw line under "log"): a genuine read whose response
// object is 64 MB counts like any read, a 64 MB record that is no audit
// event is skipped as not_audit, a 64 MB line that starts like JSON but is
// cut is malformed.
func TestReliabilityAdversarial64MB(t *testing.T) {
	const size = 64 << 20
	blob := strings.Repeat("x", size)
	for _, shape := range []chunk.Shape{chunk.ParsedMap, chunk.LogString} {
		t.Run(shape.String(), func(t *testing.T) {
			h := newAdvHarvest(t, shape)
			// The middle read carries a 64 MB responseObject (built
			// directly: a JSON round trip of 64 MB costs seconds).
			e := harvestEvs(advUser, h.at, h.names...)[1]
			if shape == chunk.ParsedMap {
				kvs := auditKVs(advUser, e.name, "curl/8.5.0", "10.244.3.17", base.Add(e.at))
				kvs = append(kvs, mpKV{"level", "RequestResponse"},
					mpKV{"responseObject", []mpKV{{"kind", "Secret"}, {"data", []mpKV{{"k", blob}}}}})
				h.recs[1] = rawRecord(mp(kvs...), h.at)
			} else {
				l := strings.TrimSuffix(string(e.json()), "}") + `,"level":"RequestResponse","responseObject":{"kind":"Secret","data":{"k":"` + blob + `"}}}`
				h.recs[1] = rawRecord(mp(mpKV{"log", l}), h.at)
			}
			if len(h.recs[1]) < size {
				t.Fatalf("record of %d bytes", len(h.recs[1]))
			}
			var notAudit []byte
			if shape == chunk.ParsedMap {
				notAudit = rawRecord(mp(mpKV{"blob", blob}, mpKV{"verb", 42}), h.at)
			} else {
				notAudit = rawRecord(mp(mpKV{"log", blob}), h.at)
			}
			cut := rawRecord(mp(mpKV{"log", `{"kind":"Event","verb":"get","requestObject":"` + blob}), h.at)
			chunks := [][]byte{
				concat(h.recs[0], notAudit),
				concat(h.recs[1], cut),
				h.recs[2],
			}
			a := runAdv(t, chunks)
			a.want(t, map[string]int64{"records": 5, "audit_events": 3, "not_audit": 1, "malformed": 1, "truncated": 0, "matching": 3})
			a.wantHarvest(t, h)
		})
	}
}

// invalidUTF8 replaces the placeholders in s with invalid UTF-8 bytes.
var invalidUTF8 = strings.NewReplacer(
	"@FF@", "\xff", "@FE@", "\xfe", "@C3@", "\xc3", "@SURR@", "\xed\xa0\x80", "@LONG@", "\xc0\xaf")

// TestReliabilityAdversarialInvalidUTF8: names, namespaces, the user and
// the user agent holding invalid UTF-8 (raw msgpack strings, and raw bytes
// inside the JSON line under "log"): the harvest alerts, and the request
// body is valid JSON, which RFC 8259 requires to be UTF-8 (a strict SIEM
// refuses the whole batch otherwise).
func TestReliabilityAdversarialInvalidUTF8(t *testing.T) {
	names := []string{"db-@FF@password", "api-@C3@(token", "reg@SURR@creds"}
	user := "system:serviceaccount:ci:harv@FE@ester"
	ua := "curl/8.5.0 @FF@@FE@ @LONG@"
	for _, shape := range []chunk.Shape{chunk.ParsedMap, chunk.LogString} {
		t.Run(shape.String(), func(t *testing.T) {
			x := nowBase()
			var chunkb []byte
			for i, n := range names {
				e := ev{at: at(x.Add(time.Duration(i) * time.Second)), name: n, user: user, ua: ua, namespace: "ns-@FF@"}
				l := []byte(invalidUTF8.Replace(string(e.json())))
				if shape == chunk.ParsedMap {
					// chunk's converter keeps string bytes as they are.
					chunkb = append(chunkb, record(t, l, shape, x)...)
				} else {
					chunkb = append(chunkb, rawRecord(mp(mpKV{"log", l}), x)...)
				}
			}
			a := runAdvBodies(t, [][]byte{chunkb})
			a.want(t, map[string]int64{"audit_events": 3, "matching": 3, "malformed": 0, "not_audit": 0})
			alerts := a.r.Alerts()
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1\nstderr:\n%s", len(alerts), tail(a.res.Stderr, 3000))
			}
			if n, _ := alerts[0].Get("Esql.unique_credentials"); n != 3.0 {
				t.Errorf("unique_credentials %v, want 3", n)
			}
			if bad := invalidBodies(a.r); len(bad) > 0 {
				bugf(t, "an alert carrying invalid UTF-8 from the audit log is sent as is: the body is not JSON (RFC 8259 requires UTF-8), a strict receiver refuses the whole batch: %s", bad[0])
			}
		})
	}
}

// TestReliabilityAdversarialInvalidUTF8StrictReceiver: what the invalid
// UTF-8 of one client costs the others. A receiver that parses JSON
// strictly (RFC 8259: UTF-8 only; Python's json, Jackson, Elasticsearch)
// answers 400 to the whole request, which the sender does not retry: the
// clean alerts batched with the poisoned one are lost too.
func TestReliabilityAdversarialInvalidUTF8StrictReceiver(t *testing.T) {
	var mu sync.Mutex
	var accepted []string
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests++
		first := requests == 1
		mu.Unlock()
		if first {
			// Hold the first request so that the next alerts queue up
			// and leave together in the next batch.
			time.Sleep(300 * time.Millisecond)
		}
		if !utf8.Valid(body) {
			http.Error(w, "invalid UTF-8 in JSON", http.StatusBadRequest)
			return
		}
		var alerts []map[string]any
		if err := json.Unmarshal(body, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, a := range alerts {
			if u, ok := a["user"].(map[string]any); ok {
				accepted = append(accepted, fmt.Sprint(u["name"]))
			}
		}
		mu.Unlock()
	}))
	defer srv.Close()
	x := nowBase()
	evsOf := func(user, ua string, at0 time.Time) []byte {
		var b []byte
		for i, n := range []string{"db-password", "api-token", "registry-creds"} {
			e := ev{at: at(at0.Add(time.Duration(i) * time.Second)), name: n, user: user, ua: ua}
			b = append(b, record(t, []byte(invalidUTF8.Replace(string(e.json()))), chunk.ParsedMap, x)...)
		}
		return b
	}
	chunks := [][]byte{
		evsOf("early-client", "curl/8.5.0", x),
		concat(evsOf("clean-client", "kubectl/v1.29.2", x.Add(3*time.Second)), evsOf("poisoning-client", "curl/@FF@", x.Add(3*time.Second))),
	}
	res := run(t, host.Config{FlushGap: 50 * time.Millisecond, Instances: []host.Instance{{Props: props(srv.URL), Chunks: chunks}}})
	wantOK(t, res)
	st := lastStats(t, res.Stderr, 0)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d requests; accepted alerts of %v; stats sent=%d rejected=%d", requests, accepted, st["sent"], st["rejected"])
	if st["new"] != 3 {
		t.Fatalf("%d alerts decided, want 3", st["new"])
	}
	clean := false
	for _, u := range accepted {
		clean = clean || u == "clean-client"
	}
	if !clean {
		bugf(t, "the alert of clean-client was refused with the invalid-UTF-8 alert of poisoning-client it was batched with "+
			"(stats rejected=%d): one client's user agent makes a strict receiver drop other clients' alerts", st["rejected"])
	}
}

// TestReliabilityAdversarialNumbersAndTimes: huge and odd numbers where
// strings or times are expected, negative and far-future record times and
// audit timestamps. A number where a string leaf is expected counts as
// missing (so a record without a string verb is not_audit); a record time
// that is not a valid time is no time; an audit event with no usable time
// at all is counted no_time; events stamped past max_clock_skew are
// counted future_clamped and taken as arriving now.
func TestReliabilityAdversarialNumbersAndTimes(t *testing.T) {
	h := newAdvHarvest(t, chunk.ParsedMap)
	ts := h.at
	other := func(name string) []mpKV { return auditKVs("someone-else", name, "curl/8", "10.9.9.9", time.Time{}) }
	withTime := func(kvs []mpKV, k string, v any) []mpKV { return append(kvs, mpKV{k, v}) }

	// Records with raw timestamps: [[time, {}], body].
	rec := func(tsRaw []byte, body []byte) []byte {
		b := chunk.AppendArrayHeader(nil, 2, chunk.WidthMin)
		b = chunk.AppendArrayHeader(b, 2, chunk.WidthMin)
		b = append(b, tsRaw...)
		b = append(b, 0x80)
		return append(b, body...)
	}
	hugeDigits := strings.Repeat("9", 5000)

	t.Run("numbers", func(t *testing.T) {
		bad := [][]byte{
			// verb is a number: no audit event.
			rawRecord(mp(mpKV{"kind", "Event"}, mpKV{"verb", uint64(math.MaxUint64)}, mpKV{"objectRef", []mpKV{{"resource", "secrets"}, {"name", 1e308}}}), ts),
			rawRecord(mp(mpKV{"kind", "Event"}, mpKV{"verb", math.Inf(1)}), ts),
			// A read whose name, user and source IPs are numbers: an audit
			// event that cannot match (no name, no user).
			rawRecord(mp(append(auditKVs("someone-else", "x", "curl/8", "10.9.9.9", ts),
				mpKV{"objectRef", []mpKV{{"resource", "secrets"}, {"name", math.NaN()}}},
				mpKV{"user", []mpKV{{"username", int64(math.MinInt64)}}},
				mpKV{"sourceIPs", []any{int64(math.MinInt64), 1e308, uint64(math.MaxUint64)}})...), ts),
			// The same in a JSON line: numbers of 5000 digits and 1e999999.
			rawRecord(mp(mpKV{"log", `{"kind":"Event","auditID":"a","stage":"ResponseComplete","verb":"get","user":{"username":` + hugeDigits +
				`},"sourceIPs":[1e999999,-` + hugeDigits + `],"objectRef":{"resource":"secrets","name":-1e-999999},"requestReceivedTimestamp":` + hugeDigits + `}`}), ts),
			rawRecord(mp(mpKV{"log", `{"kind":"Event","verb":` + hugeDigits + `,"n":1e999999}`}), ts),
		}
		a := runAdv(t, [][]byte{h.interleave(bad...)})
		// Per interleave slot: 2 + 1 not_audit (the msgpack verbs, the JSON
		// verb), 2 audit events that match nothing (the second has no
		// usable time but the record time).
		a.want(t, map[string]int64{"records": 3 + 4*5, "not_audit": 4 * 3, "malformed": 0, "truncated": 0, "audit_events": 3 + 4*2, "matching": 3})
		a.wantHarvest(t, h)
	})

	t.Run("record-times", func(t *testing.T) {
		body := mp(other("late-name")...)
		bad := [][]byte{
			rec(msgp.AppendInt64(nil, -5), body),                                 // negative integer: no time
			rec(msgp.AppendFloat64(nil, -1e18), body),                            // negative float: no time
			rec(msgp.AppendFloat64(nil, math.NaN()), body),                       // NaN: no time
			rec(msgp.AppendFloat64(nil, math.Inf(1)), body),                      // +Inf: no time
			rec(msgp.AppendString(nil, "2026-01-01T00:00:00Z"), body),            // a string: no time
			rec(chunk.AppendEventTimeFixExt8(nil, 0x7FFFFFFF, 999999999), body),  // 2038: future
			rec(chunk.AppendEventTimeFixExt8(nil, 0xFFFFFFFD, 0xFFFFFFFF), body), // 2106, nanoseconds > 1e9
			rec(msgp.AppendUint64(nil, 9223372030), body),                        // year 2262, at the edge of int64 ns
			rec(msgp.AppendFloat64(nil, 9.2e9), body),                            // year 2261 as a float
			rec(msgp.AppendUint64(nil, math.MaxUint64), body),                    // too big: no time
		}
		a := runAdv(t, [][]byte{h.interleave(bad...)})
		// Per slot: 5 events with no time at all (no_time), 4 future ones
		// (clamped), 1 with no time (MaxUint64).
		a.want(t, map[string]int64{"records": 3 + 4*10, "malformed": 0, "truncated": 0, "not_audit": 0,
			"audit_events": 3 + 4*4, "no_time": 4 * 6, "future_clamped": 4 * 4})
		a.wantHarvest(t, h)
	})

	t.Run("audit-timestamps", func(t *testing.T) {
		var bad [][]byte
		for _, s := range []string{
			"1969-12-31T23:59:59.999999Z", "1678-01-01T00:00:00Z", "1677-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
			"-0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2261-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59Z",
			"+275760-09-13T00:00:00Z", "2026-13-45T99:99:99Z", hugeDigits,
		} {
			kvs := other("odd-time")
			kvs = withTime(kvs, "requestReceivedTimestamp", s)
			kvs = withTime(kvs, "stageTimestamp", s)
			// The record itself carries no time.
			bad = append(bad, rec(msgp.AppendNil(nil), mp(kvs...)))
		}
		a := runAdv(t, [][]byte{h.interleave(bad...)})
		// Only times from 1970 (the epoch itself excluded) to 2200 count:
		// every one of these is no time, in the decoders already, and the
		// record carries none to fall back on.
		a.want(t, map[string]int64{"records": 3 + 4*11, "malformed": 0, "not_audit": 0, "audit_events": 3,
			"no_time": 4 * 11, "future_clamped": 0})
		a.wantHarvest(t, h)
	})
}

// TestReliabilityAdversarialDuplicateKeys: maps with repeated keys, in
// msgpack and in JSON lines: the last one wins, wholesale, in both shapes.
// The harvester's own reads are written with repeated keys that resolve to
// a read; decoys resolve to something else and must not be counted.
func TestReliabilityAdversarialDuplicateKeys(t *testing.T) {
	x := nowBase()
	base3 := harvestEvs(advUser, x, "db-password", "api-token", "registry-creds")
	// msgpack: verb list then get (a read), objectRef twice (last wins).
	mpRead := func(e ev) []byte {
		kvs := auditKVs(advUser, e.name, "curl/8.5.0", "10.244.3.17", base.Add(e.at))
		kvs = append([]mpKV{{"verb", "list"}, {"objectRef", []mpKV{{"resource", "pods"}}}}, kvs...)
		return rawRecord(mp(kvs...), x)
	}
	mpDecoy := func(name string) []byte {
		kvs := auditKVs(advUser, name, "curl/8.5.0", "10.244.3.17", x)
		kvs = append(kvs, mpKV{"verb", "list"})                                          // last verb: list
		kvs = append(kvs, mpKV{"objectRef", []mpKV{{"namespace", "p"}, {"name", name}}}) // no resource
		return rawRecord(mp(kvs...), x)
	}
	jsRead := func(e ev) []byte {
		l := string(e.json())
		l = `{"verb":"delete","objectRef":{"resource":"pods","name":"zzz"},"user":{"username":"nobody"},` + l[1:]
		return rawRecord(mp(mpKV{"log", l}), x)
	}
	jsDecoy := func(name string) []byte {
		e := ev{at: at(x), name: name, user: advUser}
		l := string(e.json())
		l = strings.TrimSuffix(l, "}") + `,"user":null,"objectRef":{"resource":"secrets"}}`
		return rawRecord(mp(mpKV{"log", l}), x)
	}
	c := concat(mpRead(base3[0]), mpDecoy("decoy-1"), jsDecoy("decoy-2"), jsRead(base3[1]), mpDecoy("decoy-3"), mpRead(base3[2]), jsDecoy("decoy-4"))
	a := runAdv(t, [][]byte{c})
	a.want(t, map[string]int64{"records": 7, "audit_events": 7, "matching": 3, "malformed": 0, "not_audit": 0})
	a.wantHarvest(t, advHarvest{names: []string{"db-password", "api-token", "registry-creds"}})
}

// TestReliabilityAdversarialManySourceIPs: sourceIPs with thousands of
// entries (the last one is the peer, the default source_ip): the harvest
// alerts with the peer as source.ip, and the alert stays small
// (related.ip is bounded).
func TestReliabilityAdversarialManySourceIPs(t *testing.T) {
	x := nowBase()
	ips := make([]string, 5000)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	ips[len(ips)-1] = "10.244.3.17"
	var evs []ev
	for _, e := range harvestEvs(advUser, x) {
		e.ips = ips
		evs = append(evs, e)
	}
	// A record with 200 000 entries that are not strings.
	many := make([]any, 200000)
	for i := range many {
		many[i] = i
	}
	junk := rawRecord(mp(append(auditKVs("someone-else", "x", "curl/8", "10.9.9.9", x), mpKV{"sourceIPs", many})...), x)
	var recs []byte
	for _, shape := range []chunk.Shape{chunk.ParsedMap, chunk.LogString, chunk.ParsedMap} {
		recs = append(recs, record(t, evs[0].json(), shape, x)...)
		recs = append(recs, junk...)
		evs = evs[1:]
	}
	a := runAdv(t, [][]byte{recs})
	a.want(t, map[string]int64{"records": 6, "audit_events": 6, "matching": 3, "malformed": 0})
	alerts := a.r.Alerts()
	if len(alerts) != 1 || str(alerts[0], "source.ip") != "10.244.3.17" {
		t.Fatalf("alerts %+v", summarize(alerts))
	}
	if rel := strs(alerts[0], "related.ip"); len(rel) > 32 || len(alerts[0].Raw) > 16<<10 {
		t.Errorf("alert of %d bytes with %d related ips", len(alerts[0].Raw), len(rel))
	}
}

// TestReliabilityAdversarialTruncatedChunks: a small chunk (a harvest in
// three shapes and a non-audit record) cut at every byte offset, each cut
// flushed as its own chunk. Each flush returns 1; a cut inside a record
// counts exactly one truncated record and no malformed one; a cut on a
// record boundary counts none. A second instance flushes, for every
// offset, a complete harvest (a user of its own) followed by the cut
// chunk: every one of those harvests alerts.
func TestReliabilityAdversarialTruncatedChunks(t *testing.T) {
	x := nowBase()
	evs := harvestEvs("cut-user", x)
	small := concat(
		record(t, evs[0].json(), chunk.ParsedMap, x),
		record(t, evs[1].json(), chunk.LogString, x),
		rawRecord(mp(mpKV{"kind", "EventList"}, mpKV{"apiVersion", "audit.k8s.io/v1"}, mpKV{"items", []any{mpRaw(mp(auditKVs("cut-user", evs[2].name, "curl/8.5.0", "10.244.3.17", x.Add(2*time.Second))...))}}), x),
		rawRecord(mp(mpKV{"msg", "hello"}), x),
	)
	recs, err := chunk.Decode(small)
	if err != nil || len(recs) != 4 {
		t.Fatalf("decode: %v (%d records)", err, len(recs))
	}
	boundary := map[int]bool{}
	off := 0
	for _, r := range recs {
		off += len(r.Raw)
		boundary[off] = true
	}
	var cuts [][]byte
	wantTruncated := 0
	for k := 1; k < len(small); k++ {
		cuts = append(cuts, small[:k])
		if !boundary[k] {
			wantTruncated++
		}
	}
	// The second instance: harvest of user-k, then the cut chunk.
	var withHarvest [][]byte
	for k := 1; k < len(small); k++ {
		var c []byte
		for _, l := range lines(harvestEvs(fmt.Sprintf("user-%d", k), x.Add(time.Duration(k)*time.Millisecond))...) {
			c = append(c, record(t, l, chunk.ParsedMap, x)...)
		}
		withHarvest = append(withHarvest, append(c, small[:k]...))
	}
	r0, r1 := startReceiver(t), startReceiver(t)
	start := time.Now()
	res := run(t, host.Config{Instances: []host.Instance{
		{Props: props(r0.URL()), Chunks: cuts},
		{Props: props(r1.URL(), "max_alerts", "100000"), Chunks: withHarvest},
	}})
	wantOK(t, res)
	t.Logf("%d-byte chunk cut at every offset, twice: %d flushes in %v", len(small), len(res.Flushes), time.Since(start).Round(time.Millisecond))
	for i := 0; i < 2; i++ {
		if n := len(res.FlushesOf(i)); n != len(small)-1 {
			t.Fatalf("instance %d: %d flushes, want %d", i, n, len(small)-1)
		}
		st := lastStats(t, res.Stderr, i)
		if st["truncated"] != int64(wantTruncated) || st["malformed"] != 0 {
			t.Errorf("instance %d: truncated=%d malformed=%d, want %d and 0 (%v)", i, st["truncated"], st["malformed"], wantTruncated, st)
		}
	}
	// The cut-user harvest is complete in the cuts past the third record.
	if got := alertsOf(r0.Alerts(), "cut-user"); len(got) != 1 {
		t.Errorf("instance 0: %d alerts for the cut harvest, want 1", len(got))
	}
	missing := 0
	for k := 1; k < len(small); k++ {
		if len(alertsOf(r1.Alerts(), fmt.Sprintf("user-%d", k))) != 1 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("instance 1: %d of %d harvests did not alert exactly once", missing, len(small)-1)
	}
	wantValidBodies(t, r0)
	wantValidBodies(t, r1)
}

// TestReliabilityAdversarialHugeFields: an attacker chooses the names it
// asks for (the API server logs reads of secrets that do not exist, and
// the rule counts them) and its user agent. Names of control characters
// (%01 in the URL, 3 bytes on the wire, \u0001 in JSON: 6 bytes in the
// alert) fit the API server's 1 MiB header limit yet make an alert of
// several MB. The harvest's alert must still arrive, as valid JSON:
// otherwise three such reads hide every real read in the same window.
func TestReliabilityAdversarialHugeFields(t *testing.T) {
	x := nowBase()
	junk := func(i int) string { return fmt.Sprintf("junk-%d-", i) + strings.Repeat("\x01", 300000) }
	names := []string{junk(1), junk(2), junk(3), "db-password", "api-token"}
	var c []byte
	for i, n := range names {
		kvs := auditKVs(advUser, n, "python-requests/2.31", "10.244.3.17", x.Add(time.Duration(i)*time.Second))
		c = append(c, rawRecord(mp(kvs...), x)...)
	}
	a := runAdv(t, [][]byte{c})
	a.want(t, map[string]int64{"audit_events": 5, "matching": 5, "new": 1})
	got := alertsOf(a.r.Alerts(), advUser)
	t.Logf("%d alert(s) arrived; delivery sent=%d dropped=%d", len(got), a.stats["sent"], a.stats["dropped"])
	if len(got) == 0 {
		bugf(t, "a harvest whose names are attacker-sized (3 names of 300 000 control characters, under the API server's 1 MiB "+
			"header limit) makes an alert above the sender's fixed 4 MiB batch limit: the alert and its update are dropped as invalid "+
			"(stats dropped=%d), so the real reads of db-password and api-token in the same window are never reported", a.stats["dropped"])
	}
}
