package model

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The model's own tests: hand-worked cases from the specification, written
// before any comparison with the engine.

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// ln is one matching-shaped audit line; override fields with kv pairs.
func ln(at time.Duration, name string, kv ...string) []byte {
	f := map[string]string{"user": "mallory", "ip": `"10.0.0.9"`, "ua": `,"userAgent":"curl/8.5.0"`,
		"verb": "get", "resource": "secrets", "ns": "prod", "id": fmt.Sprintf("a-%d", at/time.Millisecond)}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return []byte(fmt.Sprintf(`{"kind":"Event","auditID":%q,"stage":"ResponseComplete","verb":%q,"user":{"username":%q},"sourceIPs":[%s]%s,"objectRef":{"resource":%q,"namespace":%q,"name":%q},"requestReceivedTimestamp":%q,"annotations":{"authorization.k8s.io/decision":"allow"}}`,
		f["id"], f["verb"], f["user"], f["ip"], f["ua"], f["resource"], f["ns"], name, t0.Add(at).Format(time.RFC3339Nano)))
}

func brief(r *Result) []string {
	var out []string
	for _, a := range r.Alerts {
		v := func(p string) any { x, _ := lookup(a, p); return x }
		out = append(out, fmt.Sprintf("%v@%v %v", v("alert.type"), v("@timestamp").(string)[11:],
			strings.Trim(show(v("Esql.secrets_names")), "[]")))
	}
	return out
}

func want(t *testing.T, r *Result, alerts ...string) {
	t.Helper()
	if got := brief(r); !reflect.DeepEqual(got, alerts) && !(len(got) == 0 && len(alerts) == 0) {
		t.Fatalf("alerts\n got  %q\n want %q", got, alerts)
	}
}

