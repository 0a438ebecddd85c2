// Package e2e drives the built plugin (.so) through the C host exactly as
// Fluent Bit's Go proxy does, and checks what reaches a real HTTP receiver.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/chunk"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// base is the time of the crafted events: 2026-11-25T10:00:00Z, a multiple
// of five minutes (an evaluation time in schedule mode).
var base = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// ev is one audit event, as the API server's log backend writes it.
type ev struct {
	at        time.Duration
	verb      string
	resource  string
	name      string
	namespace string
	user      string
	ips       []string
	ua        string
	decision  string
	stage     string
	auditID   string
	noTime    bool
	extra     map[string]any
}

func (e ev) json() []byte {
	if e.verb == "" {
		e.verb = "get"
	}
	if e.resource == "" {
		e.resource = "secrets"
	}
	if e.namespace == "" {
		e.namespace = "prod"
	}
	if e.user == "" {
		e.user = "system:serviceaccount:ci:runner"
	}
	if e.ips == nil {
		e.ips = []string{"10.244.3.17"}
	}
	if e.stage == "" {
		e.stage = "ResponseComplete"
	}
	if e.decision == "" && e.stage != "RequestReceived" {
		e.decision = "allow"
	}
	if e.auditID == "" {
		e.auditID = fmt.Sprintf("00000000-0000-4000-8000-%012d", int64(e.at/time.Millisecond)%1e12)
	}
	m := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
		"auditID": e.auditID, "stage": e.stage,
		"requestURI": "/api/v1/namespaces/" + e.namespace + "/" + e.resource + "/" + e.name,
		"verb":       e.verb,
		"user":       map[string]any{"username": e.user, "groups": []string{"system:authenticated"}},
		"sourceIPs":  e.ips,
		"objectRef":  map[string]any{"resource": e.resource, "namespace": e.namespace, "name": e.name, "apiVersion": "v1"},
	}
	if e.ua != "-" {
		ua := e.ua
		if ua == "" {
			ua = "curl/8.5.0"
		}
		m["userAgent"] = ua
	}
	if !e.noTime {
		ts := base.Add(e.at).Format("2006-01-02T15:04:05.000000Z")
		m["requestReceivedTimestamp"] = ts
		m["stageTimestamp"] = ts
	}
	if e.decision != "" {
		m["annotations"] = map[string]string{"authorization.k8s.io/decision": e.decision, "authorization.k8s.io/reason": ""}
	}
	for k, v := range e.extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func lines(evs ...ev) [][]byte {
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.json()
	}
	return out
}

// noise is benign traffic: lease updates, pod lists, Helm release reads.
func noise(n int, from, step time.Duration) []ev {
	var out []ev
	for i := 0; i < n; i++ {
		at := from + time.Duration(i)*step
		switch i % 3 {
		case 0:
			out = append(out, ev{at: at, verb: "update", resource: "leases", name: "node-1", namespace: "kube-node-lease",
				user: "system:node:node-1", ips: []string{"10.0.0.11"}, ua: "kubelet/v1.29.2"})
		case 1:
			out = append(out, ev{at: at, verb: "list", resource: "pods", user: "system:serviceaccount:kube-system:replicaset-controller",
				ips: []string{"10.0.0.10"}, ua: "kube-controller-manager/v1.29.2"})
		default:
			out = append(out, ev{at: at, name: fmt.Sprintf("sh.helm.release.v1.web.v%d", i), user: "system:serviceaccount:web:helm",
				ips: []string{"10.244.1.5"}, ua: "Helm/3.14.2"})
		}
	}
	return out
}

func mustChunks(t *testing.T, ls [][]byte, o chunk.Options, target int) [][]byte {
	t.Helper()
	if o.FixedTime.IsZero() && o.TimeFunc == nil {
		o.FixedTime = base
	}
	out, err := chunk.Split(ls, target, o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func props(url string, kv ...string) [][2]string {
	p := [][2]string{{"alert_url", url}, {"stats_interval", "0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		p = append(p, [2]string{kv[i], kv[i+1]})
	}
	return p
}

// run runs the host to completion and fails on any host-level problem.
func run(t *testing.T, c host.Config) host.Result {
	t.Helper()
	if c.Bin == "" || c.SO == "" {
		c.Bin, c.SO = host.Build(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := host.Run(ctx, c)
	if err != nil {
		t.Fatalf("host: %v\nstderr:\n%s", err, res.Stderr)
	}
	if res.Signal != "" {
		t.Fatalf("host killed by %s\nstderr:\n%s", res.Signal, res.Stderr)
	}
	return res
}

func wantOK(t *testing.T, res host.Result) {
	t.Helper()
	if res.ExitCode != 0 {
		t.Fatalf("host exit %d\nstdout:\n%s\nstderr:\n%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	for _, f := range res.Flushes {
		if f.RC != 1 {
			t.Fatalf("flush %d of instance %d returned %d\nstderr:\n%s", f.Chunk, f.Instance, f.RC, res.Stderr)
		}
	}
}

func startReceiver(t *testing.T) *receiver.Receiver {
	return receiver.Start(t, receiver.Options{})
}

// summary is an alert reduced to what a comparison needs.
type summary struct {
	ID, Type, At, User, IP, UA string
	Names                      string
	Count                      int
}

func summarize(alerts []receiver.Alert) []summary {
	var out []summary
	for _, a := range alerts {
		s := summary{ID: a.ID, Type: str(a, "alert.type"), At: str(a, "@timestamp"), User: str(a, "user.name"),
			IP: str(a, "source.ip"), UA: str(a, "user_agent.original"), Names: strings.Join(strs(a, "Esql.secrets_names"), ",")}
		if c, ok := a.Get("event.count"); ok {
			s.Count = int(c.(float64))
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].At != out[j].At {
			return out[i].At < out[j].At
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func str(a receiver.Alert, path string) string {
	v, ok := a.Get(path)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

func strs(a receiver.Alert, path string) []string {
	v, _ := a.Get(path)
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// cli is the replay command built by make.
func cli(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("K8S_SECRET_ENUM_CLI"); p != "" {
		return p
	}
	root, err := host.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "build", "k8s-secret-enum")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run make", p)
	}
	return p
}

// replay runs the replay command over lines and returns its alerts.
func replay(t *testing.T, ls [][]byte, kv ...string) []summary {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	var b strings.Builder
	for _, l := range ls {
		b.Write(l)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "-q"}
	for i := 0; i+1 < len(kv); i += 2 {
		args = append(args, "-p", kv[i]+"="+kv[i+1])
	}
	out, err := exec.Command(cli(t), append(args, path)...).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	var alerts []receiver.Alert
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("replay output: %v: %s", err, line)
		}
		a := receiver.Alert{Fields: m}
		a.ID = str(a, "alert.id")
		alerts = append(alerts, a)
	}
	return summarize(alerts)
}
