package flb

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// t0 is the time of the crafted events: in the past (so that no clock
// check applies) and a multiple of five minutes.
var t0 = time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC)

// marker is in every secret payload of a RequestResponse event: it must
// never reach an alert or a log.
const marker = "LEAKMARKER-flb-5e1c"

// client is a fingerprint: user, source IP, user agent.
type client struct{ user, ip, ua string }

var (
	ciRunner = client{"system:serviceaccount:ci:runner", "10.244.3.17", "curl/8.5.0"}
	mallory  = client{"mallory@example.com", "203.0.113.9", "kubectl/v1.30.1 (linux/amd64)"}
	scanner  = client{"system:serviceaccount:tools:scanner", "10.244.7.2", "python-requests/2.31"}
	intruder = client{"system:serviceaccount:web:frontend", "10.244.1.44", "Go-http-client/2.0"}
	backup   = client{"system:serviceaccount:ops:backup", "10.244.9.3", "velero/1.13"}
	// not alerting: excluded user, excluded address, too few names
	controller = client{"system:kube-controller-manager", "10.0.0.10", "kube-controller-manager/v1.30.1"}
	loopback   = client{"system:apiserver", "127.0.0.1", "kube-apiserver/v1.30.1"}
	developer  = client{"dev@example.com", "192.0.2.10", "kubectl/v1.30.1 (linux/amd64)"}
)

// ev is one audit event as the API server's log backend writes it.
type ev struct {
	at        time.Duration // after t0
	c         client
	verb      string // default get
	resource  string // default secrets
	name      string
	namespace string // default prod
	stage     string // default ResponseComplete
	payload   int    // > 0: level RequestResponse with a secret of this many bytes in responseObject
	id        int
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
	if e.stage == "" {
		e.stage = "ResponseComplete"
	}
	ts := t0.Add(e.at).Format("2006-01-02T15:04:05.000000Z")
	m := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
		"auditID":                  fmt.Sprintf("00000000-0000-4000-8000-%012d", e.id),
		"stage":                    e.stage,
		"requestURI":               "/api/v1/namespaces/" + e.namespace + "/" + e.resource + "/" + e.name,
		"verb":                     e.verb,
		"user":                     map[string]any{"username": e.c.user, "groups": []string{"system:authenticated"}},
		"sourceIPs":                []string{e.c.ip},
		"userAgent":                e.c.ua,
		"objectRef":                map[string]any{"resource": e.resource, "namespace": e.namespace, "name": e.name, "apiVersion": "v1"},
		"requestReceivedTimestamp": ts,
		"stageTimestamp":           ts,
		"annotations":              map[string]string{"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
	}
	if e.name == "" {
		m["requestURI"] = "/api/v1/namespaces/" + e.namespace + "/" + e.resource
		delete(m["objectRef"].(map[string]any), "name")
	}
	if e.stage != "RequestReceived" {
		m["responseStatus"] = map[string]any{"metadata": map[string]any{}, "code": 200}
	}
	if e.payload > 0 {
		m["level"] = "RequestResponse"
		m["responseObject"] = map[string]any{
			"kind": "Secret", "apiVersion": "v1", "type": "Opaque",
			"metadata": map[string]any{"name": e.name, "namespace": e.namespace},
			"data":     map[string]string{"payload": secretPayload(e.payload, e.id)},
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// secretPayload is n bytes of base64 holding the marker.
func secretPayload(n, seed int) string {
	raw := make([]byte, n*3/4)
	r := rand.New(rand.NewSource(int64(seed)))
	r.Read(raw)
	copy(raw, marker)
	return base64.StdEncoding.EncodeToString(raw)
}

// stream is a list of events written in time order.
type stream []ev

// lines renders the events sorted by time (ties keep their order) and
// numbers their audit IDs.
func (s stream) lines() [][]byte {
	s = append(stream(nil), s...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].at < s[j].at })
	out := make([][]byte, len(s))
	for i, e := range s {
		if e.id == 0 {
			e.id = i + 1
		}
		out[i] = e.json()
	}
	return out
}

// harvest is c reading one secret per name, step apart from at.
func harvest(c client, at, step time.Duration, names ...string) stream {
	var s stream
	for i, n := range names {
		s = append(s, ev{at: at + time.Duration(i)*step, c: c, name: n, namespace: fmt.Sprintf("ns-%d", i%3)})
	}
	return s
}

// noise is n benign events from `from` on, step apart: lease renewals, pod
// lists, Helm release reads (excluded names), the controller manager
// (excluded user), the API server on loopback (excluded address), a
// developer reading the same two secrets again and again (below the
// threshold). None of it alerts.
func noise(seed int64, n int, from, step time.Duration) stream {
	r := rand.New(rand.NewSource(seed))
	var s stream
	for i := 0; i < n; i++ {
		at := from + time.Duration(i)*step
		switch r.Intn(8) {
		case 0, 1:
			s = append(s, ev{at: at, c: client{fmt.Sprintf("system:node:node-%d", r.Intn(20)), "10.0.0.11", "kubelet/v1.30.1"},
				verb: "update", resource: "leases", namespace: "kube-node-lease", name: fmt.Sprintf("node-%d", r.Intn(20))})
		case 2:
			s = append(s, ev{at: at, c: client{"system:serviceaccount:kube-system:replicaset-controller", "10.0.0.10", "kube-controller-manager/v1.30.1"},
				verb: "list", resource: "pods"})
		case 3:
			s = append(s, ev{at: at, c: client{"system:serviceaccount:web:helm", "10.244.1.5", "Helm/3.14.2"},
				name: fmt.Sprintf("sh.helm.release.v1.web.v%d", r.Intn(50)), namespace: "web"})
		case 4:
			s = append(s, ev{at: at, c: controller, name: fmt.Sprintf("token-%d", r.Intn(100)), namespace: "kube-system"})
		case 5:
			s = append(s, ev{at: at, c: loopback, name: fmt.Sprintf("cert-%d", r.Intn(100)), namespace: "kube-system"})
		case 6:
			s = append(s, ev{at: at, c: developer, name: []string{"app-config", "app-db"}[r.Intn(2)], namespace: "dev"})
		default:
			s = append(s, ev{at: at, c: client{"system:serviceaccount:cert-manager:cert-manager", "10.244.2.9", "cert-manager/v1.14.4"},
				name: "webhook-server-cert", namespace: "cert-manager"})
		}
	}
	return s
}

// sentinelClient reads the sentinel harvest.
var sentinelClient = client{"system:serviceaccount:test:sentinel", "10.244.99.99", "sentinel/1.0"}

// sentinel is a harvest for the end of a stream: three names 1 ms apart
// from at. Once its alert has arrived, the input has read every line
// before it, and what is left in Fluent Bit's buffers is flushed at exit.
// (A stop before the input has read a file to its end loses the rest.)
func sentinel(at time.Duration) (stream, want) { return sentinelOf(3, at) }

// sentinelOf is a sentinel of n names, for a threshold of n.
func sentinelOf(n int, at time.Duration) (stream, want) {
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, fmt.Sprintf("sentinel-%d", i+1))
	}
	return harvest(sentinelClient, at, time.Millisecond, names...),
		want{typ: "new", c: sentinelClient, at: at + time.Duration(n-1)*time.Millisecond, names: names}
}

