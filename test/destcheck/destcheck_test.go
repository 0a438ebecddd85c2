package destcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/deliver"
)

// The checkers must be able to fail: each refuses what its destination
// refuses (cases from the destinations' documentation and source) and
// accepts their documented examples.
func TestCheckersRefuseWhatDestinationsRefuse(t *testing.T) {
	hecOK := `{"time":1735689600.123,"host":"cp-1","source":"k8s-secret-enum","sourcetype":"_json","index":"security","event":{"rule_id":"r","user":"u1"}}{"time":1735689601.000,"event":{"user":"u2"}}`
	if evs, err := SplunkHEC([]byte(hecOK)); err != nil || len(evs) != 2 {
		t.Errorf("documented HEC batch refused: %v", err)
	}
	for _, bad := range []string{``, `[{"event":"x"}]`, `{"time":1}`, `{"event":""}`, `{"event":null}`,
		`{"event":{"a":1},"time":1735689600123}`, `{"event":{"a":1},"time":"1735689600"}`, `{"event":{"a":1},"index":"_internal"}`,
		`{"event":{"a":1},"host":""}`, `{"event":{"a":1},"fields":{"n":1}}`, `{"event":{"a":1},"status":"x"}`, `{"event":{"a":1}} x`} {
		if _, err := SplunkHEC([]byte(bad)); err == nil {
			t.Errorf("HEC accepted %s", bad)
		}
	}

	slackOK := `{"text":"Secret enumeration: builder read 42 secrets","blocks":[
		{"type":"header","text":{"type":"plain_text","text":"Kubernetes secret enumeration"}},
		{"type":"section","text":{"type":"mrkdwn","text":"*builder* read *42* secrets"},
		 "fields":[{"type":"mrkdwn","text":"*Source IP*\n10.0.0.7"},{"type":"mrkdwn","text":"*Count*\n42"}]},
		{"type":"context","elements":[{"type":"mrkdwn","text":"k8s-secret-enum · fingerprint 3f2a9c"}]}]}`
	if _, err := Slack([]byte(slackOK)); err != nil {
		t.Errorf("documented Slack message refused: %v", err)
	}
	long := strings.Repeat("x", 3001)
	for _, bad := range []string{`[]`, `{}`, `{"blocks":[{"type":"divider"}]}`,
		`{"text":"<!channel> hi"}`, `{"text":"a & b"}`,
		`{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`,
		`{"text":"t","blocks":[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]}`,
		`{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + long + `"}}]}`,
		`{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":""}}]}`,
		`{"text":"t","blocks":[{"type":"section","fields":[` + strings.Repeat(`{"type":"mrkdwn","text":"f"},`, 10) + `{"type":"mrkdwn","text":"f"}]}]}`,
		`{"text":"t","blocks":[{"type":"section","fields":[{"type":"mrkdwn","text":"` + strings.Repeat("f", 2001) + `"}]}]}`,
		`{"text":"t","blocks":[` + strings.Repeat(`{"type":"divider"},`, 50) + `{"type":"divider"}]}`,
		`{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"a &amp b"}}]}`,
		`{"text":"t"}{"text":"u"}`} {
		if _, err := Slack([]byte(bad)); err == nil {
			t.Errorf("Slack accepted %.120s", bad)
		}
	}

	falcoOK := `{"output":"00:00:00.000000000: Critical K8s secret enumeration (user=builder)","priority":"Critical",
		"rule":"K8s Secret Enumeration","time":"2025-01-01T00:00:00.000000000Z",
		"output_fields":{"ka.user.name":"builder","ka.sourceips":["10.0.0.7"]},"source":"k8s_audit","tags":["k8s"],"hostname":"cp-1"}`
	if p, err := Falco([]byte(falcoOK)); err != nil || p.Priority != 6 {
		t.Errorf("documented Falco event refused: %v", err)
	}
	mutate := func(from, to string) string { return strings.Replace(falcoOK, from, to, 1) }
	for _, bad := range []string{`[` + falcoOK + `]`, falcoOK + `{"x":1}`,
		mutate(`"Critical"`, `"high"`), mutate(`"priority":"Critical",`, ``), mutate(`"rule":"K8s Secret Enumeration",`, ``),
		mutate(`"2025-01-01T00:00:00.000000000Z"`, `"2025-01-01T00:00:00"`), mutate(`"2025-01-01T00:00:00.000000000Z"`, `1735689600`),
		mutate(`{"ka.user.name":"builder","ka.sourceips":["10.0.0.7"]}`, `{}`), mutate(`["k8s"]`, `"k8s"`),
		mutate(`"ka.user.name":"builder"`, `"k8s.ns.name":["a"]`)} {
		if _, err := Falco([]byte(bad)); err == nil {
			t.Errorf("Falco accepted %.200s", bad)
		}
	}
	if _, err := Falco([]byte(mutate(`"Critical","rule"`, `"info","rule"`))); err != nil {
		t.Errorf("falcosidekick reads priorities case-insensitively, info included: %v", err)
	}

	amOK := `[{"labels":{"alertname":"K8sSecretEnumeration","severity":"high","source_ip":"10.0.0.7"},
		"annotations":{"summary":"s"},"startsAt":"2025-01-01T00:00:00.000Z","endsAt":"2025-01-01T00:10:00.000Z",
		"generatorURL":"https://grafana.example/d/x"}]`
	if _, err := Alertmanager([]byte(amOK)); err != nil {
		t.Errorf("documented Alertmanager body refused: %v", err)
	}
	amMutate := func(from, to string) string { return strings.Replace(amOK, from, to, 1) }
	for _, bad := range []string{strings.Trim(amOK, "[]"), amMutate(`"source_ip"`, `"source-ip"`), amMutate(`"summary"`, `"my.note"`),
		amMutate(`"10.0.0.7"`, `""`), amMutate(`"2025-01-01T00:10:00.000Z"`, `"2024-01-01T00:10:00.000Z"`),
		amMutate(`"https://grafana.example/d/x"`, `"not a uri"`), amMutate(`"2025-01-01T00:00:00.000Z"`, `"yesterday"`),
		`[{"annotations":{"a":"b"},"startsAt":"2025-01-01T00:00:00Z","endsAt":"2025-01-01T00:00:00Z"}]`} {
		if _, err := Alertmanager([]byte(bad)); err == nil {
			t.Errorf("Alertmanager check accepted %.200s", bad)
		}
	}
}