func TestLike(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{
		{"sh.helm.release.*", "sh.helm.release.v1.x", true}, {"sh.helm.release.*", "shXhelm.release.v1", false},
		{"a*", "a", true}, {"*", "", true}, {"?", "", false}, {"?", "é", true}, {"??", "é", false},
		{`a\*`, "a*", true}, {`a\*`, "ab", false}, {`q\?`, "q?", true}, {`q\?`, "qx", false},
		{`back\\slash*`, `back\slash-1`, true}, {"*-token-?????", "default-token-x7k2p", true},
		{"abc", "ABC", false}, {"a*b*c", "aXXbYYc", true}, {"a*b*c", "aXXbYY", false},
	} {
		if got := like(c.p, c.s); got != c.ok {
			t.Errorf("like(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestSourceAddress(t *testing.T) {
	s := Defaults()
	s.ExcludeSourceIPs = []string{"::1", "::ffff:192.0.2.0/120", "2001:db8::/48", "fe80::1%eth0"}
	m := newMatcher(s)
	for ip, excluded := range map[string]bool{"0:0:0:0:0:0:0:1": true, "192.0.2.77": true, "::ffff:192.0.2.77": true,
		"192.0.3.1": false, "2001:db8:0:ffff::1": true, "2001:db8:1::1": false, "fe80::1%lo": true, "fe80::2": false} {
		a, ok := canonical(ip)
		if !ok || m.excludedAddr(a) != excluded {
			t.Errorf("%s: parsed %v, excluded %v", ip, ok, m.excludedAddr(a))
		}
	}
	if a, _ := canonical("::ffff:10.0.0.7"); a.String() != "10.0.0.7" {
		t.Errorf("mapped: %s", a)
	}
	// Which entry is the source, per mode; an unparsable chosen entry is no
	// match, with no fallback.
	list := `"203.0.113.5","10.0.0.9"`
	for mode, wantIP := range map[string]string{"peer": "10.0.0.9", "client": "203.0.113.5", "elastic": ""} {
		s := Defaults()
		s.SourceIP, s.Threshold = mode, 1
		r := Run(s, [][]byte{ln(0, "a", "ip", list)})
		got := ""
		if len(r.Alerts) == 1 {
			got = r.Alerts[0]["source"].(map[string]any)["ip"].(string)
			if ips := show(r.Alerts[0]["related"].(map[string]any)["ip"]); ips != `["10.0.0.9","203.0.113.5"]` {
				t.Errorf("%s: related.ip %s", mode, ips)
			}
		}
		if got != wantIP {
			t.Errorf("%s: source %q, want %q", mode, got, wantIP)
		}
	}
	s.Threshold = 1
	if r := Run(s, [][]byte{ln(0, "a", "ip", `"10.0.0.9","junk"`)}); len(r.Alerts) != 0 || r.Matching != 0 {
		t.Errorf("unparsable peer entry matched")
	}
}

// The README's example alert gives the id and the fingerprint of one key.
func TestIDs(t *testing.T) {
	key := "system:serviceaccount:ci:runner\x0010.244.3.17\x00\x02curl/8.5.0\x00"
	start := time.Date(2026, 11, 25, 9, 54, 3, 0, time.UTC).UnixNano()
	end := time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC).UnixNano()
	if id := alertID(key, start, end); id != "2097e8d1-860a-53f5-8fc9-407f50cca156" {
		t.Errorf("alert id %s", id)
	}
	if fp := fingerprintHex(key); fp != "c8f70bcda16118bd38d7" {
		t.Errorf("fingerprint %s", fp)
	}
}

func TestAuditIDs(t *testing.T) {
	var evs []*event
	for i, id := range []string{"A0000000-0000-4000-8000-00000000000A", "x", "x", "y", "z", "w", "v", "", "00000000-0000-0000-0000-000000000000"} {
		evs = append(evs, &event{t: int64(i / 2), auditID: id})
	}
	// Times 4,3,3,2,2,1,1,0,0 (latest first): 0000…(t4), v/w (t3, w first), y/z (t2, z first) → 5 taken.
	got := auditIDs(evs)
	if want := []string{"00000000-0000-0000-0000-000000000000", "v", "w", "y", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("auditIDs %q", got)
	}
	if got := normalizeAuditID("A0000000-0000-4000-8000-00000000000A"); got != "a0000000-0000-4000-8000-00000000000a" {
		t.Errorf("normalize %q", got)
	}
}

func TestMatching(t *testing.T) {
	s := Defaults()
	s.Threshold = 1
	for _, c := range []struct {
		line  string
		match bool
	}{
		{string(ln(0, "a")), true},
		{string(ln(0, "a", "verb", "GET")), false},
		{string(ln(0, "a", "resource", "configmaps")), false},
		{string(ln(0, "")), false},
		{string(ln(0, "a", "user", "")), false},
		{string(ln(0, "a", "user", "system:kube-scheduler")), false},
		{string(ln(0, "sh.helm.release.v1.x.v1")), false},
		{string(ln(0, "a", "ip", `"::ffff:127.0.0.1"`)), false},
		{string(ln(0, "a", "ip", "")), false},
		{strings.Replace(string(ln(0, "a")), `"kind":"Event","auditID":"a-0","stage":"ResponseComplete",`, ``, 1), false},
		{strings.Replace(string(ln(0, "a")), `"requestReceivedTimestamp"`, `"stageTimestamp"`, 1), true},
		{strings.Replace(string(ln(0, "a")), `"requestReceivedTimestamp":"2026`, `"requestReceivedTimestamp":"1969`, 1), false},
		{`{"kind":"EventList","items":[` + string(ln(0, "a")) + `,` + string(ln(1, "b")) + `,3]}`, true},
	} {
		r := Run(s, [][]byte{[]byte(c.line)})
		if (r.Matching > 0) != c.match {
			t.Errorf("matching %d for %s", r.Matching, c.line)
		}
	}
	if r := Run(s, [][]byte{ln(0, "a", "ua", "")}); len(r.Alerts) != 1 || r.Alerts[0]["user_agent"] != nil {
		t.Errorf("no user agent: %v", r.Alerts)
	}
}

func regress(t *testing.T, name string) [][]byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "regress", name))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		out = append(out, []byte(l))
	}
	return out
}

