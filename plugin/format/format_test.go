package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

var at = time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC)

// readmeAlert is the README's example alert.
func readmeAlert() *detect.Alert {
	return &detect.Alert{
		Rule: rule.RapidSecretGet, ID: "2097e8d1-860a-53f5-8fc9-407f50cca156", Type: detect.AlertNew, Mode: detect.ModeStream,
		Timestamp: at.UnixNano(), WindowStart: at.Add(-6 * time.Minute).UnixNano(), WindowEnd: at.UnixNano(),
		User: "system:serviceaccount:ci:runner", SourceIP: "10.244.3.17", UserAgent: "curl/8.5.0", HasUserAgent: true,
		Columns: []detect.ColumnValue{
			{Name: "unique_credentials", Count: 3},
			{Name: "secrets_names", Values: []string{"api-token", "db-password", "registry-creds"}, IsList: true},
			{Name: "namespaces", Values: []string{"ci", "payments"}, IsList: true},
			{Name: "outcome", Values: []string{"allow", "forbid"}, IsList: true},
		},
		EventStart: at.Add(-2 * time.Second).UnixNano(), EventEnd: at.UnixNano(), EventCount: 3,
		RelatedIPs: []string{"10.244.3.17"}, AuditIDs: []string{"00000000-0000-4000-8000-000000001000"},
		Fingerprint: "c8f70bcda16118bd38d7",
	}
}

