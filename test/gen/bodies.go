package gen

import (
	"bytes"
	"strings"
)

// valueSpec locates a secret value in blob64, with the marker spliced in at
// mpos.
type valueSpec struct{ off, n, mpos int }

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var fillerWords = strings.Fields(`the pod container image pull node ready condition status spec replica selector label
annotation volume mount secret config map service endpoint port protocol TCP UDP deployment rollout revision
controller manager scheduler kubelet lease renew holder namespace default cluster role binding subject rule verb
resource group version kind metadata generation observed reason message type true false unknown running pending
succeeded failed terminated waiting restart backoff liveness readiness probe http get path /healthz initial delay
period timeout threshold success failure memory cpu limit request ephemeral storage affinity toleration taint
effect NoSchedule NoExecute key operator exists equal value priority class preemption policy never ingress egress
network policy from to ip block cidr except pod selector match labels expressions in notin schema description
properties required items array object string integer boolean format int32 int64 date-time x-kubernetes-preserve
unknown fields openAPIV3Schema served storage subresources scale additional printer columns jsonPath`)

func (g *Generator) initBlobs() {
	r := newRNG(mix64(g.seed, 4))
	g.blob64 = make([]byte, 1<<19)
	for i := 0; i < len(g.blob64); i += 8 {
		x := r.next()
		for j := 0; j < 8 && i+j < len(g.blob64); j++ {
			g.blob64[i+j] = b64Alphabet[x&63]
			x >>= 8
		}
	}
	var t []byte
	for len(t) < 1<<18 {
		t = append(t, pick(&r, fillerWords)...)
		if r.chance(0.08) {
			t = append(t, '.')
		}
		t = append(t, ' ')
	}
	g.text = t
	if g.marker != "" {
		scrub(g.blob64, []byte(g.marker), 'A')
		scrub(g.text, []byte(g.marker), ' ')
	}
}

// scrub removes accidental occurrences of m from b.
func scrub(b, m []byte, repl byte) {
	for {
		i := bytes.Index(b, m)
		if i < 0 {
			return
		}
		if b[i] == repl {
			b[i] = repl + 1
		} else {
			b[i] = repl
		}
	}
}

func (g *Generator) newValue(o *rng, n int) valueSpec {
	n = min(max(n, 4), len(g.blob64)-1)
	return valueSpec{off: o.intn(len(g.blob64) - n), n: n, mpos: o.intn(n + 1)}
}

func (g *Generator) appendValue(b []byte, v valueSpec) []byte {
	b = append(b, g.blob64[v.off:v.off+v.mpos]...)
	b = append(b, g.markerEsc...)
	return append(b, g.blob64[v.off+v.mpos:v.off+v.n]...)
}

// appendText appends about n bytes of filler prose (no JSON escaping needed).
func (g *Generator) appendText(b []byte, o *rng, n int) []byte {
	n = min(max(n, 1), len(g.text)-1)
	off := o.intn(len(g.text) - n)
	return append(b, g.text[off:off+n]...)
}

func secretValueLen(o *rng, key string) int {
	switch key {
	case "tls.crt":
		return o.between(1800, 4500)
	case "tls.key":
		return o.between(1600, 3300)
	case "ca.crt":
		return o.between(1400, 2000)
	case ".dockerconfigjson":
		return o.between(150, 420)
	case "release":
		return int(o.logUniform(6000, 110000))
	case "token":
		return o.between(1100, 1300)
	case "namespace", "token-id", "usage-bootstrap-authentication", "usage-bootstrap-signing":
		return o.between(8, 20)
	case "config.yaml", "identity":
		return o.between(400, 3200)
	}
	return o.between(16, 90)
}

func (g *Generator) appendMetaStart(b []byte, withKind bool, kind, apiVersion string) []byte {
	if withKind {
		b = append(b, `{"kind":"`...)
		b = append(b, kind...)
		b = append(b, `","apiVersion":"`...)
		b = append(b, apiVersion...)
		b = append(b, `","metadata":{`...)
		return b
	}
	return append(b, `{"metadata":{`...)
}

// appendMetaIdent writes name/namespace and either the server-set fields or
// the client's "creationTimestamp":null.
func appendMetaIdent(b []byte, name, ns, uid string, rv, created int64, server bool) []byte {
	first := true
	if name != "" {
		b = append(b, `"name":`...)
		b = appendStr(b, name)
		first = false
	}
	if ns != "" {
		if !first {
			b = append(b, ',')
		}
		b = append(b, `"namespace":`...)
		b = appendStr(b, ns)
		first = false
	}
	if !first {
		b = append(b, ',')
	}
	if server {
		b = append(b, `"uid":"`...)
		b = append(b, uid...)
		b = append(b, `","resourceVersion":"`...)
		b = appendInt(b, rv)
		b = append(b, `","creationTimestamp":`...)
		b = appendSecondTime(b, created)
	} else {
		b = append(b, `"creationTimestamp":null`...)
	}
	return b
}

func appendManaged(b []byte, manager, op, apiVersion string, t int64, fields string) []byte {
	b = append(b, `{"manager":"`...)
	b = append(b, manager...)
	b = append(b, `","operation":"`...)
	b = append(b, op...)
	b = append(b, `","apiVersion":"`...)
	b = append(b, apiVersion...)
	b = append(b, `","time":`...)
	b = appendSecondTime(b, t)
	b = append(b, `,"fieldsType":"FieldsV1","fieldsV1":`...)
	b = append(b, fields...)
	return append(b, '}')
}