// Issue 9's two streams.
func TestRepros(t *testing.T) {
	want(t, Run(Defaults(), regress(t, "stream-threshold-after-expiry.log")))
	s := Defaults()
	s.Threshold, s.Window, s.Suppress = 4, 3*time.Minute, 2*time.Minute
	r := Run(s, regress(t, "stream-name-lost-after-expiry.log"))
	// 16:14:47.665521 + 2m: the window [16:13:47, 16:16:47) has no new name.
	want(t, r, `new@16:14:47.665521000Z "secret-1","secret-25","secret-28","secret-8"`)
	if c := r.Alerts[0]["Esql"].(map[string]any)["unique_credentials"]; c != 4.0 {
		t.Errorf("count %v", c)
	}
}

func TestStreamUpdates(t *testing.T) {
	s := Defaults()
	s.Window, s.Suppress = time.Minute, 30*time.Second
	lines := [][]byte{ln(0, "a"), ln(time.Second, "b"), ln(2*time.Second, "c"),
		ln(10*time.Second, "d"), // muted: reported at U = 32s
		ln(32*time.Second, "e"), // stamped U: not in [U-window, U), reported at 62s
		ln(70*time.Second, "f"), // reported at 92s, at shutdown or when the watermark gets there
	}
	alerts := []string{`new@10:00:02.000000000Z "a","b","c"`,
		`update@10:00:32.000000000Z "a","b","c","d"`,
		`update@10:01:02.000000000Z "c","d","e"`, // [2s, 62s): b has left the window
		`update@10:01:32.000000000Z "e","f"`}     // then [62s, 122s) holds f only: the episode ends
	want(t, Run(s, lines), alerts...)
	want(t, Run(s, append(lines, ln(200*time.Second, "g"))), alerts...)
}

// At the end of an episode a fingerprint alerts new again on its next event
// while its window still holds the threshold.
func TestStreamNewAgain(t *testing.T) {
	s := Defaults()
	s.Window, s.Suppress = time.Minute, 10*time.Second
	r := Run(s, [][]byte{ln(0, "a"), ln(time.Second, "b"), ln(2*time.Second, "c"), ln(20*time.Second, "a")})
	want(t, r, `new@10:00:02.000000000Z "a","b","c"`, `new@10:00:20.000000000Z "a","b","c"`)
}

// suppress 0: the mute ends at the alert's own time, handled at the next
// advance of the watermark; events of the same time are not decided again.
func TestStreamSuppressZero(t *testing.T) {
	s := Defaults()
	s.Window, s.Suppress = time.Minute, 0
	lines := [][]byte{ln(0, "a"), ln(time.Second, "b"), ln(2*time.Second, "c"), ln(2*time.Second, "d"),
		ln(3*time.Second, "e")}
	want(t, Run(s, lines), `new@10:00:02.000000000Z "a","b","c"`, `new@10:00:03.000000000Z "a","b","c","d","e"`)
	// Per time: both events of 2s are in the first decision.
	s.ReorderDelay = time.Second
	want(t, Run(s, lines), `new@10:00:02.000000000Z "a","b","c","d"`, `new@10:00:03.000000000Z "a","b","c","d","e"`)
}

func TestStreamMaxAlerts(t *testing.T) {
	s := Defaults()
	s.MaxAlerts, s.Suppress, s.Interval = 1, 10*time.Second, time.Minute
	var lines [][]byte
	for _, user := range []string{"u1", "u2"} {
		for i, n := range []string{"a", "b", "c"} {
			lines = append(lines, ln(time.Duration(i)*time.Second, n, "user", user))
		}
	}
	lines = append(lines, ln(11*time.Second, "d", "user", "u1"), ln(61*time.Second, "x", "user", "u9"))
	r := Run(s, lines)
	// u1 alerts; u2's alert is cut but mutes it; u1's update at 12s is cut too.
	want(t, r, `new@10:00:02.000000000Z "a","b","c"`)
	if r.Cut != 2 {
		t.Errorf("cut %d", r.Cut)
	}
}

