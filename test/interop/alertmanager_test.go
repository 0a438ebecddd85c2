package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	v2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/api/v2/models"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/labelset"
	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

// alertmanager is Alertmanager's API v2 handler over an in-memory alert
// store, in classic mode: label and annotation names must match
// [a-zA-Z_][a-zA-Z0-9_]*, the strictest of its modes. It records every
// request's body and status.
type alertmanager struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	statuses []int
	answers  []string
}

var classicOnce sync.Once

func startAlertmanager(t *testing.T) *alertmanager {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	flags, err := featurecontrol.NewFlags(logger, featurecontrol.FeatureClassicMode)
	if err != nil {
		t.Fatal(err)
	}
	// The matcher and label-name rules are process-wide in Alertmanager.
	classicOnce.Do(func() { compat.InitFromFlags(logger, flags) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	reg := prometheus.NewRegistry()
	store, err := mem.NewAlerts(ctx, time.Minute, 0, nil, logger, eventrecorder.NopRecorder(), reg, flags)
	if err != nil {
		t.Fatal(err)
	}
	api, err := v2.NewAPI(store, nil, nil, nil, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := amconfig.Load("route:\n  receiver: r\nreceivers:\n- name: r\n")
	if err != nil {
		t.Fatal(err)
	}
	api.Update(cfg, func(context.Context, labelset.LabelSet) {})
	am := &alertmanager{}
	mux := http.NewServeMux()
	mux.Handle("/api/v2/", api.Handler)
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if r.Method == http.MethodPost {
			am.mu.Lock()
			am.bodies = append(am.bodies, body)
			am.statuses = append(am.statuses, rec.Code)
			am.answers = append(am.answers, rec.Body.String())
			am.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(am.Close)
	return am
}

func (am *alertmanager) post(t *testing.T, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// active lists the firing alerts Alertmanager holds.
func (am *alertmanager) active(t *testing.T) models.GettableAlerts {
	t.Helper()
	resp, err := http.Get(am.URL + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="`+format.AlertName+`"`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var as models.GettableAlerts
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET alerts: %d %v", resp.StatusCode, err)
	}
	return as
}

// validate decodes a body as Alertmanager does and applies its models'
// validation, then the classic label-name rule and UTF-8 values.
func validate(body []byte) (models.PostableAlerts, error) {
	var as models.PostableAlerts
	if err := json.Unmarshal(body, &as); err != nil {
		return nil, fmt.Errorf("decoding postable alerts: %w", err)
	}
	if err := as.Validate(strfmt.Default); err != nil {
		return nil, fmt.Errorf("PostableAlerts.Validate: %w", err)
	}
	for i, a := range as {
		for kind, set := range map[string]models.LabelSet{"label": a.Labels, "annotation": a.Annotations} {
			for k, v := range set {
				if !model.LabelName(k).IsValidLegacy() || !model.LabelValue(v).IsValid() || v == "" {
					return nil, fmt.Errorf("%d: %s %q=%q refused by classic mode or empty", i, kind, k, v)
				}
			}
		}
		if time.Time(a.EndsAt).Before(time.Time(a.StartsAt)) || time.Time(a.StartsAt).IsZero() {
			return nil, fmt.Errorf("%d: startsAt %v endsAt %v", i, a.StartsAt, a.EndsAt)
		}
	}
	return as, nil
}

// hostile is an alert whose text fields are long and full of characters
// that break naive encoders.
func hostile(r *rand.Rand, i int, at time.Time) *detect.Alert {
	text := func(max int) string {
		alphabet := []rune("ab<>&\"\\é😀\u2028\u0000\t:/.= {}")
		var b strings.Builder
		for n := 1 + r.Intn(max); b.Len() < n; {
			b.WriteRune(alphabet[r.Intn(len(alphabet))])
		}
		return b.String()
	}
	names := make([]string, 1+r.Intn(300))
	for j := range names {
		names[j] = text(250)
	}
	a := &detect.Alert{
		Rule: rule.RapidSecretGet, ID: fmt.Sprintf("00000000-0000-5000-8000-%012d", i), Type: detect.AlertNew,
		Mode: detect.Mode(r.Intn(2)), Timestamp: at.UnixNano(), WindowStart: at.Add(-6 * time.Minute).UnixNano(), WindowEnd: at.UnixNano(),
		User: text(500), SourceIP: "10.0.0." + fmt.Sprint(i), UserAgent: text(500), HasUserAgent: r.Intn(2) == 0,
		Columns: []detect.ColumnValue{
			{Name: "unique_credentials", Count: len(names)},
			{Name: "secrets_names", Values: names, IsList: true},
			{Name: "namespaces", Values: []string{text(63)}, IsList: true},
			{Name: "outcome", Values: []string{"allow"}, IsList: true},
		},
		EventCount: len(names), Fingerprint: fmt.Sprintf("%020d", i), ImpersonatedUsers: []string{text(40)},
	}
	return a
}

// What the format makes of any alert passes Alertmanager's models and its
// API handler in classic mode.
func TestFormatPassesAlertmanager(t *testing.T) {
	const seed = 11
	r := rand.New(rand.NewSource(seed))
	am := startAlertmanager(t)
	f := &format.Format{Name: format.Alertmanager, Suppress: 5 * time.Minute, Interval: 5 * time.Minute, Window: 6 * time.Minute,
		GeneratorURL: "https://grafana.example.com/d/k8s-secret-enum?var-user=a&b=c#panel", MaxNames: 10}
	now := time.Now()
	var items [][]byte
	for i := 0; i < 40; i++ {
		ecs, err := hostile(r, i, now.Add(-time.Duration(i)*time.Second)).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		it, err := f.Item(ecs)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	body := f.Frame(items)
	as, err := validate(body)
	if err != nil {
		t.Fatalf("%v (seed %d)", err, seed)
	}
	if len(as) != 40 {
		t.Fatalf("%d alerts", len(as))
	}
	if status, answer := am.post(t, body); status != http.StatusOK {
		t.Fatalf("Alertmanager answered %d %s (seed %d)", status, answer, seed)
	}
	if got := am.active(t); len(got) != 40 {
		t.Errorf("Alertmanager holds %d active alerts, want 40 (one per fingerprint)", len(got))
	}
	// The validation can fail: what Alertmanager refuses, it refuses.
	for _, bad := range []string{`[{"labels":{"alertname":"x","source-ip":"1"},"startsAt":"2025-01-01T00:00:00Z","endsAt":"2025-01-01T00:05:00Z"}]`,
		`[{"annotations":{"a":"b"}}]`, `[{"labels":{"a":"b"},"generatorURL":"not a uri"}]`, `{"labels":{"a":"b"}}`} {
		if _, err := validate([]byte(bad)); err == nil {
			t.Errorf("validate accepted %s", bad)
		}
		if status, _ := am.post(t, []byte(bad)); status == http.StatusOK {
			t.Errorf("Alertmanager accepted %s", bad)
		}
	}
}

// auditLine is one audit event the rule counts.
func auditLine(at time.Time, name, ns string) []byte {
	b, _ := json.Marshal(map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": "ResponseComplete",
		"auditID": fmt.Sprintf("00000000-0000-4000-8000-%012d", at.UnixMilli()%1e12), "verb": "get",
		"requestURI": "/api/v1/namespaces/" + ns + "/secrets/" + name,
		"user":       map[string]any{"username": "system:serviceaccount:ci:runner"},
		"sourceIPs":  []string{"10.244.3.17"}, "userAgent": "curl/8.5.0",
		"objectRef":                map[string]any{"resource": "secrets", "namespace": ns, "name": name, "apiVersion": "v1"},
		"requestReceivedTimestamp": at.UTC().Format(time.RFC3339Nano), "stageTimestamp": at.UTC().Format(time.RFC3339Nano),
		"annotations": map[string]string{"authorization.k8s.io/decision": "allow"},
	})
	return b
}

// The plugin's .so, run in the C host as Fluent Bit runs it, posts a new
// alert and, at exit, its update straight to Alertmanager: both are
// accepted, pass the models' validation, and are one Alertmanager alert
// (one label set), which carries the update's annotations.
func TestPluginPostsToAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	now := time.Now().Truncate(time.Second)
	t0 := now.Add(-30 * time.Second)
	lines := [][]byte{
		auditLine(t0, "db-password", "payments"), auditLine(t0.Add(time.Second), "api-token", "payments"),
		auditLine(t0.Add(2*time.Second), "registry-creds", "ci"),
		// After the new alert, during its mute period: reported by the
		// update at exit.
		auditLine(t0.Add(10*time.Second), "tls-key", "ci"), auditLine(t0.Add(11*time.Second), "oauth-client", "ci"),
	}
	chunks, err := chunk.Split(lines, 0, chunk.Options{Format: chunk.V2, Time: chunk.TimeFixExt8, Shape: chunk.LogString, FixedTime: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, so := host.Build(t)
	res, err := host.Run(ctx, host.Config{Bin: bin, SO: so, Instances: []host.Instance{{
		Props: [][2]string{{"alert_url", am.URL + "/api/v2/alerts"}, {"alert_format", "alertmanager"},
			{"alert_generator_url", "https://grafana.example.com/d/k8s-secret-enum"}, {"stats_interval", "0"}},
		Chunks: chunks,
	}}})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("host: %v exit %d\n%s", err, res.ExitCode, res.Stderr)
	}
	am.mu.Lock()
	bodies, statuses, answers := am.bodies, am.statuses, am.answers
	am.mu.Unlock()
	var posted models.PostableAlerts
	for i, b := range bodies {
		if statuses[i] != http.StatusOK {
			t.Errorf("Alertmanager answered %d %s to\n%s", statuses[i], answers[i], b)
		}
		as, err := validate(b)
		if err != nil {
			t.Errorf("%v\n%s", err, b)
		}
		posted = append(posted, as...)
	}
	if len(posted) != 2 || posted[0].Annotations["alert_type"] != "new" || posted[1].Annotations["alert_type"] != "update" {
		t.Fatalf("posted %d alerts, want the new one and its update\n%s", len(posted), res.Stderr)
	}
	if !labelsEqual(posted[0].Labels, posted[1].Labels) {
		t.Errorf("new and update have different label sets: %v / %v", posted[0].Labels, posted[1].Labels)
	}
	active := am.active(t)
	if len(active) != 1 {
		t.Fatalf("Alertmanager holds %d alerts, want one", len(active))
	}
	a := active[0]
	if a.Annotations["alert_type"] != "update" || a.Annotations["distinct_names"] != "5" ||
		a.Labels["user"] != "system:serviceaccount:ci:runner" || a.GeneratorURL.String() != "https://grafana.example.com/d/k8s-secret-enum" {
		t.Errorf("held alert: labels %v annotations %v", a.Labels, a.Annotations)
	}
}

func labelsEqual(a, b models.LabelSet) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