func ecsOf(t testing.TB, a *detect.Alert) []byte {
	t.Helper()
	b, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testFormat(name Name) *Format {
	return &Format{Name: name, Suppress: 5 * time.Minute, Interval: 10 * time.Minute, Window: 6 * time.Minute,
		GeneratorURL: "https://grafana.example.com/d/k8s-secret-enum", Source: "k8s-secret-enum", Sourcetype: "_json",
		Index: "security", Host: "cp-1", MaxNames: DefaultMaxNames}
}

func item(t testing.TB, f *Format, ecs []byte) map[string]any {
	t.Helper()
	out, err := f.Item(ecs)
	if err != nil {
		t.Fatalf("%v: %v", f.Name, err)
	}
	if bytes.ContainsAny(out, "\r\n") {
		t.Fatalf("%v: line break in item %q", f.Name, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v: item is not a JSON object: %v\n%s", f.Name, err, out)
	}
	return m
}

func TestJSONPassesTheAlertThrough(t *testing.T) {
	ecs := ecsOf(t, readmeAlert())
	for _, n := range []Name{JSON, JSONLines} {
		out, err := testFormat(n).Item(ecs)
		if err != nil || !bytes.Equal(out, ecs) {
			t.Errorf("%v: %s, %v", n, out, err)
		}
	}
}

func TestAlertmanagerItem(t *testing.T) {
	a := readmeAlert()
	got := item(t, testFormat(Alertmanager), ecsOf(t, a))
	wantLabels := map[string]any{"alertname": "K8sSecretEnumeration", "severity": "high",
		"rule_id": "b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c", "user": "system:serviceaccount:ci:runner",
		"source_ip": "10.244.3.17", "user_agent": "curl/8.5.0", "fingerprint": "c8f70bcda16118bd38d7"}
	if !reflect.DeepEqual(got["labels"], wantLabels) {
		t.Errorf("labels %v", got["labels"])
	}
	ann := got["annotations"].(map[string]any)
	for k, v := range map[string]string{
		"summary":        "system:serviceaccount:ci:runner read 3 distinct secrets in 2 namespaces from 10.244.3.17 within 6m0s",
		"names":          "api-token, db-password, registry-creds",
		"namespaces":     "ci, payments",
		"outcomes":       "allow, forbid",
		"distinct_names": "3",
		"events":         "3",
		"alert_id":       "2097e8d1-860a-53f5-8fc9-407f50cca156",
		"alert_type":     "new",
		"window_start":   "2026-11-25T09:54:03.000000000Z",
		"window_end":     "2026-11-25T10:00:03.000000000Z",
	} {
		if ann[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
		}
	}
	if got["startsAt"] != "2026-11-25T10:00:03.000Z" || got["endsAt"] != "2026-11-25T10:05:03.000Z" ||
		got["generatorURL"] != "https://grafana.example.com/d/k8s-secret-enum" {
		t.Errorf("times / url: %v %v %v", got["startsAt"], got["endsAt"], got["generatorURL"])
	}

	// Schedule mode resolves at the next evaluation; a missing user agent
	// is no label at all (Alertmanager drops empty ones).
	a.Mode, a.HasUserAgent, a.UserAgent = detect.ModeSchedule, false, ""
	got = item(t, testFormat(Alertmanager), ecsOf(t, a))
	if got["endsAt"] != "2026-11-25T10:10:03.000Z" {
		t.Errorf("schedule endsAt %v", got["endsAt"])
	}
	if _, ok := got["labels"].(map[string]any)["user_agent"]; ok {
		t.Errorf("user_agent label without a user agent: %v", got["labels"])
	}
	f := testFormat(Alertmanager)
	f.Suppress, f.GeneratorURL = 0, ""
	a.Mode = detect.ModeStream
	got = item(t, f, ecsOf(t, a))
	if got["endsAt"] != "2026-11-25T10:06:03.000Z" {
		t.Errorf("suppress 0: endsAt %v, want the window later", got["endsAt"])
	}
	if _, ok := got["generatorURL"]; ok {
		t.Error("empty generatorURL sent")
	}
}

func TestSplunkItem(t *testing.T) {
	a := readmeAlert()
	a.Timestamp += 123456789
	ecs := ecsOf(t, a)
	out, err := testFormat(SplunkHEC).Item(ecs)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":1795600803.123456,"host":"cp-1","source":"k8s-secret-enum","sourcetype":"_json","index":"security","event":` + string(ecs) + `}`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	f := testFormat(SplunkHEC)
	f.Index, f.Host = "", "a\"b"
	m := item(t, f, ecs)
	if _, ok := m["index"]; ok || m["host"] != `a"b` {
		t.Errorf("index/host: %v", m)
	}
}

func TestFalcoItem(t *testing.T) {
	a := readmeAlert()
	a.ImpersonatedUsers = []string{"admin"}
	got := item(t, testFormat(Falco), ecsOf(t, a))
	for k, v := range map[string]any{
		"uuid": "2097e8d1-860a-53f5-8fc9-407f50cca156", "priority": "Error", "source": "k8s_audit", "hostname": "cp-1",
		"rule": "Kubernetes Rapid Secret GET Activity Against Multiple Objects", "time": "2026-11-25T10:00:03.000000000Z",
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if !reflect.DeepEqual(got["tags"], []any{"k8s", "secrets", "mitre_credential_access", "T1552.007"}) {
		t.Errorf("tags %v", got["tags"])
	}
	if o := got["output"].(string); !strings.HasPrefix(o, "2026-11-25T10:00:03.000000000Z: Error Kubernetes secret enumeration (user=system:serviceaccount:ci:runner source=10.244.3.17") {
		t.Errorf("output %q", o)
	}
	fields := got["output_fields"].(map[string]any)
	for k, v := range map[string]any{
		"ka.user.name": "system:serviceaccount:ci:runner", "ka.sourceips": []any{"10.244.3.17"}, "ka.useragent": "curl/8.5.0",
		"ka.target.name": "api-token, db-password, registry-creds", "ka.target.namespace": "ci, payments",
		"ka.target.resource": "secrets", "ka.verb": "get", "ka.auth.decision": "allow,forbid", "ka.impuser.name": "admin",
		"secret_enum.distinct": 3.0, "secret_enum.events": 3.0, "secret_enum.type": "new", "secret_enum.truncated": false,
		"secret_enum.fingerprint": "c8f70bcda16118bd38d7",
	} {
		if !reflect.DeepEqual(fields[k], v) {
			t.Errorf("output_fields[%s] = %#v, want %#v", k, fields[k], v)
		}
	}
	for _, sev := range [][2]string{{"critical", "Critical"}, {"high", "Error"}, {"medium", "Warning"}, {"low", "Notice"}, {"", "Warning"}} {
		if got := FalcoPriority(sev[0]); got != sev[1] {
			t.Errorf("severity %q: %s", sev[0], got)
		}
	}
}

func TestSlackItem(t *testing.T) {
	a := readmeAlert()
	a.User = "<!channel> & co"
	got := item(t, testFormat(Slack), ecsOf(t, a))
	text := got["text"].(string)
	if !strings.Contains(text, "&lt;!channel&gt; &amp; co read 3 distinct secrets") {
		t.Errorf("text %q", text)
	}
	blocks := got["blocks"].([]any)
	if len(blocks) != 4 {
		t.Fatalf("%d blocks", len(blocks))
	}
	header := blocks[0].(map[string]any)["text"].(map[string]any)
	if header["type"] != "plain_text" || header["text"] != "Secret enumeration by <!channel> & co" {
		t.Errorf("header %v (plain_text is not escaped)", header)
	}
	var all []string
	for _, f := range blocks[1].(map[string]any)["fields"].([]any) {
		all = append(all, f.(map[string]any)["text"].(string))
	}
	want := []string{"*User*\n&lt;!channel&gt; &amp; co", "*Source IP*\n10.244.3.17", "*User agent*\ncurl/8.5.0",
		"*Distinct secrets*\n3", "*Reads*\n3", "*Namespaces*\nci, payments", "*Outcomes*\nallow, forbid",
		"*Window*\n2026-11-25T09:54:03.000000000Z – 2026-11-25T10:00:03.000000000Z", "*Alert*\nnew"}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("fields\n%q\nwant\n%q", all, want)
	}
	names := blocks[2].(map[string]any)["text"].(map[string]any)["text"]
	if names != "*Secret names*\napi-token, db-password, registry-creds" {
		t.Errorf("names %q", names)
	}
}

func TestNotAnAlert(t *testing.T) {
	for _, body := range []string{`[]`, `{"@timestamp":"2026-11-25T10:00:03Z"}`, `{"alert":{"id":"x"}}`,
		`{"alert":{"id":"x"},"@timestamp":"yesterday"}`, `{"alert":{"id":1},"@timestamp":"2026-11-25T10:00:03Z"}`} {
		for _, n := range []Name{Alertmanager, SplunkHEC, Slack, Falco} {
			if out, err := testFormat(n).Item([]byte(body)); err == nil {
				t.Errorf("%v rendered %s as %s", n, body, out)
			}
		}
	}
}

// Only the fields the formats read reach a destination (Splunk carries the
// alert itself, which the engine builds from names and metadata only).
func TestUnknownFieldsNeverLeave(t *testing.T) {
	ecs := ecsOf(t, readmeAlert())
	ecs = append([]byte(`{"requestObject":{"data":{"password":"aHVudGVyMg=="}},`), ecs[1:]...)
	for _, n := range []Name{Alertmanager, Slack, Falco} {
		out, err := testFormat(n).Item(ecs)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte("aHVudGVyMg")) || bytes.Contains(out, []byte("requestObject")) {
			t.Errorf("%v: %s", n, out)
		}
	}
}

func TestFrame(t *testing.T) {
	items := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}
	for n, want := range map[Name]string{JSON: `[{"a":1},{"b":2}]`, JSONLines: "{\"a\":1}\n{\"b\":2}\n",
		Alertmanager: `[{"a":1},{"b":2}]`, SplunkHEC: `{"a":1}{"b":2}`} {
		if got := string((&Format{Name: n}).Frame(items)); got != want {
			t.Errorf("%v: %q", n, got)
		}
	}
	for _, n := range []Name{Slack, Falco} {
		f := &Format{Name: n}
		if f.Framing() != Single || string(f.Frame(items[:1])) != `{"a":1}` {
			t.Errorf("%v: one alert per request", n)
		}
	}
	if (&Format{Name: SplunkHEC}).AuthScheme() != "Splunk" || (&Format{Name: JSON}).AuthScheme() != "Bearer" {
		t.Error("auth schemes")
	}
	for _, n := range Names {
		if ct := (&Format{Name: n}).ContentType(); strings.Contains(ct, ";") {
			t.Errorf("%v: content type %q has parameters", n, ct)
		}
	}
}

