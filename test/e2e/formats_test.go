package e2e

// Destination formats through the .so: each alert_format's requests pass
// their destination's checks (test/destcheck), every request is signed
// verifiably (openssl), and alerts left in the spool by a run with one
// format go out in the format of the next run.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/destcheck"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

const hmacKey = "e2e-hmac-key"

// checkSigned verifies every request's signature with openssl.
func checkSigned(t *testing.T, name string, reqs []receiver.Request) {
	t.Helper()
	for i, q := range reqs {
		ts, sig := q.Header.Get("X-K8s-Secret-Enum-Timestamp"), q.Header.Get("X-K8s-Secret-Enum-Signature")
		want, err := destcheck.OpenSSLSignature(hmacKey, ts, q.RawBody)
		if err != nil {
			t.Fatal(err)
		}
		if ts == "" || sig != want {
			t.Errorf("%s request %d: timestamp %q signature %q, openssl computes %q", name, i, ts, sig, want)
		}
	}
}

func TestFormatsThroughThePlugin(t *testing.T) {
	dir := t.TempDir()
	key, token := filepath.Join(dir, "hmac"), filepath.Join(dir, "hec")
	os.WriteFile(key, []byte(hmacKey+"\n"), 0o600)
	os.WriteFile(token, []byte("hec-token-1\n"), 0o600)
	type check func(t *testing.T, q receiver.Request) (user string, names string)
	cases := []struct {
		format string
		path   string
		kv     []string
		check  check
	}{
		{"alertmanager", "/api/v2/alerts", []string{"alert_generator_url", "https://grafana.example.com/d/k8s-secret-enum"},
			func(t *testing.T, q receiver.Request) (string, string) {
				as, err := destcheck.Alertmanager(q.Body)
				if err != nil || len(as) != 1 {
					t.Fatalf("%v: %s", err, q.Body)
				}
				a := as[0]
				if a.StartsAt != "2026-11-25T10:00:03.000Z" || a.EndsAt != "2026-11-25T10:05:03.000Z" ||
					a.GeneratorURL != "https://grafana.example.com/d/k8s-secret-enum" || a.Labels["severity"] != "high" ||
					a.Labels["source_ip"] != "10.244.3.17" || a.Labels["user_agent"] != "curl/8.5.0" || a.Labels["fingerprint"] == "" ||
					a.Annotations["namespaces"] != "ci, payments" || a.Annotations["outcomes"] != "allow, forbid" {
					t.Errorf("alert %+v", a)
				}
				return a.Labels["user"], a.Annotations["names"]
			}},
		{"splunk_hec", "/services/collector/event", []string{"alert_splunk_token_file", token, "alert_splunk_index", "security",
			"alert_hostname", "cp-1"},
			func(t *testing.T, q receiver.Request) (string, string) {
				if q.Header.Get("Authorization") != "Splunk hec-token-1" {
					t.Errorf("authorization %q", q.Header.Get("Authorization"))
				}
				evs, err := destcheck.SplunkHEC(q.Body)
				if err != nil || len(evs) != 1 {
					t.Fatalf("%v: %s", err, q.Body)
				}
				e := evs[0]
				if *e.Time != 1795600803 || *e.Host != "cp-1" || *e.Index != "security" || *e.Source != "k8s-secret-enum" || *e.Sourcetype != "_json" {
					t.Errorf("envelope %s", q.Body)
				}
				var ecs struct {
					User struct{ Name string } `json:"user"`
					Esql struct {
						Names []string `json:"secrets_names"`
					} `json:"Esql"`
				}
				if err := json.Unmarshal(e.Event, &ecs); err != nil {
					t.Fatal(err)
				}
				return ecs.User.Name, strings.Join(ecs.Esql.Names, ", ")
			}},
		{"slack", "/services/T000/B000/XXXXXXXX", nil,
			func(t *testing.T, q receiver.Request) (string, string) {
				m, err := destcheck.Slack(q.Body)
				if err != nil {
					t.Fatalf("%v: %s", err, q.Body)
				}
				user, _ := strings.CutPrefix(m.Blocks[1].Fields[0].Text, "*User*\n")
				names, _ := strings.CutPrefix(m.Blocks[2].Text.Text, "*Secret names*\n")
				return user, names
			}},
		{"falco", "/", []string{"alert_hostname", "cp-1"},
			func(t *testing.T, q receiver.Request) (string, string) {
				p, err := destcheck.Falco(q.Body)
				if err != nil {
					t.Fatalf("%v: %s", err, q.Body)
				}
				if p.Source != "k8s_audit" || p.Hostname != "cp-1" || p.Priority == 0 || !p.Time.Equal(base.Add(3*time.Second)) {
					t.Errorf("payload %+v", p)
				}
				user, _ := p.OutputFields["ka.user.name"].(string)
				names, _ := p.OutputFields["ka.target.name"].(string)
				return user, names
			}},
	}
	ls := harvest()
	var instances []host.Instance
	recv := make([]*receiver.Receiver, len(cases))
	for i, c := range cases {
		recv[i] = startReceiver(t)
		kv := append([]string{"alert_format", c.format, "alert_hmac_secret_file", key}, c.kv...)
		instances = append(instances, host.Instance{Props: props(recv[i].URL()+c.path, kv...),
			Chunks: mustChunks(t, ls, chunk.Options{}, 4096)})
	}
	res := run(t, host.Config{Instances: instances})
	wantOK(t, res)
	if strings.Contains(res.Stderr, "XXXXXXXX") {
		t.Error("the Slack webhook path (its credential) is in the log")
	}
	for i, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			reqs := recv[i].Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1 (one alert)\n%s", len(reqs), res.Stderr)
			}
			q := reqs[0]
			if q.URI != c.path || q.ContentType != "application/json" || q.Status != 200 {
				t.Errorf("%s %s %q -> %d", q.Method, q.URI, q.ContentType, q.Status)
			}
			user, names := c.check(t, q)
			if user != "system:serviceaccount:ci:runner" || names != "api-token, db-password, registry-creds" {
				t.Errorf("user %q names %q", user, names)
			}
			checkSigned(t, c.format, reqs)
		})
	}
}

