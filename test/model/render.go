package model

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// noise is traffic the rule must not count, or counts only under some
// settings: other verbs and resources, excluded users, loopback, Helm's
// release secrets, case variants.
func (g *gen) noise(n int) {
	for i := 0; i < n; i++ {
		t := g.at()
		var rq req
		switch g.r.Intn(10) {
		case 0, 1, 2:
			rq = req{verb: pick(g.r, []string{"list", "watch", "update", "create", "patch", "delete"}),
				resource: pick(g.r, []string{"pods", "configmaps", "leases", "events", "secrets"}),
				user:     "system:serviceaccount:kube-system:replicaset-controller", ips: []string{"10.0.0.10"},
				ua: "kube-controller-manager/v1.29.2"}
		case 3:
			rq = g.get(t, pick(g.r, []string{"system:kube-controller-manager", "system:kube-scheduler"}),
				[]string{"10.0.0.1"}, "kube-controller-manager/v1.29.2", g.name(), pick(g.r, namespaces))
		case 4:
			ip := pick(g.r, []string{"127.0.0.1", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1", "fe80::1%eth0"})
			rq = g.get(t, "system:apiserver", []string{ip}, "kube-apiserver/v1.29.2", g.name(), "kube-system")
		case 5:
			// A Helm run: a fresh pod now and then, the release's secrets.
			ns := pick(g.r, namespaces)
			rq = g.get(t, "system:serviceaccount:"+ns+":helm", []string{fmt.Sprintf("10.244.1.%d", g.r.Intn(40))},
				"Helm/3.14.2", fmt.Sprintf("sh.helm.release.v1.%s.v%d", ns, g.r.Intn(30)), ns)
		case 6:
			rq = g.get(t, "alice", []string{"192.0.2.9"}, "kubectl", g.name(), "default")
			rq.verb = pick(g.r, []string{"GET", "Get", "get "})
		case 7:
			rq = g.get(t, "alice", []string{"192.0.2.9"}, "kubectl", g.name(), "default")
			rq.resource = pick(g.r, []string{"Secrets", "secret", "secrets/status"})
		default:
			rq = req{verb: "get", resource: pick(g.r, []string{"configmaps", "pods", "namespaces"}),
				name: g.name(), namespace: pick(g.r, namespaces), user: "system:node:node-1",
				ips: []string{"10.0.0.3"}, ua: "kubelet/v1.29.2"}
		}
		rq.t = t
		rq.twoStages = g.chance(0.5)
		g.reqs = append(g.reqs, rq)
	}
}

// Timestamp formats: the API server's microseconds, whole seconds, nanoseconds,
// milliseconds, and a zone offset.
const (
	fmtMicro = iota
	fmtSeconds
	fmtNano
	fmtMilli
	fmtOffset
)

func truncate(t int64, f int) int64 {
	switch f {
	case fmtSeconds:
		return t - t%int64(time.Second)
	case fmtNano:
		return t
	case fmtMilli:
		return t - t%int64(time.Millisecond)
	}
	return t - t%int64(time.Microsecond)
}

func formatAs(t int64, f int) string {
	u := time.Unix(0, t).UTC()
	switch f {
	case fmtSeconds:
		return u.Format("2006-01-02T15:04:05Z")
	case fmtNano:
		return u.Format("2006-01-02T15:04:05.000000000Z")
	case fmtMilli:
		return u.Format("2006-01-02T15:04:05.000Z")
	case fmtOffset:
		return u.In(time.FixedZone("", 5*3600+1800)).Format("2006-01-02T15:04:05.000000Z07:00")
	}
	return u.Format("2006-01-02T15:04:05.000000Z")
}

// render turns requests into lines in event-time order.
func (g *gen) render() [][]byte {
	formats := make([]int, len(g.reqs))
	for i := range g.reqs {
		f := fmtMicro
		switch x := g.r.Intn(100); {
		case g.reqs[i].seconds || x < 3:
			f = fmtSeconds
		case x < 6:
			f = fmtNano
			g.reqs[i].t += g.r.Int63n(1000)
		case x < 9:
			f = fmtMilli
		case x < 12:
			f = fmtOffset
		}
		formats[i] = f
		g.reqs[i].t = truncate(g.reqs[i].t, f)
	}
	idx := make([]int, len(g.reqs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return g.reqs[idx[a]].t < g.reqs[idx[b]].t })

	var lines [][]byte
	var batch []any // items of an EventList being filled
	flush := func() {
		if len(batch) > 0 {
			lines = append(lines, marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
				"metadata": map[string]any{}, "items": batch}))
			batch = nil
		}
	}
	batchLeft := 0
	for _, i := range idx {
		rq, f := g.reqs[i], formats[i]
		id := g.auditID()
		stages := []string{"ResponseComplete"}
		if rq.twoStages {
			stages = []string{"RequestReceived", "ResponseComplete"}
		}
		for _, stage := range stages {
			ev := g.event(rq, f, stage, id)
			if raw, ok := g.mutate(ev, rq, f); ok {
				flush()
				lines = append(lines, raw)
				continue
			}
			if batchLeft == 0 && g.chance(0.03) {
				batchLeft = 2 + g.r.Intn(6)
			}
			if batchLeft > 0 {
				batch = append(batch, ev)
				if batchLeft--; batchLeft == 0 {
					flush()
				}
				continue
			}
			lines = append(lines, marshal(ev))
		}
		if !g.p.Clean && g.chance(0.002) {
			flush()
			lines = append(lines, []byte(pick(g.r, []string{"not json", "", "[1,2]", "42", `{"log":"hello"}`,
				`{"verb":"get","objectRef":{"resource":"secrets","name":"x"}}`, `"a string"`, "{", "null"})))
		}
	}
	flush()
	return lines
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (g *gen) auditID() string {
	g.ids++
	switch g.r.Intn(20) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("req-%d", g.ids)
	case 2:
		return fmt.Sprintf("%08X-0000-4000-8000-%012X", g.r.Int31(), g.ids)
	}
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.r.Uint32(), g.r.Intn(1<<16), g.r.Intn(1<<12),
		g.r.Intn(1<<12), g.ids)
}