// ---- Secrets ----

func (g *Generator) secretFor(q *request, o *rng) *secret {
	if q.sec != nil {
		return q.sec
	}
	s := &secret{ns: q.ns, name: q.name, typ: stOpaque, uid: o.uuid(), rv: int64(o.between(1000, 90000000)), created: q.recv - int64(o.between(3600, 90*86400))*1e6}
	if s.name == "" {
		s.name = "generated-" + o.kubeSuffix(5)
	}
	s.keys = pick(o, opaqueKeySets)
	return s
}

func (g *Generator) appendSecret(b []byte, s *secret, o *rng, server, withKind, stringData bool, t int64) []byte {
	vals := g.vals[:0]
	for _, k := range s.keys {
		vals = append(vals, g.newValue(o, secretValueLen(o, k)))
	}
	g.vals = vals
	b = g.appendMetaStart(b, withKind, "Secret", "v1")
	b = appendMetaIdent(b, s.name, s.ns, s.uid, s.rv+int64(o.intn(5000)), s.created, server)
	switch s.typ {
	case stHelm:
		rel, ver := helmRelease(s.name)
		b = append(b, `,"labels":{"modifiedAt":"`...)
		b = appendInt(b, s.created/1e6)
		b = append(b, `","name":`...)
		b = appendStr(b, rel)
		b = append(b, `,"owner":"helm","status":"`...)
		b = append(b, pick(o, []string{"superseded", "superseded", "deployed"})...)
		b = append(b, `","version":"`...)
		b = append(b, ver...)
		b = append(b, `"}`...)
	case stSAToken:
		sa := strings.TrimSuffix(s.name, s.name[strings.LastIndexByte(s.name, '-'):])
		sa = strings.TrimSuffix(sa, "-token")
		b = append(b, `,"annotations":{"kubernetes.io/service-account.name":`...)
		b = appendStr(b, sa)
		b = append(b, `,"kubernetes.io/service-account.uid":"`...)
		b = append(b, g.uidFor("sa/"+s.ns+"/"+sa)...)
		b = append(b, `"}`...)
	case stTLS:
		if strings.HasSuffix(s.name, "-tls") {
			cn := strings.TrimSuffix(s.name, "-tls") + ".example.com"
			b = append(b, `,"labels":{"controller.cert-manager.io/fao":"true"},"annotations":{"cert-manager.io/alt-names":"`...)
			b = append(b, cn...)
			b = append(b, `","cert-manager.io/certificate-name":`...)
			b = appendStr(b, s.name)
			b = append(b, `,"cert-manager.io/common-name":"`...)
			b = append(b, cn...)
			b = append(b, `","cert-manager.io/issuer-group":"cert-manager.io","cert-manager.io/issuer-kind":"ClusterIssuer","cert-manager.io/issuer-name":"letsencrypt-prod"}`...)
		}
	default:
		if s.applied {
			b = append(b, `,"annotations":{"kubectl.kubernetes.io/last-applied-configuration":`...)
			t := g.tmp[:0]
			t = append(t, `{"apiVersion":"v1","data":{`...)
			for i, k := range s.keys {
				if i > 0 {
					t = append(t, ',')
				}
				t = appendStr(t, k)
				t = append(t, `:"`...)
				t = g.appendValue(t, vals[i])
				t = append(t, '"')
			}
			t = append(t, `},"kind":"Secret","metadata":{"annotations":{},"name":`...)
			t = appendStr(t, s.name)
			t = append(t, `,"namespace":`...)
			t = appendStr(t, s.ns)
			t = append(t, `},"type":"`...)
			t = append(t, s.typ...)
			t = append(t, "\"}\n"...)
			b = appendStr(b, t)
			g.tmp = t
			b = append(b, '}')
		}
	}
	if server {
		mgr := "kubectl-create"
		switch {
		case s.typ == stHelm:
			mgr = "helm"
		case s.typ == stTLS:
			mgr = "cert-manager-certificates-issuing"
		case s.typ == stSAToken || s.typ == stBootstrap:
			mgr = "kube-controller-manager"
		case s.applied:
			mgr = "kubectl-client-side-apply"
		}
		b = append(b, `,"managedFields":[`...)
		fb := g.tmp[:0]
		fb = append(fb, `{"f:data":{".":{}`...)
		for _, k := range s.keys {
			fb = append(fb, `,"f:`...)
			fb = append(fb, k...)
			fb = append(fb, `":{}`...)
		}
		fb = append(fb, `},"f:type":{}}`...)
		b = appendManaged(b, mgr, "Update", "v1", s.created, string(fb))
		g.tmp = fb
		b = append(b, ']')
	}
	b = append(b, '}')
	if stringData {
		b = append(b, `,"stringData":{`...)
	} else {
		b = append(b, `,"data":{`...)
	}
	for i, k := range s.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, k)
		b = append(b, `:"`...)
		v := vals[i]
		if stringData {
			v.n = min(v.n, 64)
			v.mpos = min(v.mpos, v.n)
		}
		b = g.appendValue(b, v)
		b = append(b, '"')
	}
	b = append(b, `},"type":"`...)
	b = append(b, s.typ...)
	return append(b, `"}`...)
}