func TestSchedule(t *testing.T) {
	s := Defaults()
	s.Mode, s.Interval, s.Window, s.MaxAlerts = "schedule", time.Minute, 2*time.Minute, 2
	var lines [][]byte
	for i, n := range []string{"a", "b", "c", "d"} {
		lines = append(lines, ln(time.Duration(i)*time.Second+30*time.Second, n, "user", "zed"))
	}
	for i, n := range []string{"a", "b", "c"} {
		lines = append(lines, ln(time.Duration(i)*time.Second+30*time.Second, n, "user", "amy"))
		lines = append(lines, ln(time.Duration(i)*time.Second+30*time.Second, n, "user", "bea", "ua", ""))
	}
	r := Run(s, lines)
	// Evaluations at 10:01 and 10:02 hold all; three hits each, zed (4 names)
	// first, then amy before bea by user; bea is cut.
	want(t, r, `new@10:01:00.000000000Z "a","b","c","d"`, `new@10:01:00.000000000Z "a","b","c"`,
		`new@10:02:00.000000000Z "a","b","c","d"`, `new@10:02:00.000000000Z "a","b","c"`)
	if r.Cut != 2 || r.Alerts[1]["user"].(map[string]any)["name"] != "amy" {
		t.Errorf("cut %d, second %v", r.Cut, r.Alerts[1]["user"])
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	p := TrafficParams{Span: 10 * time.Minute}
	a, b := Generate(7, p), Generate(7, p)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different lines")
	}
	r := Run(Defaults(), a)
	if r.Matching == 0 || r.Timeless == 0 || len(r.Alerts) == 0 {
		t.Fatalf("matching %d timeless %d alerts %d", r.Matching, r.Timeless, len(r.Alerts))
	}
}

// uaRotation is one client reading three secrets with a new user agent per
// request (the last without one), from one address, then the first again.
func uaRotation() [][]byte {
	return [][]byte{ln(0, "a", "ua", `,"userAgent":"curl/8.5.0"`),
		ln(time.Second, "b", "ua", `,"userAgent":"python-requests/2.31"`),
		ln(2*time.Second, "c", "ua", ""), ln(3*time.Second, "a", "ua", `,"userAgent":"curl/8.5.0"`)}
}

// The rule's grouping sees three fingerprints and stays silent; any
// group_by without user_agent alerts once.
func TestGroupByUserAgentRotation(t *testing.T) {
	lines := uaRotation()
	for _, g := range [][]string{nil, {"user", "source_ip", "user_agent"}, {"user_agent", "user"}} {
		s := Defaults()
		s.GroupBy = g
		want(t, Run(s, lines))
	}
	for _, c := range []struct {
		groupBy []string
		names   string
	}{{[]string{"user"}, `["user"]`}, {[]string{"source_ip", "user"}, `["user","source_ip"]`}} {
		s := Defaults()
		s.GroupBy = c.groupBy
		r := Run(s, lines)
		want(t, r, `new@10:00:02.000000000Z "a","b","c"`)
		a := r.Alerts[0]
		get := func(p string) string { v, _ := lookup(a, p); return show(v) }
		wantIP := `"10.0.0.9"`
		if len(c.groupBy) == 1 {
			wantIP = `["10.0.0.9"]` // a list, even of one
		}
		for p, v := range map[string]string{"source.ip": wantIP, "user_agent.original": `["curl/8.5.0","python-requests/2.31"]`,
			"alert.group_by": c.names, "related.ip": `["10.0.0.9"]`} {
			if got := get(p); got != v {
				t.Errorf("%v: %s = %s, want %s", c.groupBy, p, got, v)
			}
		}
		key := "mallory\x00"
		if len(c.groupBy) == 2 {
			key += "10.0.0.9\x00"
		}
		if get("alert.fingerprint") != show(fingerprintHex(key)) {
			t.Errorf("%v: fingerprint %s, want that of %q", c.groupBy, get("alert.fingerprint"), key)
		}
	}
}

