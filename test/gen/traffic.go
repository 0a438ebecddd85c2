package gen

import (
	"hash/fnv"
	"strconv"
)

type resource struct {
	name, group, version, kind string
	namespaced                 bool
	min, max                   int // typical object size in bytes
}

func (r *resource) apiVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

func (r *resource) path(ns, name, sub string) string {
	p := "/api/v1"
	if r.group != "" {
		p = "/apis/" + r.group + "/" + r.version
	}
	if r.namespaced && ns != "" {
		p += "/namespaces/" + ns
	}
	p += "/" + r.name
	if name != "" {
		p += "/" + name
		if sub != "" {
			p += "/" + sub
		}
	}
	return p
}

var (
	resPods            = &resource{"pods", "", "v1", "Pod", true, 3500, 9000}
	resNodes           = &resource{"nodes", "", "v1", "Node", false, 9000, 40000}
	resLeases          = &resource{"leases", "coordination.k8s.io", "v1", "Lease", true, 400, 700}
	resSecrets         = &resource{"secrets", "", "v1", "Secret", true, 400, 4000}
	resConfigMaps      = &resource{"configmaps", "", "v1", "ConfigMap", true, 400, 5000}
	resEvents          = &resource{"events", "", "v1", "Event", true, 700, 1300}
	resEventsV1        = &resource{"events", "events.k8s.io", "v1", "Event", true, 700, 1300}
	resEndpointSlices  = &resource{"endpointslices", "discovery.k8s.io", "v1", "EndpointSlice", true, 800, 6000}
	resEndpoints       = &resource{"endpoints", "", "v1", "Endpoints", true, 500, 4000}
	resReplicaSets     = &resource{"replicasets", "apps", "v1", "ReplicaSet", true, 2500, 7000}
	resDeployments     = &resource{"deployments", "apps", "v1", "Deployment", true, 3000, 9000}
	resDaemonSets      = &resource{"daemonsets", "apps", "v1", "DaemonSet", true, 3000, 8000}
	resStatefulSets    = &resource{"statefulsets", "apps", "v1", "StatefulSet", true, 3000, 9000}
	resServices        = &resource{"services", "", "v1", "Service", true, 600, 1800}
	resServiceAccounts = &resource{"serviceaccounts", "", "v1", "ServiceAccount", true, 300, 600}
	resNamespaces      = &resource{"namespaces", "", "v1", "Namespace", false, 400, 900}
	resCSINodes        = &resource{"csinodes", "storage.k8s.io", "v1", "CSINode", false, 400, 900}
	resJobs            = &resource{"jobs", "batch", "v1", "Job", true, 2500, 6000}
	resHPAs            = &resource{"horizontalpodautoscalers", "autoscaling", "v2", "HorizontalPodAutoscaler", true, 1200, 3000}
	resQuotas          = &resource{"resourcequotas", "", "v1", "ResourceQuota", true, 500, 1500}
	resPodMetrics      = &resource{"pods", "metrics.k8s.io", "v1beta1", "PodMetrics", true, 1000, 20000}
	resCertificates    = &resource{"certificates", "cert-manager.io", "v1", "Certificate", true, 1500, 4000}
	resCertRequests    = &resource{"certificaterequests", "cert-manager.io", "v1", "CertificateRequest", true, 3000, 8000}
	resApplications    = &resource{"applications", "argoproj.io", "v1alpha1", "Application", true, 4000, 60000}
	resKustomizations  = &resource{"kustomizations", "kustomize.toolkit.fluxcd.io", "v1", "Kustomization", true, 2000, 12000}
	resGitRepositories = &resource{"gitrepositories", "source.toolkit.fluxcd.io", "v1", "GitRepository", true, 1500, 4000}
	resHelmReleases    = &resource{"helmreleases", "helm.toolkit.fluxcd.io", "v2beta2", "HelmRelease", true, 2000, 10000}
	resVulnReports     = &resource{"vulnerabilityreports", "aquasecurity.github.io", "v1alpha1", "VulnerabilityReport", true, 8000, 250000}
	resExternalSecrets = &resource{"externalsecrets", "external-secrets.io", "v1beta1", "ExternalSecret", true, 1500, 4000}
	resCiliumEndpoints = &resource{"ciliumendpoints", "cilium.io", "v2", "CiliumEndpoint", true, 1200, 3000}
	resCiliumNodes     = &resource{"ciliumnodes", "cilium.io", "v2", "CiliumNode", false, 2000, 6000}
	resCiliumIDs       = &resource{"ciliumidentities", "cilium.io", "v2", "CiliumIdentity", false, 600, 1500}
	resIngresses       = &resource{"ingresses", "networking.k8s.io", "v1", "Ingress", true, 1000, 3000}
	resCRDs            = &resource{"customresourcedefinitions", "apiextensions.k8s.io", "v1", "CustomResourceDefinition", false, 40000, 600000}
	resSSRR            = &resource{"selfsubjectrulesreviews", "authorization.k8s.io", "v1", "SelfSubjectRulesReview", false, 300, 600}
	resSSAR            = &resource{"selfsubjectaccessreviews", "authorization.k8s.io", "v1", "SelfSubjectAccessReview", false, 300, 600}
	resPriorityLevels  = &resource{"prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", false, 600, 1500}
)

// Request body kinds.
const (
	bodyNone uint8 = iota
	bodyObject
	bodyPatch
	bodyDelete
)

type tmpl struct {
	class uint8
	w     float64
	lr    bool
	fn    func(g *Generator, q *request)
}

type mix struct {
	ts      []tmpl
	cum     []float64
	total   float64
	lrShare float64
}

func buildMix(ts []tmpl) mix {
	m := mix{ts: ts}
	lr := 0.0
	for _, t := range ts {
		m.total += t.w
		m.cum = append(m.cum, m.total)
		if t.lr {
			lr += t.w
		}
	}
	m.lrShare = lr / m.total
	return m
}