func TestMrkdwnNeverSplitsAnEntity(t *testing.T) {
	for n := 0; n <= 40; n++ {
		s := mrkdwn(strings.Repeat("a<&>", 10), n)
		if len(s) > n {
			t.Errorf("n=%d: %d bytes", n, len(s))
		}
		checkEntities(t, s)
	}
	if got := mrkdwn("a&b", 100); got != "a&amp;b" {
		t.Errorf("%q", got)
	}
	if got := cut("ééé", 4); got != "…" || !utf8.ValidString(cut("ééé", 5)) {
		t.Errorf("cut %q", got)
	}
}

var entity = regexp.MustCompile(`&(amp|lt|gt);`)

func checkEntities(t *testing.T, s string) {
	t.Helper()
	rest := entity.ReplaceAllString(s, "")
	if strings.ContainsAny(rest, "<>&") {
		t.Errorf("unescaped or broken entity in %q", s)
	}
}

// adversarialAlert has long, hostile values everywhere the audit log puts
// text: every limit must hold whatever the names are.
func adversarialAlert(r *rand.Rand) *detect.Alert {
	a := readmeAlert()
	// Some pieces are mostly "&", which escaping makes five times longer.
	piece := func(n int) string {
		alphabet := []rune("ab<>&*_~`\"\\é€😀\u2028:/. ")
		if r.Intn(3) == 0 {
			alphabet = []rune("&&&&&<a")
		}
		var b strings.Builder
		for b.Len() < n {
			b.WriteRune(alphabet[r.Intn(len(alphabet))])
		}
		return b.String()
	}
	a.User = piece(r.Intn(4000))
	a.UserAgent = piece(r.Intn(4000))
	a.HasUserAgent = r.Intn(2) == 0
	names := make([]string, 1+r.Intn(400))
	for i := range names {
		names[i] = piece(1 + r.Intn(300))
	}
	nss := make([]string, 1+r.Intn(200))
	for i := range nss {
		nss[i] = piece(1 + r.Intn(63))
	}
	a.Columns[0].Count = len(names)
	a.Columns[1].Values, a.Columns[2].Values = names, nss
	a.ImpersonatedUsers = []string{piece(200)}
	a.Truncated = r.Intn(2) == 0
	return a
}