func helmRelease(name string) (rel, ver string) {
	rest := strings.TrimPrefix(name, "sh.helm.release.v1.")
	i := strings.LastIndex(rest, ".v")
	if i < 0 {
		return rest, "1"
	}
	return rest[:i], rest[i+2:]
}

// ---- other kinds ----

func (g *Generator) appendLease(b []byte, q *request, o *rng, server, withKind bool, name string) []byte {
	created := q.recv - int64(o.between(86400, 90*86400))*1e6
	acquired := q.recv - int64(o.between(60, 86400))*1e6
	transitions := int64(o.intn(30))
	b = g.appendMetaStart(b, withKind, "Lease", "coordination.k8s.io/v1")
	uid := q.refUID
	if uid == "" {
		uid = g.uidFor("lease/" + q.ns + "/" + name)
	}
	rv := q.refRV
	if rv == 0 {
		rv = q.rvNow
	}
	b = appendMetaIdent(b, name, q.ns, uid, rv, created, server || q.verb == "update")
	holder := name
	if q.ns == "kube-node-lease" {
		b = append(b, `,"ownerReferences":[{"apiVersion":"v1","kind":"Node","name":`...)
		b = appendStr(b, name)
		b = append(b, `,"uid":"`...)
		b = append(b, g.uidFor("node/"+name)...)
		b = append(b, `"}]`...)
	} else {
		holder = q.a.pod.name
		if holder == "" {
			holder = name + "-" + q.a.ips[0]
		}
		holder += "_" + g.uidFor("holder/"+holder)
	}
	if server {
		b = append(b, `,"managedFields":[`...)
		b = appendManaged(b, q.a.ua[:strings.IndexByte(q.a.ua+"/", '/')], "Update", "coordination.k8s.io/v1", q.recv, `{"f:spec":{"f:holderIdentity":{},"f:leaseDurationSeconds":{},"f:renewTime":{}}}`)
		b = append(b, ']')
	}
	b = append(b, `},"spec":{"holderIdentity":`...)
	b = appendStr(b, holder)
	b = append(b, `,"leaseDurationSeconds":`...)
	if q.ns == "kube-node-lease" {
		b = append(b, "40"...)
	} else {
		b = append(b, "15"...)
	}
	b = append(b, `,"acquireTime":`...)
	b = appendMicro(b, acquired)
	b = append(b, `,"renewTime":`...)
	b = appendMicro(b, q.recv)
	b = append(b, `,"leaseTransitions":`...)
	b = appendInt(b, transitions)
	return append(b, `}}`...)
}

var eventReasons = []struct{ reason, msg string }{
	{"Pulled", `Container image \"registry.example.com/app:1.14.2\" already present on machine`},
	{"Created", "Created container app"},
	{"Started", "Started container app"},
	{"Killing", "Stopping container app"},
	{"Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"},
	{"BackOff", "Back-off restarting failed container app in pod"},
	{"SuccessfulCreate", "Created pod: app-7d9c6b5f4-x2x9k"},
	{"ScalingReplicaSet", "Scaled up replica set app-7d9c6b5f4 to 3 from 2"},
	{"Scheduled", "Successfully assigned pod to node"},
	{"Issuing", "The certificate has been successfully issued"},
	{"ReconciliationSucceeded", "Reconciliation finished in 1.2s, next run in 10m0s"},
}

func (g *Generator) appendEvent(b []byte, q *request, o *rng, server, withKind bool, name string) []byte {
	ev := pick(o, eventReasons)
	obj := name
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		obj = name[:i]
	}
	comp := "kubelet"
	if q.a.node != nil && q.class == classKubelet {
		comp = "kubelet"
	} else if q.a.sa != "" {
		comp = q.a.sa
	} else {
		comp = "default-scheduler"
	}
	if q.res == resEventsV1 {
		b = g.appendMetaStart(b, withKind, "Event", "events.k8s.io/v1")
		b = appendMetaIdent(b, name, q.ns, o.uuid(), q.rvNow, q.recv, server)
		b = append(b, `},"eventTime":`...)
		b = appendMicro(b, q.recv)
		b = append(b, `,"reportingController":"default-scheduler","reportingInstance":"default-scheduler-cp-1","action":"Binding","reason":"Scheduled","regarding":{"kind":"Pod","namespace":`...)
		b = appendStr(b, q.ns)
		b = append(b, `,"name":`...)
		b = appendStr(b, obj)
		b = append(b, `,"uid":"`...)
		b = append(b, o.uuid()...)
		b = append(b, `","apiVersion":"v1","resourceVersion":"`...)
		b = appendInt(b, q.rvNow-int64(o.intn(1000)))
		b = append(b, `"},"note":"Successfully assigned `...)
		b = append(b, q.ns...)
		b = append(b, '/')
		b = append(b, obj...)
		b = append(b, ` to node-`...)
		b = appendInt(b, int64(1+o.intn(12)))
		b = append(b, `","type":"Normal","deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null}`...)
		return b
	}
	b = g.appendMetaStart(b, withKind, "Event", "v1")
	b = appendMetaIdent(b, name, q.ns, o.uuid(), q.rvNow, q.recv, server)
	b = append(b, `},"involvedObject":{"kind":"Pod","namespace":`...)
	b = appendStr(b, q.ns)
	b = append(b, `,"name":`...)
	b = appendStr(b, obj)
	b = append(b, `,"uid":"`...)
	b = append(b, o.uuid()...)
	b = append(b, `","apiVersion":"v1","resourceVersion":"`...)
	b = appendInt(b, q.rvNow-int64(o.intn(100000)))
	b = append(b, `","fieldPath":"spec.containers{app}"},"reason":"`...)
	b = append(b, ev.reason...)
	b = append(b, `","message":"`...)
	b = append(b, ev.msg...)
	b = append(b, `","source":{"component":"`...)
	b = append(b, comp...)
	if q.a.node != nil && q.class == classKubelet {
		b = append(b, `","host":"`...)
		b = append(b, q.a.node.name...)
	}
	b = append(b, `"},"firstTimestamp":`...)
	b = appendSecondTime(b, q.recv)
	b = append(b, `,"lastTimestamp":`...)
	b = appendSecondTime(b, q.recv)
	b = append(b, `,"count":1,"type":"Normal","eventTime":null,"reportingComponent":"`...)
	b = append(b, comp...)
	b = append(b, `","reportingInstance":""}`...)
	return b
}