// The signature of the README's worked example, by openssl.
func TestOpenSSLSignatureWorkedExample(t *testing.T) {
	body := `{"alert":"secret_enumeration","user":"system:serviceaccount:ci:builder","count":42}`
	sig, err := OpenSSLSignature("s3cr3t-k8s-secret-enum", "1735689600", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "sha256=300d19126d43278bb733ea82c2bdc43fbb1c4942207f8190bbf4c0d0b380ad1e" {
		t.Errorf("signature %s", sig)
	}
}

var base = time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC)

// alerts are the README's alert, one without a user agent in schedule
// mode, and hostile ones: long values full of mrkdwn syntax, many names.
func alerts(r *rand.Rand, n int) []*detect.Alert {
	mk := func(i int) *detect.Alert {
		at := base.Add(time.Duration(i) * time.Minute)
		return &detect.Alert{
			Rule: rule.RapidSecretGet, ID: fmt.Sprintf("00000000-0000-5000-8000-%012d", i), Type: detect.AlertNew, Mode: detect.ModeStream,
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
			Fingerprint: fmt.Sprintf("%020d", i),
		}
	}
	out := []*detect.Alert{mk(0)}
	a := mk(1)
	a.Mode, a.Type, a.HasUserAgent, a.UserAgent = detect.ModeSchedule, detect.AlertUpdate, false, ""
	out = append(out, a)
	text := func(max int) string {
		alphabet := []rune("ab<>&*_~`\"\\é😀\u2028:/. !@")
		var b strings.Builder
		for m := 1 + r.Intn(max); b.Len() < m; {
			b.WriteRune(alphabet[r.Intn(len(alphabet))])
		}
		return b.String()
	}
	for i := 2; i < n; i++ {
		a := mk(i)
		a.User, a.UserAgent, a.SourceIP = "<!channel> "+text(1100), text(1100), "2001:db8::"+fmt.Sprint(i)
		names := make([]string, 1+r.Intn(600))
		for j := range names {
			names[j] = text(300)
		}
		a.Columns[0].Count = len(names)
		a.Columns[1].Values = names
		a.Columns[2].Values = []string{text(63), text(63)}
		a.ImpersonatedUsers = []string{text(100)}
		a.Truncated = true
		out = append(out, a)
	}
	return out
}

// rawServer keeps every request.
type rawServer struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (s *rawServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, b)
	s.mu.Unlock()
}

func (s *rawServer) snapshot() ([]*http.Request, [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...), append([][]byte(nil), s.body...)
}