var promName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func TestLimitsHoldForHostileValues(t *testing.T) {
	const seed = 1
	r := rand.New(rand.NewSource(seed))
	defer func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	}()
	for i := 0; i < 30 && !t.Failed(); i++ {
		ecs := ecsOf(t, adversarialAlert(r))
		am := item(t, testFormat(Alertmanager), ecs)
		for _, key := range []string{"labels", "annotations"} {
			for name, v := range am[key].(map[string]any) {
				if !promName.MatchString(name) || v == "" {
					t.Errorf("%s %q = %q", key, name, v)
				}
			}
		}
		sl := item(t, testFormat(Slack), ecs)
		checkSlackLimits(t, sl)
		fa := item(t, testFormat(Falco), ecs)
		for k, v := range fa["output_fields"].(map[string]any) {
			if s, ok := v.(string); ok && utf8.RuneCountInString(s) > 512 {
				t.Errorf("falco field %s of %d characters: falcosidekick would cut it", k, utf8.RuneCountInString(s))
			}
		}
	}
}

func checkSlackLimits(t *testing.T, m map[string]any) {
	t.Helper()
	chars := utf16Len
	text := m["text"].(string)
	if chars(text) > 3000 || text == "" {
		t.Errorf("text of %d", chars(text))
	}
	checkEntities(t, text)
	for _, b := range m["blocks"].([]any) {
		blk := b.(map[string]any)
		if to, ok := blk["text"].(map[string]any); ok {
			s := to["text"].(string)
			limit := 3000
			if blk["type"] == "header" {
				limit = 150
			} else {
				checkEntities(t, s)
			}
			if chars(s) > limit || s == "" {
				t.Errorf("%s text of %d characters", blk["type"], chars(s))
			}
		}
		if fs, ok := blk["fields"].([]any); ok {
			if len(fs) > 10 {
				t.Errorf("%d fields", len(fs))
			}
			for _, f := range fs {
				s := f.(map[string]any)["text"].(string)
				checkEntities(t, s)
				if chars(s) > 2000 {
					t.Errorf("field of %d characters", chars(s))
				}
			}
		}
	}
}

