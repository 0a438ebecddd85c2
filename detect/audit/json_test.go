package audit

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const sampleGet = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0d1e0b4e-0d8a-4c41-9a52-3b7f0f4b1a11","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/secrets/db-password","verb":"get","user":{"username":"system:serviceaccount:ci:deployer","uid":"0a1b","groups":["system:serviceaccounts","system:serviceaccounts:ci","system:authenticated"],"extra":{"authentication.kubernetes.io/pod-name":["runner-7c9"]}},"sourceIPs":["10.244.1.17"],"userAgent":"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819","objectRef":{"resource":"secrets","namespace":"prod","name":"db-password","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z","stageTimestamp":"2026-11-25T10:00:00.130001Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"deployer\" of ClusterRole \"edit\""}}`

func parseAll(t *testing.T, doc string, recordTime int64) []Event {
	t.Helper()
	var out []Event
	p := NewJSONParser()
	_, err := p.Parse([]byte(doc), recordTime, func(ev *Event) {
		c := *ev
		c.SourceIPs = append([]string(nil), ev.SourceIPs...)
		out = append(out, c)
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return out
}

func TestParseJSONEvent(t *testing.T) {
	evs := parseAll(t, sampleGet, 0)
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	ev := evs[0]
	want := Event{Verb: "get", Resource: "secrets", Name: "db-password", Namespace: "prod",
		User: "system:serviceaccount:ci:deployer", UserAgent: "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
		Decision: "allow", AuditID: "0d1e0b4e-0d8a-4c41-9a52-3b7f0f4b1a11", Stage: "ResponseComplete",
		SourceIPs: []string{"10.244.1.17"}, SourceIPCount: 1}
	wantTime, _ := ParseTime("2026-11-25T10:00:00.123456Z")
	want.Time = wantTime
	if !equalEvent(ev, want) {
		t.Fatalf("got  %+v\nwant %+v", ev, want)
	}
}

func equalEvent(a, b Event) bool {
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return string(aj) == string(bj)
}

func TestParseJSONEscapes(t *testing.T) {
	doc := strings.Replace(sampleGet, `"userAgent":"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"`, `"userAgent":"evil \"quoted\" \\ \u00e9 agent"`, 1)
	evs := parseAll(t, doc, 0)
	if len(evs) != 1 || evs[0].UserAgent != `evil "quoted" \ é agent` || evs[0].Name != "db-password" {
		t.Fatalf("got %+v", evs)
	}
	doc = strings.Replace(sampleGet, `"userAgent":"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"`, `"userAgent":"tab\there\\"`, 1)
	evs = parseAll(t, doc, 0)
	if len(evs) != 1 || evs[0].UserAgent != "tab\there\\" {
		t.Fatalf("got %q", evs[0].UserAgent)
	}
}

func TestParseJSONEventListEscapeNoDoubleEmit(t *testing.T) {
	bad := strings.Replace(sampleGet, `"name":"db-password"`, `"name":"x\"y"`, 1)
	doc := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + sampleGet + `,` + sampleGet + `,` + bad + `]}`
	evs := parseAll(t, doc, 0)
	if len(evs) != 3 || evs[2].Name != `x"y` || evs[0].Name != "db-password" {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
}

func TestParseJSONSamples(t *testing.T) {
	data, err := os.ReadFile("../../../shared/reference/audit-samples/audit2rbac/demo.log")
	if err != nil {
		t.Skip(err)
	}
	p := NewJSONParser()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, err := p.Parse([]byte(line), 0, func(ev *Event) {
			if ev.Time == 0 || ev.Verb == "" {
				t.Errorf("bad event %+v", ev)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	if n != 37 {
		t.Fatalf("events %d", n)
	}
}

func BenchmarkParseJSONLine(b *testing.B) {
	p := NewJSONParser()
	line := []byte(sampleGet)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Parse(line, 0, func(*Event) {})
	}
}

type stdEvent struct {
	Verb      string   `json:"verb"`
	AuditID   string   `json:"auditID"`
	Stage     string   `json:"stage"`
	UserAgent string   `json:"userAgent"`
	SourceIPs []string `json:"sourceIPs"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef struct {
		Resource, Namespace, Name string
	} `json:"objectRef"`
	Annotations              map[string]string `json:"annotations"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
}

func BenchmarkStdlibJSONLine(b *testing.B) {
	line := []byte(sampleGet)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var e stdEvent
		json.Unmarshal(line, &e)
	}
}

// A timestamp outside 1970..2200 counts as none, like one that does not
// parse: the next timestamp field gives the time. Before, a value the Go
// parser could read (1678..2261) was taken and then refused, so whether an
// event had a time depended on how far out of range its first field was.
func TestModelOutOfRangeTimestampFallsThrough(t *testing.T) {
	stage := "2025-11-24T16:00:04.8Z"
	want, _ := ParseTime(stage)
	for _, received := range []string{"1969-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2201-01-01T00:00:00Z",
		"2300-01-01T00:00:00Z", "never"} {
		line := `{"kind":"Event","verb":"get","requestReceivedTimestamp":"` + received + `","stageTimestamp":"` + stage + `"}`
		var got int64 = -1
		if _, err := NewJSONParser().Parse([]byte(line), 0, func(ev *Event) { got = ev.Time }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("requestReceivedTimestamp %s: time %d, want the stageTimestamp's %d", received, got, want)
		}
	}
}