func (g *Generator) appendPod(b []byte, q *request, o *rng, server, withKind bool, name string) []byte {
	app := name
	if i := strings.LastIndexByte(app, '-'); i > 0 {
		app = app[:i]
		if j := strings.LastIndexByte(app, '-'); j > 0 && len(app)-j == 11 {
			app = app[:j]
		}
	}
	if app == "" {
		app = "web"
	}
	// Draw every identity field first so the request and response forms of
	// the same pod agree.
	nodeName := pick(o, g.c.workers).name
	genSuffix := o.kubeSuffix(10)
	created := q.recv - int64(o.between(60, 30*86400))*1e6
	uid := o.uuid()
	rv := q.rvNow - int64(o.intn(50000))
	hash := o.kubeSuffix(10)
	ownerUID := o.uuid()
	b = g.appendMetaStart(b, withKind, "Pod", "v1")
	if name == "" {
		b = append(b, `"generateName":"`...)
		b = append(b, app...)
		b = append(b, `-`...)
		b = append(b, genSuffix...)
		b = append(b, `-",`...)
	}
	b = appendMetaIdent(b, name, q.ns, uid, rv, created, server)
	b = append(b, `,"labels":{"app.kubernetes.io/name":`...)
	b = appendStr(b, app)
	b = append(b, `,"pod-template-hash":"`...)
	b = append(b, hash...)
	b = append(b, `"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":`...)
	b = appendStr(b, app+"-"+hash)
	b = append(b, `,"uid":"`...)
	b = append(b, ownerUID...)
	b = append(b, `","controller":true,"blockOwnerDeletion":true}]`...)
	if server {
		b = append(b, `,"managedFields":[`...)
		b = appendManaged(b, "kube-controller-manager", "Update", "v1", created,
			`{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"`+ownerUID+`\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:env":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:ports":{},"f:resources":{},"f:securityContext":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:serviceAccount":{},"f:serviceAccountName":{},"f:terminationGracePeriodSeconds":{}}}`)
		b = append(b, ',')
		b = appendManaged(b, "kubelet", "Update", "v1", created+5e6,
			`{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:hostIPs":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"10.244.3.17\"}":{".":{},"f:ip":{}}},"f:startTime":{}}}`)
		b = append(b, ']')
	}
	kapi := "kube-api-access-" + o.kubeSuffix(5)
	b = append(b, `},"spec":{"volumes":[{"name":"`...)
	b = append(b, kapi...)
	b = append(b, `","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}}],"containers":[{"name":"app","image":"registry.example.com/`...)
	b = append(b, q.ns...)
	b = append(b, '/')
	b = append(b, app...)
	b = append(b, `:1.`...)
	b = appendInt(b, int64(o.intn(40)))
	b = append(b, `.`...)
	b = appendInt(b, int64(o.intn(10)))
	b = append(b, `","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],"env":[`...)
	nenv := o.between(3, 25)
	for i := 0; i < nenv; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`...)
		b = append(b, strings.ToUpper(pick(o, fillerWords))...)
		b = append(b, '_')
		b = appendInt(b, int64(i))
		b = append(b, `","value":"`...)
		b = g.appendText(b, o, o.between(4, 60))
		b = append(b, `"}`...)
	}
	b = append(b, `],"resources":{"limits":{"memory":"512Mi"},"requests":{"cpu":"100m","memory":"256Mi"}},"volumeMounts":[{"name":"`...)
	b = append(b, kapi...)
	b = append(b, `","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"capabilities":{"drop":["ALL"]},"runAsNonRoot":true,"allowPrivilegeEscalation":false}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":`...)
	b = appendStr(b, app)
	b = append(b, `,"serviceAccount":`...)
	b = appendStr(b, app)
	if server {
		b = append(b, `,"nodeName":"`...)
		b = append(b, nodeName...)
		b = append(b, '"')
	}
	b = append(b, `,"securityContext":{"seccompProfile":{"type":"RuntimeDefault"}},"imagePullSecrets":[{"name":"regcred"}],"schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},"status":{`...)
	if server {
		ip := "10.244." + itoa(1+o.intn(14)) + "." + itoa(2+o.intn(250))
		b = append(b, `"phase":"Running","conditions":[{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":`...)
		b = appendSecondTime(b, created)
		b = append(b, `},{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":`...)
		b = appendSecondTime(b, created+8e6)
		b = append(b, `},{"type":"ContainersReady","status":"True","lastProbeTime":null,"lastTransitionTime":`...)
		b = appendSecondTime(b, created+8e6)
		b = append(b, `},{"type":"PodScheduled","status":"True","lastProbeTime":null,"lastTransitionTime":`...)
		b = appendSecondTime(b, created)
		b = append(b, `}],"hostIP":"10.0.1.`...)
		b = appendInt(b, int64(14+o.intn(12)))
		b = append(b, `","podIP":"`...)
		b = append(b, ip...)
		b = append(b, `","podIPs":[{"ip":"`...)
		b = append(b, ip...)
		b = append(b, `"}],"startTime":`...)
		b = appendSecondTime(b, created)
		b = append(b, `,"containerStatuses":[{"name":"app","state":{"running":{"startedAt":`...)
		b = appendSecondTime(b, created+3e6)
		b = append(b, `}},"lastState":{},"ready":true,"restartCount":`...)
		b = appendInt(b, int64(o.intn(3)))
		b = append(b, `,"image":"registry.example.com/`...)
		b = append(b, app...)
		b = append(b, `:1.4.2","imageID":"registry.example.com/`...)
		b = append(b, app...)
		b = append(b, `@sha256:`...)
		b = append(b, o.hex(64)...)
		b = append(b, `","containerID":"containerd://`...)
		b = append(b, o.hex(64)...)
		b = append(b, `","started":true}],"qosClass":"Burstable"`...)
	}
	return append(b, `}}`...)
}