// event is one stage of a request as the log backend writes it.
func (g *gen) event(rq req, f int, stage, id string) map[string]any {
	stageAt := rq.t
	if stage == "ResponseComplete" {
		stageAt = truncate(rq.t+rq.latency, f)
	}
	ev := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "stage": stage,
		"requestURI": "/api/v1/namespaces/" + rq.namespace + "/" + rq.resource + "/" + rq.name,
		"verb":       rq.verb,
		"user":       map[string]any{"username": rq.user, "groups": []string{"system:authenticated"}},
		"sourceIPs":  rq.ips,
		"objectRef": map[string]any{"resource": rq.resource, "namespace": rq.namespace, "name": rq.name,
			"apiVersion": "v1"},
		"requestReceivedTimestamp": formatAs(rq.t, f),
		"stageTimestamp":           formatAs(stageAt, f),
	}
	if id != "" {
		ev["auditID"] = id
	}
	if rq.ua != "" {
		ev["userAgent"] = rq.ua
	}
	if rq.imp != "" {
		ev["impersonatedUser"] = map[string]any{"username": rq.imp, "groups": []string{"system:masters"}}
	}
	if stage == "ResponseComplete" {
		ev["annotations"] = map[string]any{"authorization.k8s.io/decision": rq.decision,
			"authorization.k8s.io/reason": ""}
		ev["responseStatus"] = map[string]any{"code": 200}
	}
	return ev
}

// mutate damages a few events the ways real and hostile logs do. It returns
// a raw line when the damage cannot be expressed as a map.
func (g *gen) mutate(ev map[string]any, rq req, f int) ([]byte, bool) {
	if !g.chance(0.06) {
		return nil, false
	}
	at := formatAs(rq.t, f)
	switch g.r.Intn(24) {
	case 0:
		delete(ev, "userAgent")
	case 1:
		ev["userAgent"] = ""
	case 2:
		ev["user"] = map[string]any{"username": ""}
	case 3:
		ev["user"] = map[string]any{"username": 42}
	case 4:
		delete(ev, "user")
	case 5:
		ev["objectRef"].(map[string]any)["name"] = ""
	case 6:
		delete(ev["objectRef"].(map[string]any), "name")
	case 7:
		ev["sourceIPs"] = []string{}
	case 8:
		if len(rq.ips) > 0 {
			ev["sourceIPs"] = rq.ips[len(rq.ips)-1] // a single string
		}
	case 9:
		ev["sourceIPs"] = append([]any{7}, toAny(rq.ips)...)
	case 10:
		delete(ev, "requestReceivedTimestamp") // stageTimestamp is the time
		ev["stageTimestamp"] = at
	case 11:
		ev["requestReceivedTimestamp"] = "yesterday"
		ev["stageTimestamp"] = at
	case 12:
		delete(ev, "requestReceivedTimestamp")
		delete(ev, "stageTimestamp")
		ev["timestamp"] = at // the 2017 shape
	case 13:
		if !g.p.Clean { // whether the stageTimestamp is used is for the rule to say
			ev["requestReceivedTimestamp"] = "2300-01-01T00:00:00Z"
			ev["stageTimestamp"] = at
		}
	case 14:
		if !g.p.Clean {
			delete(ev, "requestReceivedTimestamp")
			delete(ev, "stageTimestamp")
		}
	case 15:
		if !g.p.Clean {
			ev["requestReceivedTimestamp"] = "1969-12-31T23:59:59Z"
			delete(ev, "stageTimestamp")
		}
	case 16:
		delete(ev, "kind")
		delete(ev, "auditID") // still an audit event: it has a stage
	case 17:
		delete(ev, "kind")
		delete(ev, "auditID")
		delete(ev, "stage") // not an audit event
	case 18:
		ev["verb"] = 1
	case 19:
		delete(ev, "annotations")
	case 20:
		ev["impersonatedUser"] = map[string]any{"username": pick(g.r, []string{"", "system:admin", "carol"})}
	case 21:
		ev["objectRef"].(map[string]any)["namespace"] = ""
	case 22:
		// Repeated keys: the last one holds.
		b := marshal(ev)
		return append([]byte(`{"verb":"list","objectRef":{"name":"decoy"},"sourceIPs":["192.0.2.200"],`), b[1:]...), true
	default:
		ev["stage"] = "ResponseStarted"
	}
	return nil, false
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// Lines joins lines into a JSON-lines text, for replay and failure dumps.
func Lines(lines [][]byte) string {
	var b strings.Builder
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}