// addressRotation is one token used from several addresses (one behind a
// proxy), then again without a user agent.
func addressRotation() [][]byte {
	return [][]byte{ln(0, "a", "ip", `"10.244.1.5"`), ln(time.Second, "b", "ip", `"::ffff:10.244.2.6"`),
		ln(2*time.Second, "c", "ip", `"203.0.113.9","10.244.3.7"`), ln(3*time.Second, "a", "ua", "")}
}

// user,user_agent and user catch it, user,source_ip does not.
func TestGroupByAddressRotation(t *testing.T) {
	lines := addressRotation()
	for _, g := range [][]string{nil, {"user", "source_ip"}} {
		s := Defaults()
		s.GroupBy = g
		want(t, Run(s, lines))
	}
	s := Defaults()
	s.GroupBy = []string{"user", "user_agent"}
	r := Run(s, lines)
	want(t, r, `new@10:00:02.000000000Z "a","b","c"`)
	a := r.Alerts[0]
	get := func(p string) string { v, _ := lookup(a, p); return show(v) }
	for p, v := range map[string]string{"source.ip": `["10.244.1.5","10.244.2.6","10.244.3.7"]`,
		"user_agent.original": `"curl/8.5.0"`, "related.ip": `["10.244.1.5","10.244.2.6","10.244.3.7","203.0.113.9"]`,
		"alert.group_by": `["user","user_agent"]`} {
		if got := get(p); got != v {
			t.Errorf("%s = %s, want %s", p, got, v)
		}
	}
	// Under user alone the read without a user agent joins too (at 3s, a
	// name already reported: the update at the mute end has nothing new).
	s.GroupBy = []string{"user"}
	r = Run(s, lines)
	want(t, r, `new@10:00:02.000000000Z "a","b","c"`)
	// Without any user agent in the window, user_agent is left out.
	r = Run(s, [][]byte{ln(0, "a", "ua", ""), ln(1, "b", "ua", ""), ln(2, "c", "ua", "")})
	if len(r.Alerts) != 1 || r.Alerts[0]["user_agent"] != nil {
		t.Errorf("no user agent: %v", r.Alerts)
	}
}

// scheduleTies: one user reads the same three names, at the same times,
// without a user agent, with another one from another address, and with
// curl from a new address each time.
func scheduleTies() [][]byte {
	var lines [][]byte
	for i, n := range []string{"a", "b", "c"} {
		at := time.Duration(i)*time.Second + 30*time.Second
		lines = append(lines, ln(at, n, "ua", ""), ln(at, n, "ua", `,"userAgent":"zz"`, "ip", `"10.0.0.1"`),
			ln(at, n, "ip", fmt.Sprintf(`"10.0.1.%d"`, i)))
	}
	return lines
}

// Schedule mode: hits with equal counts are ordered by the grouped fields
// only; under user,user_agent a fingerprint without a user agent comes after
// those with one.
func TestGroupBySchedule(t *testing.T) {
	s := Defaults()
	s.Mode, s.Interval, s.Window, s.MaxAlerts = "schedule", time.Minute, 2*time.Minute, 100
	s.GroupBy = []string{"user_agent", "user"}
	r := Run(s, scheduleTies())
	var order []string
	for _, a := range r.Alerts {
		v, _ := lookup(a, "user_agent.original")
		order = append(order, show(v))
	}
	if want := []string{`"curl/8.5.0"`, `"zz"`, "(absent)", `"curl/8.5.0"`, `"zz"`, "(absent)"}; !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if v, _ := lookup(r.Alerts[0], "source.ip"); show(v) != `["10.0.1.0","10.0.1.1","10.0.1.2"]` {
		t.Errorf("source.ip %s", show(v))
	}
}