// A run that could not deliver leaves its alert in the spool as ECS JSON;
// the next run, configured for Alertmanager, sends it as a postable alert.
func TestSpoolKeepsAlertsAcrossAFormatChange(t *testing.T) {
	r := startReceiver(t)
	r.Down()
	spool := t.TempDir()
	kv := []string{"alert_spool_dir", spool, "alert_drain_timeout", "300ms", "alert_timeout", "200ms",
		"alert_retry_backoff", "20ms", "alert_retry_backoff_max", "50ms", "alert_retry_max", "no_limits"}
	res := run(t, host.Config{Instances: []host.Instance{{Props: props(r.URL()+"/alerts", kv...),
		Chunks: mustChunks(t, harvest(), chunk.Options{}, 0)}}})
	wantOK(t, res)
	if files := spoolFiles(t, spool); len(files) != 1 {
		t.Fatalf("spool holds %v, want the one alert\n%s", files, res.Stderr)
	}
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	kv = append(kv, "alert_format", "alertmanager")
	res = run(t, host.Config{SleepBeforeExit: 500 * time.Millisecond,
		Instances: []host.Instance{{Props: props(r.URL()+"/api/v2/alerts", kv...)}}})
	wantOK(t, res)
	reqs := r.Requests()
	if len(reqs) != 1 || !reqs[0].Accepted() {
		t.Fatalf("%d requests after the restart\n%s", len(reqs), res.Stderr)
	}
	as, err := destcheck.Alertmanager(reqs[0].Body)
	if err != nil || len(as) != 1 || as[0].Labels["user"] != "system:serviceaccount:ci:runner" {
		t.Fatalf("%v: %s", err, reqs[0].Body)
	}
	if files := spoolFiles(t, spool); len(files) != 0 {
		t.Errorf("spool still holds %v", files)
	}
}