func (m *mix) pick(r *rng) *tmpl {
	u := r.float() * m.total
	lo, hi := 0, len(m.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if m.cum[mid] > u {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return &m.ts[lo]
}

func (g *Generator) pickLevel() uint8 {
	u := g.r.float()
	switch {
	case u < g.qRR:
		return levelRequestResponse
	case u < g.qRR+g.qReq:
		return levelRequest
	}
	return levelMetadata
}

func (g *Generator) newReq(at int64, class uint8) *request {
	q := &request{recv: at, class: class, code: 200, rvNow: g.rvCounter}
	g.r.appendUUID(q.auditID[:0])
	q.objSeed = g.r.next()
	q.level = g.pickLevel()
	return q
}

// set fills in a resource request.
func (q *request) set(a *actor, verb string, res *resource, ns, name, sub, query string) {
	q.a, q.verb, q.res, q.ns, q.name, q.sub = a, verb, res, ns, name, sub
	if !res.namespaced {
		q.ns = ""
	}
	pathName := name
	switch verb {
	case "create":
		q.code = 201
		q.body = bodyObject
		if sub == "" {
			pathName = ""
			q.nameOnRC = name != ""
		}
	case "update":
		q.body = bodyObject
	case "patch":
		q.body = bodyPatch
	case "delete":
		q.body = bodyDelete
	case "list", "watch":
		// A metadata.name field selector names the object (the request
		// info parser takes it as the name).
		pathName = ""
	}
	q.uri = res.path(q.ns, pathName, sub) + query
	if verb == "watch" {
		q.lr = true
	}
}

// setNonResource fills in a non-resource request (/livez, /api, ...).
func (q *request) setNonResource(a *actor, verb, uri string) {
	q.a, q.verb, q.uri = a, verb, uri
	q.res = nil
	if q.level > levelMetadata {
		q.level = levelMetadata // request/response bodies do not apply
	}
}

func (q *request) getSecret(a *actor, s *secret) {
	q.set(a, "get", resSecrets, s.ns, s.name, "", "")
	q.sec = s
}

func (q *request) forbidden() {
	q.forbid = true
	q.errKind = errForbidden
	q.code = 403
}

func (q *request) notFound() {
	q.errKind = errNotFound
	q.code = 404
}

// finish sets the stage timestamps of a background request.
func (g *Generator) finish(q *request) {
	r := &g.r
	q.rrAt = q.recv + int64(r.between(2, 45))
	if q.recv == g.startUS {
		q.rrAt = q.recv // the first event is at Config.Start
	}
	if q.lr {
		q.started = q.rrAt + int64(r.between(250, 3000))
		var dur int64
		switch q.verb {
		case "watch":
			dur = int64(r.between(300, 600)) * 1e6 // client-go: timeoutSeconds in [5m, 10m)
		default: // exec, log
			dur = int64(r.logUniform(2e6, 600e6))
		}
		q.done = q.started + dur
		// The capture ends with an API-server restart that closes every open
		// long-running request; the few opened after that close quickly.
		if q.recv < g.endUS {
			if q.done > g.endUS {
				q.done = max(g.endUS+int64(r.between(1000, 2_000_000)), q.started+1000)
			}
		} else {
			q.done = min(q.done, q.started+int64(r.between(500_000, 3_000_000)))
		}
		return
	}
	var lat float64
	switch {
	case q.forbid:
		lat = r.logUniform(150, 1500)
	case q.res == nil:
		lat = r.logUniform(80, 1500)
	case q.verb == "get":
		lat = r.logUniform(400, 12000)
	case q.verb == "list":
		lat = r.logUniform(1500, 250000)
	default:
		lat = r.logUniform(2000, 30000)
	}
	if r.chance(0.004) {
		lat = r.logUniform(500000, 3000000) // slow etcd / webhook
	}
	q.done = q.rrAt + int64(lat)
}

func (g *Generator) background(at int64) *request {
	var t *tmpl
	if g.pSG > 0 && g.r.float() < g.pSG {
		t = g.sgMix.pick(&g.r)
	} else {
		t = g.general.pick(&g.r)
	}
	q := g.newReq(at, t.class)
	t.fn(g, q)
	k, left := q.events(), g.bgLeft
	switch {
	case left == 1:
		q.rrOnly, q.lr = true, false
	case left < k || left-k == 1:
		// Keep the total exact: swap in a request with the other stage count.
		q = g.newReq(at, classKubelet)
		if k == 2 {
			tKubeletWatchObject(g, q)
		} else {
			tKubeletLease(g, q)
		}
	}
	g.finish(q)
	return q
}

func (g *Generator) rv() int64 {
	g.rvCounter += int64(1 + g.r.intn(40))
	return g.rvCounter
}

// uidFor returns a stable UUID for a named object.
func (g *Generator) uidFor(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	r := newRNG(mix64(g.seed, h.Sum64()))
	return r.uuid()
}

func (g *Generator) anyNode() *node { return pick(&g.r, g.c.nodes) }

// appNS returns a namespace that has pods of its own.
func (g *Generator) appNS() *namespace {
	for {
		ns := pick(&g.r, g.c.nss)
		if len(ns.pods) > 0 {
			return ns
		}
	}
}

func (g *Generator) podOn(n *node) podRef {
	if len(n.pods) == 0 {
		return podRef{ns: "kube-system", name: "kube-proxy-" + n.name, uid: g.uidFor("pod/" + n.name)}
	}
	return pick(&g.r, n.pods)
}

func watchQuery(g *Generator, selector string) string {
	q := "?allowWatchBookmarks=true"
	if selector != "" {
		q += "&fieldSelector=" + selector
	}
	secs := g.r.between(300, 599)
	return q + "&resourceVersion=" + strconv.FormatInt(g.rvCounter-int64(g.r.intn(5000)), 10) +
		"&timeout=" + strconv.Itoa(secs/60) + "m" + strconv.Itoa(secs%60) + "s&timeoutSeconds=" + strconv.Itoa(secs) + "&watch=true"
}

// ---- kubelets ----

func tKubeletLease(g *Generator, q *request) {
	n := g.anyNode()
	q.set(n.kubelet, "update", resLeases, "kube-node-lease", n.name, "", "?timeout=10s")
	q.refUID, q.refRV = g.uidFor("lease/node/"+n.name), g.rv()
	if g.r.chance(0.002) {
		q.errKind, q.code = errConflict, 409
	}
}

func tKubeletLeaseGet(g *Generator, q *request) {
	n := g.anyNode()
	q.set(n.kubelet, "get", resLeases, "kube-node-lease", n.name, "", "?timeout=10s")
}

func tKubeletNodeStatus(g *Generator, q *request) {
	n := g.anyNode()
	q.set(n.kubelet, "patch", resNodes, "", n.name, "status", "?timeout=10s")
}

func tKubeletGetNode(g *Generator, q *request) {
	n := g.anyNode()
	q.set(n.kubelet, "get", resNodes, "", n.name, "", "?resourceVersion=0&timeout=10s")
}

func tKubeletPodStatus(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	q.set(n.kubelet, "patch", resPods, p.ns, p.name, "status", "")
}

func tKubeletGetPod(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	q.set(n.kubelet, "get", resPods, p.ns, p.name, "", "")
}

func tKubeletEvent(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	q.set(n.kubelet, "create", resEvents, p.ns, p.name+"."+g.r.hex(16), "", "")
}

func tKubeletToken(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	q.set(n.kubelet, "create", resServiceAccounts, p.ns, p.sa, "token", "")
	if p.sa == "" {
		q.set(n.kubelet, "create", resServiceAccounts, p.ns, "default", "token", "")
	}
}

// tKubeletWatchObject: the kubelet's per-object watches of the configmaps
// and secrets its pods mount.
func tKubeletWatchObject(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	ns := g.c.ns(p.ns)
	if ns != nil && len(ns.secrets) > 0 && g.r.chance(0.45) {
		s := pick(&g.r, ns.secrets)
		q.set(n.kubelet, "watch", resSecrets, p.ns, s.name, "", watchQuery(g, "metadata.name%3D"+s.name))
		return
	}
	cm := "kube-root-ca.crt"
	if ns != nil && len(ns.cms) > 1 && g.r.chance(0.4) {
		cm = pick(&g.r, ns.cms)
	}
	q.set(n.kubelet, "watch", resConfigMaps, p.ns, cm, "", watchQuery(g, "metadata.name%3D"+cm))
}

func tKubeletListObject(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	ns := g.c.ns(p.ns)
	if ns != nil && len(ns.secrets) > 0 && g.r.chance(0.4) {
		s := pick(&g.r, ns.secrets)
		q.set(n.kubelet, "list", resSecrets, p.ns, s.name, "", "?fieldSelector=metadata.name%3D"+s.name+"&limit=500&resourceVersion=0")
		q.listN = 1
		return
	}
	q.set(n.kubelet, "list", resConfigMaps, p.ns, "kube-root-ca.crt", "", "?fieldSelector=metadata.name%3Dkube-root-ca.crt&limit=500&resourceVersion=0")
	q.listN = 1
}

func tKubeletWatchOther(g *Generator, q *request) {
	n := g.anyNode()
	switch g.r.intn(4) {
	case 0:
		q.set(n.kubelet, "watch", resPods, "", "", "", watchQuery(g, "spec.nodeName%3D"+n.name))
	case 1:
		q.set(n.kubelet, "watch", resNodes, "", n.name, "", watchQuery(g, "metadata.name%3D"+n.name))
	case 2:
		q.set(n.kubelet, "watch", resServices, "", "", "", watchQuery(g, ""))
	default:
		q.set(n.kubelet, "watch", resCSINodes, "", "", "", watchQuery(g, ""))
	}
}

func tKubeletCSINode(g *Generator, q *request) {
	n := g.anyNode()
	q.set(n.kubelet, "get", resCSINodes, "", n.name, "", "")
}

// ---- API server loopback ----

func tAPIServerLease(g *Generator, q *request) {
	a := pick(&g.r, g.c.apiservers)
	q.set(a, "update", resLeases, "kube-system", a.leases[0], "", "")
	q.refUID, q.refRV = g.uidFor("lease/"+a.leases[0]), g.rv()
}

func tAPIServerMisc(g *Generator, q *request) {
	a := pick(&g.r, g.c.apiservers)
	switch g.r.intn(5) {
	case 0:
		q.set(a, "get", resEndpoints, "default", "kubernetes", "", "")
	case 1:
		q.set(a, "get", resNamespaces, "", pick(&g.r, []string{"kube-system", "default", "kube-public", "kube-node-lease"}), "", "")
	case 2:
		q.set(a, "get", resEndpointSlices, "default", "kubernetes", "", "")
	case 3:
		q.set(a, "get", resPriorityLevels, "", pick(&g.r, []string{"catch-all", "exempt", "global-default", "leader-election", "node-high", "system", "workload-high", "workload-low"}), "", "")
	default:
		q.set(a, "list", resLeases, "kube-system", "", "", "?labelSelector=apiserver.kubernetes.io%2Fidentity%3Dkube-apiserver")
		q.listN = 3
	}
}

func tAPIServerWatch(g *Generator, q *request) {
	a := pick(&g.r, g.c.apiservers)
	res := pick(&g.r, []*resource{resNamespaces, resSecrets, resConfigMaps, resServiceAccounts, resPriorityLevels, resCRDs})
	q.set(a, "watch", res, "", "", "", watchQuery(g, ""))
}

// ---- kube-controller-manager ----

func tCMLease(g *Generator, q *request) {
	if g.r.chance(0.6) {
		q.set(g.c.cmLeader, "update", resLeases, "kube-system", "kube-controller-manager", "", "?timeout=5s")
		q.refUID, q.refRV = g.uidFor("lease/kcm"), g.rv()
		return
	}
	q.set(pick(&g.r, g.c.cmOthers), "get", resLeases, "kube-system", "kube-controller-manager", "", "?timeout=5s")
}

func (g *Generator) ctl(name string) *actor {
	for _, a := range g.c.controllers {
		if a.sa == name {
			return a
		}
	}
	panic("gen: no controller " + name)
}

func tCMEndpointSlice(g *Generator, q *request) {
	ns := g.appNS()
	app := "kubernetes"
	if len(ns.apps) > 0 {
		app = pick(&g.r, ns.apps)
	}
	q.set(g.ctl("endpointslice-controller"), "update", resEndpointSlices, ns.name, app+"-"+g.r.kubeSuffix(5), "", "")
	q.refUID, q.refRV = g.r.uuid(), g.rv()
}

func tCMEndpoints(g *Generator, q *request) {
	ns := g.appNS()
	app := pick(&g.r, append(ns.apps, "kubernetes"))
	q.set(g.ctl("endpoint-controller"), "update", resEndpoints, ns.name, app, "", "")
	q.refUID, q.refRV = g.uidFor("ep/"+ns.name+"/"+app), g.rv()
}

func tCMReplicaSet(g *Generator, q *request) {
	ns := g.appNS()
	app := pick(&g.r, append(ns.apps, "web"))
	rs := app + "-" + g.r.kubeSuffix(10)
	if g.r.chance(0.3) {
		q.set(g.ctl("replicaset-controller"), "create", resPods, ns.name, "", "", "")
		q.podSec = pick(&g.r, []string{"restricted:latest", "baseline:latest", "privileged:latest"})
		return
	}
	q.set(g.ctl("replicaset-controller"), "update", resReplicaSets, ns.name, rs, "status", "")
	q.refUID, q.refRV = g.uidFor("rs/"+rs), g.rv()
}

func tCMDeployment(g *Generator, q *request) {
	ns := g.appNS()
	app := pick(&g.r, append(ns.apps, "web"))
	q.set(g.ctl("deployment-controller"), "update", resDeployments, ns.name, app, "status", "")
	q.refUID, q.refRV = g.uidFor("deploy/"+ns.name+"/"+app), g.rv()
}

func tCMJobs(g *Generator, q *request) {
	ns := g.appNS()
	job := pick(&g.r, []string{"db-backup", "report-nightly", "cleanup", "sync-catalog"}) + "-" + g.r.digits(8)
	if g.r.chance(0.2) {
		q.set(g.ctl("cronjob-controller"), "create", resJobs, ns.name, job, "", "")
		return
	}
	q.set(g.ctl("job-controller"), "update", resJobs, ns.name, job, "status", "")
	q.refUID, q.refRV = g.uidFor("job/"+job), g.rv()
}

func tCMGC(g *Generator, q *request) {
	res := pick(&g.r, []*resource{resPods, resReplicaSets, resEndpointSlices, resEvents, resJobs, resConfigMaps, resServiceAccounts})
	ns := g.appNS()
	q.set(g.ctl("generic-garbage-collector"), "get", res, ns.name, pick(&g.r, append(ns.apps, "web"))+"-"+g.r.kubeSuffix(5), "", "")
	if g.r.chance(0.5) {
		q.notFound()
	}
}

func tCMHPA(g *Generator, q *request) {
	ns := g.appNS()
	app := pick(&g.r, append(ns.apps, "web"))
	a := g.ctl("horizontal-pod-autoscaler")
	switch g.r.intn(3) {
	case 0:
		q.set(a, "get", resDeployments, ns.name, app, "scale", "")
	case 1:
		q.set(a, "list", resPodMetrics, ns.name, "", "", "?labelSelector=app.kubernetes.io%2Fname%3D"+app)
		q.listN = g.r.between(1, 6)
	default:
		q.set(a, "update", resHPAs, ns.name, app, "status", "")
		q.refUID, q.refRV = g.uidFor("hpa/"+app), g.rv()
	}
}

func tCMMisc(g *Generator, q *request) {
	ns := g.appNS()
	switch g.r.intn(7) {
	case 0:
		q.set(g.ctl("resourcequota-controller"), "update", resQuotas, ns.name, "compute-quota", "status", "")
		q.refUID, q.refRV = g.uidFor("quota/"+ns.name), g.rv()
	case 1:
		q.set(g.ctl("root-ca-cert-publisher"), "get", resConfigMaps, ns.name, "kube-root-ca.crt", "", "")
	case 2:
		q.set(g.ctl("daemon-set-controller"), "update", resDaemonSets, "logging", "fluent-bit", "status", "")
		q.refUID, q.refRV = g.uidFor("ds/fluent-bit"), g.rv()
	case 3:
		q.set(g.ctl("statefulset-controller"), "update", resStatefulSets, "monitoring", "prometheus-k8s", "status", "")
		q.refUID, q.refRV = g.uidFor("sts/prometheus-k8s"), g.rv()
	case 4:
		q.set(g.ctl("node-controller"), "get", resNodes, "", g.anyNode().name, "", "")
	case 5:
		q.set(g.ctl("pod-garbage-collector"), "list", resPods, "", "", "", "?fieldSelector=status.phase%3DFailed&limit=500")
		q.listN = g.r.between(0, 4)
	default:
		q.set(g.ctl("disruption-controller"), "get", resDeployments, ns.name, pick(&g.r, append(ns.apps, "web")), "scale", "")
	}
}

func tCMEvent(g *Generator, q *request) {
	ns := g.appNS()
	a := pick(&g.r, g.c.controllers)
	q.set(a, "create", resEvents, ns.name, pick(&g.r, append(ns.apps, "web"))+"."+g.r.hex(16), "", "")
}

func tCMWatch(g *Generator, q *request) {
	a := pick(&g.r, g.c.controllers)
	res := pick(&g.r, []*resource{resPods, resReplicaSets, resDeployments, resEndpointSlices, resServices, resNodes, resJobs, resSecrets, resServiceAccounts, resNamespaces})
	q.set(a, "watch", res, "", "", "", watchQuery(g, ""))
}

// ---- kube-scheduler ----

func tSchedLease(g *Generator, q *request) {
	if g.r.chance(0.7) {
		q.set(g.c.sched, "update", resLeases, "kube-system", "kube-scheduler", "", "?timeout=5s")
		q.refUID, q.refRV = g.uidFor("lease/sched"), g.rv()
		return
	}
	q.set(pick(&g.r, g.c.schedOthers), "get", resLeases, "kube-system", "kube-scheduler", "", "?timeout=5s")
}

func tSchedBind(g *Generator, q *request) {
	ns := g.appNS()
	pod := pick(&g.r, ns.pods)
	q.set(g.c.sched, "create", resPods, ns.name, pod, "binding", "")
}

func tSchedEvent(g *Generator, q *request) {
	ns := g.appNS()
	q.set(g.c.sched, "create", resEventsV1, ns.name, pick(&g.r, ns.pods)+"."+g.r.hex(16), "", "")
}

func tSchedWatch(g *Generator, q *request) {
	res := pick(&g.r, []*resource{resPods, resNodes, resCSINodes, resServices, resStatefulSets})
	sel := ""
	if res == resPods {
		sel = "status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed"
	}
	q.set(g.c.sched, "watch", res, "", "", "", watchQuery(g, sel))
}

// ---- kube-system daemons ----

func tKubeProxy(g *Generator, q *request) {
	n := g.anyNode()
	if g.r.chance(0.7) {
		res := pick(&g.r, []*resource{resEndpointSlices, resServices})
		q.set(n.kubeProxy, "watch", res, "", "", "", watchQuery(g, ""))
		q.lr = true
		return
	}
	q.set(n.kubeProxy, "get", resNodes, "", n.name, "", "")
}

func tCoreDNS(g *Generator, q *request) {
	a := pick(&g.r, g.c.coredns)
	res := pick(&g.r, []*resource{resEndpointSlices, resServices, resNamespaces})
	q.set(a, "watch", res, "", "", "", watchQuery(g, ""))
}

func tCilium(g *Generator, q *request) {
	n := g.anyNode()
	switch g.r.intn(5) {
	case 0, 1:
		q.set(n.cilium, "update", resCiliumNodes, "", n.name, "", "")
		q.refUID, q.refRV = g.uidFor("ciliumnode/"+n.name), g.rv()
	case 2:
		p := g.podOn(n)
		q.set(n.cilium, "patch", resCiliumEndpoints, p.ns, p.name, "status", "")
	case 3:
		q.set(n.cilium, "get", resCiliumIDs, "", g.r.digits(5), "", "")
	default:
		q.set(n.cilium, "create", resCiliumEndpoints, g.appNS().name, "", "", "")
	}
}

func tCiliumOperator(g *Generator, q *request) {
	a := g.c.ciliumOp
	q.set(a, "update", resLeases, "kube-system", a.leases[0], "", "")
	q.refUID, q.refRV = g.uidFor("lease/cilium-op"), g.rv()
}

func tMetricsServer(g *Generator, q *request) {
	q.set(g.c.metrics, "watch", resNodes, "", "", "", watchQuery(g, ""))
}

// ---- operators ----

func (g *Generator) op(key string) *actor { return g.c.operators[key] }

func tOperatorLease(g *Generator, q *request) {
	var ls []*actor
	for _, a := range g.c.opList {
		if len(a.leases) > 0 {
			ls = append(ls, a)
		}
	}
	a := pick(&g.r, ls)
	ns := "kube-system"
	if a.ns != "cert-manager" {
		ns = a.ns
	}
	if g.r.chance(0.85) {
		q.set(a, "update", resLeases, ns, a.leases[0], "", "")
		q.refUID, q.refRV = g.uidFor("lease/"+a.leases[0]), g.rv()
		return
	}
	q.set(a, "get", resLeases, ns, a.leases[0], "", "")
}

func tCertManager(g *Generator, q *request) {
	a := g.op("cert-manager")
	ns := pick(&g.r, []string{"frontend", "payments", "checkout", "ingress-nginx", "argocd", "orders"})
	cert := ns + "-tls"
	switch g.r.intn(6) {
	case 0, 1:
		q.set(a, "get", resCertificates, ns, cert, "", "")
	case 2:
		q.set(a, "update", resCertificates, ns, cert, "status", "")
		q.refUID, q.refRV = g.uidFor("cert/"+cert), g.rv()
	case 3:
		q.set(a, "create", resCertRequests, ns, cert+"-"+g.r.digits(1), "", "")
	case 4:
		q.set(a, "create", resEvents, ns, cert+"."+g.r.hex(16), "", "")
	default:
		q.set(a, "watch", pick(&g.r, []*resource{resCertificates, resCertRequests, resSecrets, resIngresses}), "", "", "", watchQuery(g, ""))
	}
}

func tArgo(g *Generator, q *request) {
	app := pick(&g.r, []string{"payments", "checkout", "frontend", "orders", "team-a-app", "team-b-app", "monitoring", "ingress-nginx", "cert-manager", "platform-root"})
	switch g.r.intn(8) {
	case 0, 1, 2:
		q.set(g.op("argocd-app"), "patch", resApplications, "argocd", app, "", "")
	case 3:
		q.set(g.op("argocd-app"), "get", resApplications, "argocd", app, "", "")
	case 4:
		q.set(g.op("argocd-app"), "watch", pick(&g.r, []*resource{resApplications, resDeployments, resServices, resConfigMaps, resIngresses}), "", "", "", watchQuery(g, ""))
	case 5:
		q.set(g.op("argocd-server"), "get", resApplications, "argocd", app, "", "")
	case 6:
		q.set(g.op("argocd-server"), "list", resApplications, "argocd", "", "", "")
		q.listN = g.r.between(3, 10)
	default:
		q.set(g.op("argocd-app"), "get", resConfigMaps, "argocd", pick(&g.r, []string{"argocd-cm", "argocd-rbac-cm", "argocd-cmd-params-cm"}), "", "")
	}
}

func tFlux(g *Generator, q *request) {
	name := pick(&g.r, []string{"apps", "infra-controllers", "infra-configs", "flux-system", "monitoring"})
	switch g.r.intn(6) {
	case 0, 1:
		q.set(g.op("flux-kustomize"), "patch", resKustomizations, "flux-system", name, "status", "?fieldManager=gotk-kustomize-controller")
	case 2:
		ns := g.appNS()
		q.set(g.op("flux-kustomize"), "patch", pick(&g.r, []*resource{resDeployments, resServices, resConfigMaps, resIngresses}), ns.name, pick(&g.r, append(ns.apps, "web")), "", "?dryRun=All&fieldManager=kustomize-controller&force=true")
	case 3:
		q.set(g.op("flux-source"), "patch", resGitRepositories, "flux-system", "flux-system", "status", "?fieldManager=source-controller")
	case 4:
		q.set(g.op("flux-helm"), "patch", resHelmReleases, "flux-system", pick(&g.r, []string{"cilium", "cert-manager", "ingress-nginx", "kube-prometheus-stack"}), "status", "?fieldManager=helm-controller")
	default:
		q.set(g.op("flux-notification"), "create", resEvents, "flux-system", name+"."+g.r.hex(16), "", "")
	}
}

func tPromOperator(g *Generator, q *request) {
	switch g.r.intn(5) {
	case 0:
		s := g.c.findSecret("monitoring", "prometheus-k8s")
		q.set(g.op("prom-operator"), "update", resSecrets, "monitoring", s.name, "", "")
		q.sec, q.refUID, q.refRV = s, s.uid, g.rv()
	case 1:
		q.set(g.op("prom-operator"), "get", resStatefulSets, "monitoring", "prometheus-k8s", "", "")
	case 2:
		q.set(g.op("ksm"), "watch", pick(&g.r, []*resource{resPods, resDeployments, resNodes, resJobs, resSecrets, resConfigMaps, resLeases}), "", "", "", watchQuery(g, ""))
	case 3:
		ns := g.appNS()
		q.set(g.op("prometheus"), "list", pick(&g.r, []*resource{resPods, resEndpointSlices, resServices}), ns.name, "", "", "?limit=500&resourceVersion=0")
		q.listN = g.r.between(1, 8)
	default:
		q.set(g.op("prom-operator"), "watch", pick(&g.r, []*resource{resSecrets, resConfigMaps, resStatefulSets, resNamespaces}), "", "", "", watchQuery(g, ""))
	}
}

func tIngressNginx(g *Generator, q *request) {
	a := g.op("ingress-nginx")
	ns := g.appNS()
	if g.r.chance(0.5) {
		q.set(a, "update", resIngresses, ns.name, pick(&g.r, append(ns.apps, "web")), "status", "")
		q.refUID, q.refRV = g.uidFor("ing/"+ns.name), g.rv()
		return
	}
	q.set(a, "get", resConfigMaps, "ingress-nginx", "ingress-nginx-controller", "", "")
}

func tExternalSecrets(g *Generator, q *request) {
	a := g.op("external-secrets")
	ns := g.appNS()
	switch g.r.intn(4) {
	case 0:
		if len(ns.secrets) > 0 {
			s := pick(&g.r, ns.secrets)
			if s.typ != stHelm {
				q.set(a, "update", resSecrets, ns.name, s.name, "", "")
				q.sec, q.refUID, q.refRV = s, s.uid, g.rv()
				return
			}
		}
		fallthrough
	case 1:
		q.set(a, "get", resExternalSecrets, ns.name, ns.name+"-secrets", "", "")
	case 2:
		q.set(a, "patch", resExternalSecrets, ns.name, ns.name+"-secrets", "status", "")
	default:
		q.set(a, "watch", resExternalSecrets, "", "", "", watchQuery(g, ""))
	}
}

func tTrivy(g *Generator, q *request) {
	a := g.op("trivy")
	ns := g.appNS()
	app := pick(&g.r, append(ns.apps, "web"))
	switch g.r.intn(3) {
	case 0:
		q.set(a, "create", resVulnReports, ns.name, "replicaset-"+app+"-"+g.r.kubeSuffix(10)+"-"+app, "", "")
	case 1:
		q.set(a, "get", resReplicaSets, ns.name, app+"-"+g.r.kubeSuffix(10), "", "")
	default:
		q.set(a, "list", resVulnReports, ns.name, "", "", "?labelSelector=trivy-operator.resource.kind%3DReplicaSet")
		q.listN = g.r.between(0, 3)
	}
}

func tGrafanaSidecar(g *Generator, q *request) {
	q.set(g.op("grafana-sidecar"), "watch", resConfigMaps, "", "", "", "?labelSelector=grafana_dashboard%3D1&timeoutSeconds=60&watch=true")
}

// ---- workloads ----

func tFluentBitPod(g *Generator, q *request) {
	n := g.anyNode()
	p := g.podOn(n)
	q.set(n.fluentBit, "get", resPods, p.ns, p.name, "", "")
}

func tAppLease(g *Generator, q *request) {
	a := pick(&g.r, g.c.workloads)
	if g.r.chance(0.8) {
		q.set(a, "update", resLeases, a.ns, a.leases[0], "", "")
		q.refUID, q.refRV = g.uidFor("lease/"+a.ns+"/"+a.leases[0]), g.rv()
		return
	}
	q.set(a, "get", resLeases, a.ns, a.leases[0], "", "")
}

func tAppConfigMap(g *Generator, q *request) {
	a := pick(&g.r, g.c.workloads)
	ns := g.c.ns(a.ns)
	q.set(a, "get", resConfigMaps, a.ns, pick(&g.r, ns.cms), "", "")
	if g.r.chance(0.03) {
		q.set(a, "get", resConfigMaps, a.ns, a.sa+"-overrides", "", "")
		q.notFound()
	}
}

func tAppListPods(g *Generator, q *request) {
	a := pick(&g.r, g.c.workloads)
	q.set(a, "list", resPods, a.ns, "", "", "?labelSelector=app%3D"+a.sa)
	q.listN = g.r.between(1, 4)
}

func tAppWatch(g *Generator, q *request) {
	a := pick(&g.r, g.c.workloads)
	q.set(a, "watch", resConfigMaps, a.ns, "", "", watchQuery(g, ""))
}

func tAppForbidden(g *Generator, q *request) {
	a := pick(&g.r, g.c.workloads)
	q.set(a, "list", pick(&g.r, []*resource{resPods, resServices, resEndpoints}), pick(&g.r, []string{"kube-system", "default", "monitoring"}), "", "", "?limit=500")
	q.forbidden()
}

// ---- humans ----

func (g *Generator) human() (a, imp *actor) {
	switch u := g.r.float(); {
	case u < 0.06:
		a = pick(&g.r, g.c.admins)
		return a, a.imperson
	case u < 0.14:
		return pick(&g.r, g.c.proxied), nil
	case u < 0.17:
		return g.c.localAdm, nil
	}
	return pick(&g.r, g.c.humans), nil
}

func tHuman(g *Generator, q *request) {
	a, imp := g.human()
	q.imp = imp
	eff := a
	if imp != nil {
		eff = imp
	}
	ns := g.appNS()
	pod := pick(&g.r, ns.pods)
	app := pick(&g.r, append(ns.apps, "web"))
	switch g.r.intn(16) {
	case 0, 1, 2:
		q.set(a, "list", resPods, ns.name, "", "", "?limit=500")
		q.listN = len(ns.pods)
	case 3:
		q.set(a, "get", resPods, ns.name, pod, "", "")
	case 4:
		q.set(a, "get", resPods, ns.name, pod, "log", "?container="+app+"&follow=true&tailLines=100")
		q.lr = true
	case 5:
		q.set(a, "create", resPods, ns.name, pod, "exec", "?command=%2Fbin%2Fsh&container="+app+"&stdin=true&stdout=true&tty=true")
		q.lr, q.code, q.body = true, 101, bodyNone
	case 6:
		q.set(a, "list", resEvents, ns.name, "", "", "?fieldSelector=involvedObject.name%3D"+pod+"%2CinvolvedObject.namespace%3D"+ns.name+"&limit=500")
		q.listN = g.r.between(0, 8)
	case 7:
		q.set(a, "get", resDeployments, ns.name, app, "", "")
	case 8:
		q.set(a, "patch", resDeployments, ns.name, app, "", "?fieldManager=kubectl-rollout")
	case 9:
		q.set(a, "list", resNodes, "", "", "", "?limit=500")
		q.listN = len(g.c.nodes)
	case 10, 11:
		q.setNonResource(a, "get", pick(&g.r, []string{"/api?timeout=32s", "/apis?timeout=32s", "/version?timeout=32s", "/openapi/v2?timeout=32s"}))
	case 12:
		q.set(a, "create", resSSAR, "", "", "", "")
	case 13:
		q.set(a, "delete", resPods, ns.name, pod, "", "")
	case 14:
		q.set(a, "list", resNamespaces, "", "", "", "?limit=500")
		q.listN = len(g.c.nss)
	default:
		q.set(a, "list", resSecrets, ns.name, "", "", "?limit=500")
		q.listN = len(ns.secrets)
	}
	if q.res != nil && (eff.forbidP > 0 && g.r.chance(eff.forbidP)) {
		q.forbidden()
		q.lr = false
	}
}

// ---- CI ----

func tCI(g *Generator, q *request) {
	ns := g.appNS()
	app := pick(&g.r, append(ns.apps, "web"))
	switch g.r.intn(9) {
	case 0, 1:
		q.set(g.c.helmCI, "list", resSecrets, ns.name, "", "", "?labelSelector=name%3D"+app+"%2Cowner%3Dhelm")
		q.listN = -1 // helm release secrets of the namespace
	case 2, 3:
		q.set(g.c.helmCI, "patch", pick(&g.r, []*resource{resDeployments, resServices, resConfigMaps}), ns.name, app, "", "?fieldManager=helm")
	case 4:
		q.set(g.c.helmCI, "get", pick(&g.r, []*resource{resDeployments, resServices, resConfigMaps}), ns.name, app, "", "")
	case 5:
		q.set(g.c.kubectlCI, "patch", resDeployments, ns.name, app, "", "?fieldManager=kubectl-client-side-apply&fieldValidation=Strict")
	case 6:
		q.set(g.c.kubectlCI, "get", resDeployments, ns.name, app, "", "")
	case 7:
		q.set(g.c.helmCI, "create", resSecrets, ns.name, "sh.helm.release.v1."+app+".v"+strconv.Itoa(g.r.between(2, 60)), "", "")
		q.sec = &secret{ns: ns.name, name: q.name, typ: stHelm, keys: secretKeys[stHelm], uid: g.r.uuid(), created: q.recv}
	default:
		q.set(g.c.kubectlCI, "update", resCRDs, "", pick(&g.r, []string{"applications.argoproj.io", "prometheuses.monitoring.coreos.com", "certificates.cert-manager.io", "vulnerabilityreports.aquasecurity.github.io", "kafkas.kafka.strimzi.io"}), "", "?fieldManager=kubectl-client-side-apply")
		q.refUID, q.refRV = g.uidFor("crd/"+q.name), g.rv()
	}
}

// ---- anonymous ----

func tProbe(g *Generator, q *request) {
	if g.r.chance(0.25) {
		q.setNonResource(g.c.lbProbe, "get", "/readyz")
		return
	}
	q.setNonResource(pick(&g.r, g.c.anon), "get", pick(&g.r, []string{"/livez", "/readyz", "/readyz", "/livez", "/version"}))
}

// generalTemplates is the background traffic except `get secrets`, as
// request weights.
var generalTemplates = []tmpl{
	{classAPIServer, 1.4, false, tAPIServerLease},
	{classAPIServer, 1.2, false, tAPIServerMisc},
	{classAPIServer, 0.3, true, tAPIServerWatch},

	{classControllerManager, 1.5, false, tCMLease},
	{classControllerManager, 2.2, false, tCMEndpointSlice},
	{classControllerManager, 0.9, false, tCMEndpoints},
	{classControllerManager, 1.2, false, tCMReplicaSet},
	{classControllerManager, 0.6, false, tCMDeployment},
	{classControllerManager, 0.5, false, tCMJobs},
	{classControllerManager, 0.5, false, tCMGC},
	{classControllerManager, 1.6, false, tCMHPA},
	{classControllerManager, 1.4, false, tCMMisc},
	{classControllerManager, 1.5, false, tCMEvent},
	{classControllerManager, 0.5, true, tCMWatch},

	{classScheduler, 1.5, false, tSchedLease},
	{classScheduler, 1.0, false, tSchedBind},
	{classScheduler, 1.0, false, tSchedEvent},
	{classScheduler, 0.2, true, tSchedWatch},

	{classKubelet, 12, false, tKubeletLease},
	{classKubelet, 0.8, false, tKubeletLeaseGet},
	{classKubelet, 3, false, tKubeletNodeStatus},
	{classKubelet, 2.5, false, tKubeletGetNode},
	{classKubelet, 3, false, tKubeletPodStatus},
	{classKubelet, 2, false, tKubeletGetPod},
	{classKubelet, 2, false, tKubeletEvent},
	{classKubelet, 1.5, false, tKubeletToken},
	{classKubelet, 2.2, true, tKubeletWatchObject},
	{classKubelet, 0.8, false, tKubeletListObject},
	{classKubelet, 0.6, true, tKubeletWatchOther},
	{classKubelet, 0.3, false, tKubeletCSINode},

	{classKubeSystem, 1.0, true, tKubeProxy},
	{classKubeSystem, 0.5, true, tCoreDNS},
	{classKubeSystem, 3.0, false, tCilium},
	{classKubeSystem, 1.0, false, tCiliumOperator},
	{classKubeSystem, 0.2, true, tMetricsServer},

	{classOperator, 9, false, tOperatorLease},
	{classOperator, 2.5, false, tCertManager},
	{classOperator, 3.5, false, tArgo},
	{classOperator, 2.5, false, tFlux},
	{classOperator, 1.5, false, tPromOperator},
	{classOperator, 1.0, false, tIngressNginx},
	{classOperator, 1.0, false, tExternalSecrets},
	{classOperator, 0.6, false, tTrivy},
	{classOperator, 0.2, true, tGrafanaSidecar},

	{classWorkload, 4, false, tFluentBitPod},
	{classWorkload, 3, false, tAppLease},
	{classWorkload, 2, false, tAppConfigMap},
	{classWorkload, 1.2, false, tAppListPods},
	{classWorkload, 0.4, true, tAppWatch},
	{classWorkload, 0.3, false, tAppForbidden},

	{classHuman, 5, false, tHuman},
	{classCI, 1.8, false, tCI},
	{classAnonymous, 2, false, tProbe},
}

// ---- background `get secrets` ----

func sgOwn(g *Generator, q *request, a *actor) {
	s := pick(&g.r, a.secrets)
	q.getSecret(a, s)
}

func sgWorkload(g *Generator, q *request) { sgOwn(g, q, pick(&g.r, g.c.appSG)) }
func sgCertManager(g *Generator, q *request) {
	sgOwn(g, q, g.op("cert-manager"))
}
func sgArgo(g *Generator, q *request)      { sgOwn(g, q, g.op("argocd-server")) }
func sgFlux(g *Generator, q *request)      { sgOwn(g, q, g.op("flux-source")) }
func sgESO(g *Generator, q *request)       { sgOwn(g, q, g.op("external-secrets")) }
func sgIngress(g *Generator, q *request)   { sgOwn(g, q, g.op("ingress-nginx")) }
func sgPromOp(g *Generator, q *request)    { sgOwn(g, q, g.op("prom-operator")) }
func sgGrafana(g *Generator, q *request)   { sgOwn(g, q, g.op("grafana-sidecar")) }
func sgTokensCtl(g *Generator, q *request) { q.getSecret(g.c.cmTokens, g.anySecret(false)) }
func sgLocalAdmin(g *Generator, q *request) {
	q.getSecret(g.c.localAdm, g.anySecret(false))
}

// sgHelm: Helm reading the latest release record (excluded by name).
func sgHelm(g *Generator, q *request) {
	q.getSecret(g.c.helmCI, g.anySecret(true))
}

func sgHuman(g *Generator, q *request) {
	a := pick(&g.r, g.c.humanSG)
	sgOwn(g, q, a)
	if a.forbidP > 0 && g.r.chance(a.forbidP/2) {
		q.forbidden()
	}
}

// anySecret picks a secret anywhere; helm selects Helm release records.
func (g *Generator) anySecret(helm bool) *secret {
	for {
		ns := pick(&g.r, g.c.nss)
		if len(ns.secrets) == 0 {
			continue
		}
		s := pick(&g.r, ns.secrets)
		if (s.typ == stHelm) == helm {
			return s
		}
	}
}

var secretGetTemplates = []tmpl{
	{classWorkload, 45, false, sgWorkload},
	{classOperator, 8, false, sgCertManager},
	{classOperator, 6, false, sgArgo},
	{classOperator, 4, false, sgFlux},
	{classOperator, 3, false, sgESO},
	{classOperator, 2, false, sgIngress},
	{classOperator, 3, false, sgPromOp},
	{classOperator, 1, false, sgGrafana},
	{classControllerManager, 6, false, sgTokensCtl},
	{classHuman, 2, false, sgLocalAdmin},
	{classCI, 8, false, sgHelm},
	{classHuman, 8, false, sgHuman},
}