// send delivers the alerts through a Sender configured by the plugin's own
// settings parser, and returns what the server received.
func send(t *testing.T, props config.MapGetter, as []*detect.Alert) ([]*http.Request, [][]byte) {
	t.Helper()
	rs := &rawServer{}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	props["alert_url"] = srv.URL + props["alert_url"]
	props["alert_retry_backoff"] = "10ms"
	cfg, err := config.Parse(props, config.Plugin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := deliver.New(cfg.Delivery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		b, err := a.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !s.Enqueue(a.ID, b) {
			t.Fatalf("alert %s refused", a.ID)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().Sent < uint64(len(as)) {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Close(); st.Dropped() != 0 {
		t.Fatalf("dropped: %+v", st)
	}
	return rs.snapshot()
}

// Each format, received over HTTP from the sender, passes its
// destination's checks, and every alert arrives exactly once.
func TestFormatsReceivedOverHTTP(t *testing.T) {
	const seed = 7
	r := rand.New(rand.NewSource(seed))
	as := alerts(r, 12)
	dir := t.TempDir()
	token := filepath.Join(dir, "hec-token")
	os.WriteFile(token, []byte("0f3c-hec\n"), 0o600)
	cases := []struct {
		format string
		props  config.MapGetter
		check  func(t *testing.T, h http.Header, body []byte) []string // alert ids
	}{
		{"alertmanager", config.MapGetter{"alert_url": "/api/v2/alerts", "alert_generator_url": "https://grafana.example.com/d/x"},
			func(t *testing.T, h http.Header, body []byte) []string {
				as, err := Alertmanager(body)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, a := range as {
					ids = append(ids, a.Annotations["alert_id"])
				}
				return ids
			}},
		{"splunk_hec", config.MapGetter{"alert_url": "/services/collector/event", "alert_splunk_token_file": token,
			"alert_splunk_index": "security", "alert_hostname": "cp-1"},
			func(t *testing.T, h http.Header, body []byte) []string {
				if h.Get("Authorization") != "Splunk 0f3c-hec" {
					t.Errorf("authorization %q", h.Get("Authorization"))
				}
				evs, err := SplunkHEC(body)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, e := range evs {
					var ecs struct {
						Alert struct{ ID string } `json:"alert"`
					}
					if err := json.Unmarshal(e.Event, &ecs); err != nil || *e.Host != "cp-1" || *e.Index != "security" {
						t.Errorf("event %s: %v", e.Event, err)
					}
					ids = append(ids, ecs.Alert.ID)
				}
				return ids
			}},
		{"slack", config.MapGetter{"alert_url": "/services/T000/B000/XXXX"},
			func(t *testing.T, h http.Header, body []byte) []string {
				m, err := Slack(body)
				if err != nil {
					t.Fatalf("%v\n%.2000s", err, body)
				}
				ctx := m.Blocks[len(m.Blocks)-1].Elements[0].Text
				_, rest, _ := strings.Cut(ctx, " alert ")
				id, _, _ := strings.Cut(rest, " ")
				return []string{id}
			}},
		{"falco", config.MapGetter{"alert_url": "/", "alert_hostname": "cp-1"},
			func(t *testing.T, h http.Header, body []byte) []string {
				p, err := Falco(body)
				if err != nil {
					t.Fatalf("%v\n%.2000s", err, body)
				}
				if p.Source != "k8s_audit" || p.Hostname != "cp-1" || p.Output == "" || len(p.Tags) == 0 {
					t.Errorf("payload %+v", p)
				}
				return []string{p.UUID}
			}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			c.props["alert_format"] = c.format
			reqs, bodies := send(t, c.props, as)
			got := map[string]int{}
			for i, req := range reqs {
				if req.Header.Get("Content-Type") != "application/json" || req.Method != http.MethodPost {
					t.Errorf("%s with content type %q", req.Method, req.Header.Get("Content-Type"))
				}
				for _, id := range c.check(t, req.Header, bodies[i]) {
					got[id]++
				}
			}
			for _, a := range as {
				if got[a.ID] != 1 {
					t.Errorf("alert %s received %d times (seed %d)", a.ID, got[a.ID], seed)
				}
			}
		})
	}
}

// Every request of a signed sender verifies with openssl; a changed body
// or timestamp does not.
func TestSignaturesVerifyWithOpenSSL(t *testing.T) {
	key := filepath.Join(t.TempDir(), "hmac")
	os.WriteFile(key, []byte("k3y with spaces & symbols\n"), 0o600)
	for _, f := range []string{"json", "splunk_hec", "slack"} {
		props := config.MapGetter{"alert_url": "/hook", "alert_format": f, "alert_hmac_secret_file": key, "alert_batch_size": "3"}
		reqs, bodies := send(t, props, alerts(rand.New(rand.NewSource(3)), 5))
		for i, req := range reqs {
			ts, sig := req.Header.Get("X-K8s-Secret-Enum-Timestamp"), req.Header.Get("X-K8s-Secret-Enum-Signature")
			want, err := OpenSSLSignature("k3y with spaces & symbols", ts, bodies[i])
			if err != nil {
				t.Fatal(err)
			}
			if sig != want {
				t.Errorf("%s request %d: signature %s, openssl says %s", f, i, sig, want)
			}
			if n, err := fmt.Sscan(ts, new(int64)); n != 1 || err != nil || len(ts) != 10 {
				t.Errorf("timestamp %q is not Unix seconds", ts)
			}
			if tampered, _ := OpenSSLSignature("k3y with spaces & symbols", ts, append([]byte(" "), bodies[i]...)); tampered == sig {
				t.Error("a changed body verifies")
			}
		}
	}
}