// waitForSentinel waits for the sentinel's alert.
func waitForSentinel(t *testing.T, rcv *receiver.Receiver) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		alerts := rcv.Alerts()
		for _, a := range alerts {
			if str(a, "user.name") == sentinelClient.user {
				return
			}
		}
		if _, err := rcv.WaitForAlerts(len(alerts)+1, time.Until(deadline)); err != nil {
			t.Fatalf("no alert of the sentinel harvest: %v", err)
		}
	}
}

// want is an expected alert.
type want struct {
	typ   string // new, update
	c     client
	at    time.Duration // @timestamp, after t0
	names []string
}

func (w want) key() string {
	names := append([]string(nil), w.names...)
	sort.Strings(names)
	return fmt.Sprintf("%s %s@%s (%s) at %s: %s", w.typ, w.c.user, w.c.ip, w.c.ua,
		t0.Add(w.at).Format("2006-01-02T15:04:05.000000000Z"), strings.Join(names, ","))
}

func gotKey(a receiver.Alert) string {
	return fmt.Sprintf("%s %s@%s (%s) at %s: %s", str(a, "alert.type"), str(a, "user.name"), str(a, "source.ip"),
		str(a, "user_agent.original"), str(a, "@timestamp"), strings.Join(strs(a, "Esql.secrets_names"), ","))
}

func str(a receiver.Alert, path string) string {
	v, _ := a.Get(path)
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
	sort.Strings(out)
	return out
}

// exactly checks that the alerts are the wanted ones, each once.
func exactly(t *testing.T, got []receiver.Alert, wants ...want) {
	t.Helper()
	compare(t, got, false, wants...)
}

// dedupedExactly checks that the alerts are the wanted ones once
// duplicates of an alert.id are removed, and that the copies of one id are
// the same alert.
func dedupedExactly(t *testing.T, got []receiver.Alert, wants ...want) {
	t.Helper()
	compare(t, got, true, wants...)
}

func compare(t *testing.T, got []receiver.Alert, dedupe bool, wants ...want) {
	t.Helper()
	var want []string
	for _, w := range wants {
		want = append(want, w.key())
	}
	sort.Strings(want)
	byID := map[string]string{}
	var have []string
	dups := 0
	for _, a := range got {
		k := gotKey(a)
		if a.ID == "" {
			t.Errorf("alert without alert.id: %s", a.Raw)
		}
		if prev, ok := byID[a.ID]; ok {
			dups++
			if prev != k {
				t.Errorf("alert.id %s names two different alerts:\n  %s\n  %s", a.ID, prev, k)
			}
			if dedupe {
				continue
			}
		}
		byID[a.ID] = k
		have = append(have, k)
		if strings.Contains(string(a.Raw), marker) {
			t.Errorf("secret payload reached an alert: %s", a.Raw)
		}
		if n, ok := a.Get("Esql.unique_credentials"); !ok || int(n.(float64)) != len(strs(a, "Esql.secrets_names")) {
			t.Errorf("unique_credentials %v does not count the names: %s", n, k)
		}
	}
	sort.Strings(have)
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts received (%d, %d duplicate ids):\n  %s\nwant (%d):\n  %s", len(got), dups,
			strings.Join(have, "\n  "), len(want), strings.Join(want, "\n  "))
	}
	if dups > 0 {
		t.Logf("%d duplicate deliveries (same alert.id) removed", dups)
	}
}

// logHasNoMarker checks that no secret payload reached a log.
func logHasNoMarker(t *testing.T, name, out string) {
	t.Helper()
	if strings.Contains(out, marker) {
		t.Errorf("%s logged a secret payload", name)
	}
}