func (g *Generator) appendNode(b []byte, q *request, o *rng, withKind bool, name string, target int) []byte {
	b = g.appendMetaStart(b, withKind, "Node", "v1")
	b = appendMetaIdent(b, name, "", g.uidFor("node/"+name), q.rvNow-int64(o.intn(1000)), q.recv-int64(o.between(10, 300))*86400e6, true)
	b = append(b, `,"labels":{"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","kubernetes.io/arch":"amd64","kubernetes.io/hostname":`...)
	b = appendStr(b, name)
	b = append(b, `,"kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"m6i.2xlarge","topology.kubernetes.io/region":"eu-west-1","topology.kubernetes.io/zone":"eu-west-1`...)
	b = append(b, "abc"[o.intn(3)])
	b = append(b, `"},"annotations":{"kubeadm.alpha.kubernetes.io/cri-socket":"unix:///var/run/containerd/containerd.sock","node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true"}},"spec":{"podCIDR":"10.244.`...)
	b = appendInt(b, int64(o.intn(15)))
	b = append(b, `.0/24"},"status":{"capacity":{"cpu":"8","ephemeral-storage":"101430960Ki","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"32386524Ki","pods":"110"},"allocatable":{"cpu":"8","ephemeral-storage":"93478772582","memory":"32284124Ki","pods":"110"},"conditions":[`...)
	for i, c := range []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"`...)
		b = append(b, c...)
		if c == "Ready" {
			b = append(b, `","status":"True","lastHeartbeatTime":`...)
		} else {
			b = append(b, `","status":"False","lastHeartbeatTime":`...)
		}
		b = appendSecondTime(b, q.recv)
		b = append(b, `,"lastTransitionTime":`...)
		b = appendSecondTime(b, q.recv-86400e6*5)
		b = append(b, `,"reason":"Kubelet`...)
		b = append(b, c...)
		b = append(b, `","message":"kubelet status for `...)
		b = append(b, c...)
		b = append(b, `"}`...)
	}
	b = append(b, `],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":"`...)
	b = append(b, o.hex(32)...)
	b = append(b, `","systemUUID":"`...)
	b = append(b, o.uuid()...)
	b = append(b, `","bootID":"`...)
	b = append(b, o.uuid()...)
	b = append(b, `","kernelVersion":"6.1.0-18-amd64","osImage":"Debian GNU/Linux 12 (bookworm)","containerRuntimeVersion":"containerd://1.7.13","kubeletVersion":"v1.29.2","kubeProxyVersion":"v1.29.2","operatingSystem":"linux","architecture":"amd64"},"images":[`...)
	start := len(b)
	for i := 0; len(b)-start < target || i == 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		img := pick(o, fillerWords)
		b = append(b, `{"names":["registry.example.com/`...)
		b = append(b, img...)
		b = append(b, `@sha256:`...)
		b = append(b, o.hex(64)...)
		b = append(b, `","registry.example.com/`...)
		b = append(b, img...)
		b = append(b, `:v`...)
		b = appendInt(b, int64(i))
		b = append(b, `"],"sizeBytes":`...)
		b = appendInt(b, int64(o.between(1e6, 9e8)))
		b = append(b, '}')
	}
	return append(b, `]}}`...)
}

var dashboardNames = map[string]bool{"grafana-dashboards-k8s": true, "grafana-dashboards-nodes": true, "prometheus-k8s-rulefiles-0": true}