// utf16Len counts UTF-16 code units, the larger of the counts Slack's
// "characters" could mean.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

func TestItemIsDeterministic(t *testing.T) {
	ecs := ecsOf(t, readmeAlert())
	for _, n := range Names {
		a, _ := testFormat(n).Item(ecs)
		b, _ := testFormat(n).Item(ecs)
		if !bytes.Equal(a, b) {
			t.Errorf("%v differs between two renderings", n)
		}
	}
}

func ExampleFormat_Item() {
	f := &Format{Name: Alertmanager, Suppress: 5 * time.Minute}
	out, _ := f.Item([]byte(`{"@timestamp":"2026-11-25T10:00:03.000000000Z","user":{"name":"u"},"source":{"ip":"10.0.0.7"},` +
		`"Esql":{"unique_credentials":3,"secrets_names":["a","b","c"],"namespaces":["ns"],"outcome":["allow"]},` +
		`"rule":{"id":"r1","severity":"high"},"alert":{"id":"id-1","type":"new","mode":"stream","fingerprint":"fp"}}`))
	fmt.Println(string(out))
	// Output:
	// {"labels":{"alertname":"K8sSecretEnumeration","fingerprint":"fp","rule_id":"r1","severity":"high","source_ip":"10.0.0.7","user":"u"},"annotations":{"alert_id":"id-1","alert_type":"new","distinct_names":"3","events":"0","names":"a, b, c","namespaces":"ns","outcomes":"allow","summary":"u read 3 distinct secrets in 1 namespace from 10.0.0.7"},"startsAt":"2026-11-25T10:00:03.000Z","endsAt":"2026-11-25T10:05:03.000Z"}
}

// With group_by leaving the source IP and the user agent out of the
// fingerprint, the alert lists the values its events carried: they become
// annotations (labels would split the fingerprint's alerts) and lists.
func TestUngroupedFieldsAreLists(t *testing.T) {
	ecs := ecsOf(t, readmeAlert())
	ecs = bytes.Replace(ecs, []byte(`"source":{"ip":"10.244.3.17"}`), []byte(`"source":{"ip":["10.0.0.1","10.0.0.2"]}`), 1)
	ecs = bytes.Replace(ecs, []byte(`"user_agent":{"original":"curl/8.5.0"}`), []byte(`"user_agent":{"original":["curl/8.5.0","kubectl/1.31"]}`), 1)
	if !bytes.Contains(ecs, []byte(`["10.0.0.1","10.0.0.2"]`)) || !bytes.Contains(ecs, []byte(`"kubectl/1.31"]`)) {
		t.Fatalf("ECS shape changed: %s", ecs)
	}
	am := item(t, testFormat(Alertmanager), ecs)
	labels, ann := am["labels"].(map[string]any), am["annotations"].(map[string]any)
	if _, ok := labels["source_ip"]; ok {
		t.Errorf("labels %v", labels)
	}
	if _, ok := labels["user_agent"]; ok {
		t.Errorf("labels %v", labels)
	}
	if ann["source_ips"] != "10.0.0.1, 10.0.0.2" || ann["user_agents"] != "curl/8.5.0, kubectl/1.31" ||
		!strings.HasSuffix(ann["summary"].(string), "from 2 addresses within 6m0s") {
		t.Errorf("annotations %v", ann)
	}
	fa := item(t, testFormat(Falco), ecs)["output_fields"].(map[string]any)
	if !reflect.DeepEqual(fa["ka.sourceips"], []any{"10.0.0.1", "10.0.0.2"}) || fa["ka.useragent"] != "curl/8.5.0, kubectl/1.31" {
		t.Errorf("falco fields %v", fa)
	}
	sl := item(t, testFormat(Slack), ecs)
	fields := sl["blocks"].([]any)[1].(map[string]any)["fields"].([]any)
	if fields[1].(map[string]any)["text"] != "*Source IP*\n10.0.0.1, 10.0.0.2" {
		t.Errorf("slack fields %v", fields)
	}
	bad := bytes.Replace(ecs, []byte(`["10.0.0.1","10.0.0.2"]`), []byte(`7`), 1)
	if _, err := testFormat(Alertmanager).Item(bad); err == nil {
		t.Error("a number as source.ip rendered")
	}
}