func (g *Generator) appendConfigMap(b []byte, q *request, o *rng, server, withKind bool, name string) []byte {
	b = g.appendMetaStart(b, withKind, "ConfigMap", "v1")
	b = appendMetaIdent(b, name, q.ns, g.uidFor("cm/"+q.ns+"/"+name), q.rvNow-int64(o.intn(100000)), q.recv-int64(o.between(1, 200))*86400e6, server)
	b = append(b, `},"data":{`...)
	switch {
	case name == "kube-root-ca.crt":
		b = append(b, `"ca.crt":"-----BEGIN CERTIFICATE-----\n`...)
		for i := 0; i < 17; i++ {
			b = append(b, g.blob64[o.intn(len(g.blob64)-64):][:64]...)
			b = append(b, `\n`...)
		}
		b = append(b, `-----END CERTIFICATE-----\n"`...)
	case dashboardNames[name]:
		n := int(o.logUniform(30000, 400000))
		b = append(b, `"dashboard.json":"{\"annotations\":{\"list\":[]},\"panels\":[{\"description\":\"`...)
		b = g.appendText(b, o, n)
		b = append(b, `\"}]}"`...)
	default:
		n := int(o.logUniform(100, float64(q.res.max)))
		b = append(b, `"config.yaml":"`...)
		b = g.appendText(b, o, n)
		b = append(b, '"')
	}
	return append(b, `}}`...)
}

// appendGeneric writes any other object with filler spec/status of about
// target bytes.
func (g *Generator) appendGeneric(b []byte, res *resource, q *request, o *rng, server, withKind bool, name string, target int) []byte {
	created := q.recv - int64(o.between(1, 300))*86400e6
	uid := o.uuid()
	if q.refUID != "" {
		uid = q.refUID
	}
	rv := q.rvNow - int64(o.intn(100000))
	generation := int64(1 + o.intn(400))
	managedBy := pick(o, []string{"Helm", "argocd", "kustomize-controller"})
	manager := pick(o, []string{"helm", "kubectl-client-side-apply", "kustomize-controller", "argocd-controller"})
	b = g.appendMetaStart(b, withKind, res.kind, res.apiVersion())
	b = appendMetaIdent(b, name, q.ns, uid, rv, created, server || q.refUID != "")
	if server || q.refUID != "" {
		b = append(b, `,"generation":`...)
		b = appendInt(b, generation)
	}
	b = append(b, `,"labels":{"app.kubernetes.io/managed-by":"`...)
	b = append(b, managedBy...)
	b = append(b, `","app.kubernetes.io/name":`...)
	b = appendStr(b, name)
	b = append(b, '}')
	if server {
		b = append(b, `,"managedFields":[`...)
		b = appendManaged(b, manager, "Apply", res.apiVersion(), created, `{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{},"f:app.kubernetes.io/name":{}}},"f:spec":{}}`)
		b = append(b, ']')
	}
	b = append(b, `},"spec":{`...)
	start := len(b)
	for i := 0; len(b)-start < target || i == 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, pick(o, fillerWords)...)
		b = appendInt(b, int64(i))
		b = append(b, `":{"description":"`...)
		b = g.appendText(b, o, o.between(40, 400))
		b = append(b, `","type":"`...)
		b = append(b, pick(o, []string{"string", "object", "integer", "boolean", "array"})...)
		b = append(b, `"}`...)
	}
	b = append(b, `},"status":{"conditions":[{"type":"Ready","status":"True","lastTransitionTime":`...)
	b = appendSecondTime(b, q.recv-int64(o.between(1, 86400))*1e6)
	b = append(b, `,"reason":"Succeeded","message":"`...)
	b = g.appendText(b, o, o.between(20, 80))
	b = append(b, `"}],"observedGeneration":`...)
	b = appendInt(b, int64(1+o.intn(400)))
	return append(b, `}}`...)
}

func objectSize(o *rng, res *resource) int {
	n := int(o.logUniform(float64(res.min), float64(res.max)))
	if o.chance(0.03) {
		n *= o.between(4, 15)
	}
	return min(n, 450_000)
}

// appendObject writes one object of q's resource.
func (g *Generator) appendObject(b []byte, q *request, o *rng, server, withKind bool, name string) []byte {
	switch q.res {
	case resSecrets:
		s := g.secretFor(q, o)
		if name != q.name && name != "" {
			s = &secret{ns: q.ns, name: name, typ: stOpaque, uid: o.uuid(), rv: 1, created: q.recv - 86400e6, keys: pick(o, opaqueKeySets)}
		}
		return g.appendSecret(b, s, o, server, withKind, false, q.recv)
	case resLeases:
		return g.appendLease(b, q, o, server, withKind, name)
	case resEvents, resEventsV1:
		return g.appendEvent(b, q, o, server, withKind, name)
	case resPods:
		return g.appendPod(b, q, o, server, withKind, name)
	case resNodes:
		return g.appendNode(b, q, o, withKind, name, objectSize(o, resNodes))
	case resConfigMaps:
		return g.appendConfigMap(b, q, o, server, withKind, name)
	}
	return g.appendGeneric(b, q.res, q, o, server, withKind, name, objectSize(o, q.res))
}

func (g *Generator) appendRequestObject(b []byte, q *request, o *rng) []byte {
	switch q.body {
	case bodyDelete:
		return append(b, `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`...)
	case bodyPatch:
		return g.appendPatch(b, q, o)
	}
	switch {
	case q.res == resServiceAccounts && q.sub == "token":
		return g.appendTokenRequest(b, q, o, false)
	case q.res == resPods && q.sub == "binding":
		b = append(b, `{"kind":"Binding","apiVersion":"v1","metadata":{"name":`...)
		b = appendStr(b, q.name)
		b = append(b, `,"namespace":`...)
		b = appendStr(b, q.ns)
		b = append(b, `,"uid":"`...)
		b = append(b, o.uuid()...)
		b = append(b, `","creationTimestamp":null},"target":{"kind":"Node","name":"`...)
		b = append(b, pick(o, g.c.workers).name...)
		return append(b, `"}}`...)
	case q.res == resSSRR:
		return append(b, `{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"namespace":"default"},"status":{"resourceRules":null,"nonResourceRules":null,"incomplete":false}}`...)
	case q.res == resSSAR:
		return append(b, `{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"create","resource":"deployments","group":"apps"}},"status":{"allowed":false}}`...)
	case q.res == resSecrets:
		s := g.secretFor(q, o)
		return g.appendSecret(b, s, o, q.verb == "update", true, q.class == classHuman && q.objSeed&1 == 1, q.recv)
	}
	return g.appendObject(b, q, o, false, true, q.name)
}

func (g *Generator) appendTokenRequest(b []byte, q *request, o *rng, resp bool) []byte {
	b = append(b, `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"name":`...)
	b = appendStr(b, q.name)
	b = append(b, `,"namespace":`...)
	b = appendStr(b, q.ns)
	if resp {
		b = append(b, `,"creationTimestamp":`...)
		b = appendSecondTime(b, q.recv)
	} else {
		b = append(b, `,"creationTimestamp":null`...)
	}
	b = append(b, `},"spec":{"audiences":["https://kubernetes.default.svc.cluster.local"],"expirationSeconds":3607,"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"`...)
	b = append(b, q.name...)
	b = append(b, `-`...)
	b = append(b, o.kubeSuffix(5)...)
	b = append(b, `","uid":"`...)
	b = append(b, o.uuid()...)
	b = append(b, `"}},"status":{"token":"`...)
	if resp {
		b = append(b, "eyJhbGciOiJSUzI1NiIsImtpZCI6I"...)
		b = g.appendValue(b, g.newValue(o, o.between(900, 1100)))
		b = append(b, `","expirationTimestamp":`...)
		b = appendSecondTime(b, q.recv+3607e6)
		return append(b, `}}`...)
	}
	return append(b, `","expirationTimestamp":null}}`...)
}

func (g *Generator) appendPatch(b []byte, q *request, o *rng) []byte {
	switch {
	case q.res == resSecrets:
		s := g.secretFor(q, o)
		b = append(b, `{"data":{`...)
		for i, k := range s.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, k)
			b = append(b, `:"`...)
			b = g.appendValue(b, g.newValue(o, secretValueLen(o, k)))
			b = append(b, '"')
		}
		return append(b, `}}`...)
	case q.res == resNodes && q.sub == "status":
		b = append(b, `{"status":{"$setElementOrder/conditions":[{"type":"MemoryPressure"},{"type":"DiskPressure"},{"type":"PIDPressure"},{"type":"Ready"}],"conditions":[`...)
		for i, c := range []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"} {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"lastHeartbeatTime":`...)
			b = appendSecondTime(b, q.recv)
			b = append(b, `,"type":"`...)
			b = append(b, c...)
			b = append(b, `"}`...)
		}
		return append(b, `]}}`...)
	case q.res == resPods && q.sub == "status":
		b = append(b, `{"metadata":{"uid":"`...)
		b = append(b, o.uuid()...)
		b = append(b, `"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],"conditions":[{"lastTransitionTime":`...)
		b = appendSecondTime(b, q.recv)
		b = append(b, `,"status":"True","type":"Ready"},{"lastTransitionTime":`...)
		b = appendSecondTime(b, q.recv)
		b = append(b, `,"status":"True","type":"ContainersReady"}],"containerStatuses":[{"containerID":"containerd://`...)
		b = append(b, o.hex(64)...)
		b = append(b, `","image":"registry.example.com/app:1.4.2","imageID":"registry.example.com/app@sha256:`...)
		b = append(b, o.hex(64)...)
		b = append(b, `","lastState":{},"name":"app","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":`...)
		b = appendSecondTime(b, q.recv-5e6)
		return append(b, `}}}]}}`...)
	case q.res == resDeployments && strings.Contains(q.uri, "kubectl-rollout"):
		b = append(b, `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"`...)
		b = appendMicroRaw(b, q.recv)
		return append(b, `"}}}}}`...)
	case q.sub == "status":
		b = append(b, `{"status":{"conditions":[{"lastTransitionTime":`...)
		b = appendSecondTime(b, q.recv)
		b = append(b, `,"message":"`...)
		b = g.appendText(b, o, o.between(30, 200))
		b = append(b, `","observedGeneration":`...)
		b = appendInt(b, int64(1+o.intn(300)))
		b = append(b, `,"reason":"ReconciliationSucceeded","status":"True","type":"Ready"}],"lastAppliedRevision":"main@sha1:`...)
		b = append(b, o.hex(40)...)
		b = append(b, `","observedGeneration":`...)
		b = appendInt(b, int64(1+o.intn(300)))
		return append(b, `}}`...)
	case q.res == resApplications:
		b = append(b, `{"status":{"reconciledAt":`...)
		b = appendSecondTime(b, q.recv)
		b = append(b, `,"resources":[`...)
		n := int(o.logUniform(3, 120))
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"group":"apps","kind":"Deployment","name":"`...)
			b = append(b, pick(o, fillerWords)...)
			b = appendInt(b, int64(i))
			b = append(b, `","namespace":"`...)
			b = append(b, q.name...)
			b = append(b, `","status":"Synced","version":"v1","health":{"status":"Healthy"}}`...)
		}
		b = append(b, `],"sync":{"revision":"`...)
		b = append(b, o.hex(40)...)
		return append(b, `","status":"Synced"}}}`...)
	case strings.Contains(q.uri, "fieldManager=") && q.res != resDeployments:
		return g.appendObject(b, q, o, false, true, q.name) // server-side apply
	}
	b = append(b, `{"metadata":{"annotations":{"deployment.kubernetes.io/revision":"`...)
	b = appendInt(b, int64(1+o.intn(60)))
	b = append(b, `","meta.helm.sh/release-name":`...)
	b = appendStr(b, q.name)
	return append(b, `}}}`...)
}

func (g *Generator) appendResponseObject(b []byte, q *request, o *rng) []byte {
	if q.errKind != errNone {
		return g.appendStatus(b, q, true)
	}
	switch q.verb {
	case "list":
		return g.appendList(b, q, o)
	case "delete":
		if q.res == resPods {
			return g.appendPod(b, q, o, true, true, q.name)
		}
		b = append(b, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":`...)
		b = appendStr(b, q.name)
		b = append(b, `,"kind":"`...)
		b = append(b, q.res.name...)
		b = append(b, `","uid":"`...)
		b = append(b, o.uuid()...)
		return append(b, `"}}`...)
	}
	switch {
	case q.res == resServiceAccounts && q.sub == "token":
		return g.appendTokenRequest(b, q, o, true)
	case q.res == resPods && q.sub == "binding":
		return append(b, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}`...)
	case q.sub == "scale":
		b = append(b, `{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":`...)
		b = appendStr(b, q.name)
		b = append(b, `,"namespace":`...)
		b = appendStr(b, q.ns)
		b = append(b, `,"uid":"`...)
		b = append(b, o.uuid()...)
		b = append(b, `","resourceVersion":"`...)
		b = appendInt(b, q.rvNow)
		b = append(b, `","creationTimestamp":`...)
		b = appendSecondTime(b, q.recv-86400e6*30)
		n := int64(1 + o.intn(6))
		b = append(b, `},"spec":{"replicas":`...)
		b = appendInt(b, n)
		b = append(b, `},"status":{"replicas":`...)
		b = appendInt(b, n)
		b = append(b, `,"selector":"app.kubernetes.io/name=`...)
		b = append(b, q.name...)
		return append(b, `"}}`...)
	case q.res == resSSRR:
		b = append(b, `{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{},"status":{"resourceRules":[{"verbs":["create"],"apiGroups":["authorization.k8s.io"],"resources":["selfsubjectaccessreviews","selfsubjectrulesreviews"]}`...)
		for _, r := range []string{"configmaps", "pods", "services", "leases"} {
			b = append(b, `,{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["`...)
			b = append(b, r...)
			b = append(b, `"]}`...)
		}
		return append(b, `],"nonResourceRules":[{"verbs":["get"],"nonResourceURLs":["/api","/api/*","/apis","/apis/*","/healthz","/livez","/openapi","/openapi/*","/readyz","/version","/version/"]}],"incomplete":false}}`...)
	case q.res == resSSAR:
		return append(b, `{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"create","resource":"deployments","group":"apps"}},"status":{"allowed":true,"reason":"RBAC: allowed by ClusterRoleBinding \"oidc-platform-admins\" of ClusterRole \"cluster-admin\" to Group \"oidc:platform-admins\""}}`...)
	case q.sub == "log" || q.sub == "exec":
		return append(b, `{}`...)
	}
	name := q.name
	return g.appendObject(b, q, o, true, true, name)
}

func (g *Generator) appendList(b []byte, q *request, o *rng) []byte {
	b = append(b, `{"kind":"`...)
	b = append(b, q.res.kind...)
	b = append(b, `List","apiVersion":"`...)
	b = append(b, q.res.apiVersion()...)
	b = append(b, `","metadata":{"resourceVersion":"`...)
	b = appendInt(b, q.rvNow)
	b = append(b, `"},"items":[`...)
	start := len(b)
	var names []string
	var secs []*secret
	ns := g.c.ns(q.ns)
	switch {
	case q.name != "": // metadata.name field selector
		names = []string{q.name}
		if q.res == resSecrets && ns != nil {
			for _, s := range ns.secrets {
				if s.name == q.name {
					secs = append(secs, s)
				}
			}
		}
	case q.res == resSecrets && ns != nil:
		for _, s := range ns.secrets {
			if q.listN >= 0 || s.typ == stHelm {
				secs = append(secs, s)
			}
		}
	default:
		for i := 0; i < max(q.listN, 0); i++ {
			switch {
			case q.res == resPods && ns != nil && len(ns.pods) > 0:
				names = append(names, ns.pods[i%len(ns.pods)])
			case q.res == resNodes:
				names = append(names, g.c.nodes[i%len(g.c.nodes)].name)
			case q.res == resNamespaces:
				names = append(names, g.c.nss[i%len(g.c.nss)].name)
			default:
				names = append(names, pick(o, fillerWords)+"-"+o.kubeSuffix(5))
			}
		}
	}
	first := true
	if q.res == resSecrets {
		for _, s := range secs {
			if len(b)-start > 450_000 {
				break
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = g.appendSecret(b, s, o, true, false, false, q.recv)
		}
	} else {
		for _, n := range names {
			if len(b)-start > 450_000 {
				break
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = g.appendObject(b, q, o, true, false, n)
		}
	}
	return append(b, `]}`...)
}
