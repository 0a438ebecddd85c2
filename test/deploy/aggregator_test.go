package deploy

import (
	"fmt"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// The aggregator topology on the chart (README "Aggregator topology"):
// values-edge.yaml, a DaemonSet of edges on the control-plane nodes, and
// values-aggregator.yaml, installed once per aggregator, the release name
// naming its Service, which the edges' forward outputs name as Host.
const (
	edgeValues       = "deploy/helm/values-edge.yaml"
	aggregatorValues = "deploy/helm/values-aggregator.yaml"
	edgeRelease      = "k8s-secret-enum-edge"
	forwardPort      = 24224
	webhookPort      = 9880
)

// aggregatorReleases are the two replicas the edge's outputs name.
var aggregatorReleases = []string{"k8s-secret-enum-aggregator-a", "k8s-secret-enum-aggregator-b"}

// topology is the rendered edge and aggregators.
type topology struct {
	edge        []object
	aggregators map[string][]object // by release
}

func renderTopology(t *testing.T) topology {
	t.Helper()
	top := topology{edge: renderRelease(t, edgeRelease, []string{edgeValues}), aggregators: map[string][]object{}}
	for _, r := range aggregatorReleases {
		top.aggregators[r] = renderRelease(t, r, []string{aggregatorValues})
	}
	return top
}

func deploymentPod(t *testing.T, objs []object) pod {
	t.Helper()
	d := only[*appsv1.Deployment](t, objs)
	return pod{Spec: d.Spec.Template.Spec, ConfigMaps: configMaps(objs)}
}

// TestAggregatorChartsDecodeStrictly: the edge and aggregator releases
// render the objects they should, each decoded strictly; no RBAC, no
// service account token; each aggregator release is one pod, its objects
// named after the release.
func TestAggregatorChartsDecodeStrictly(t *testing.T) {
	top := renderTopology(t)
	check := func(name string, objs []object, want []string) {
		if got := kinds(objs); !slices.Equal(got, want) {
			t.Errorf("%s: objects %v, want %v", name, got, want)
		}
		if n := len(all[*rbacv1.ClusterRole](objs)) + len(all[*rbacv1.ClusterRoleBinding](objs)); n != 0 {
			t.Errorf("%s: %d RBAC objects rendered, want none", name, n)
		}
	}
	e := edgeRelease + "-fluent-bit"
	check(edgeRelease, top.edge, []string{"ConfigMap/" + e, "DaemonSet/" + e, "Pod/" + e + "-test-connection",
		"Service/" + e, "ServiceAccount/" + e})
	p := daemonSetPod(t, top.edge)
	if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
		t.Errorf("%s: the pod mounts a service account token it does not need", edgeRelease)
	}
	checkNames(t, p.Spec)
	for _, r := range aggregatorReleases {
		objs := top.aggregators[r]
		check(r, objs, []string{"ConfigMap/" + r, "Deployment/" + r, "Pod/" + r + "-test-connection",
			"Service/" + r, "ServiceAccount/" + r})
		d := only[*appsv1.Deployment](t, objs)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("%s: %v replicas, want 1: two pods behind the Service would split the edges' stream", r, d.Spec.Replicas)
		}
		p := deploymentPod(t, objs)
		if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
			t.Errorf("%s: the pod mounts a service account token it does not need", r)
		}
		checkNames(t, p.Spec)
	}
}

// forwardTarget is one forward output of the edge.
type forwardTarget struct {
	alias, host string
	port        int
}

// TestAggregatorTopologyWiring: every path of both configurations is in a
// mount of the right kind; the edge reads the audit log on the node
// (read-only), keeps its offsets and buffers on its own hostPath, strips the
// request and response objects, and sends every event, acknowledged, to
// each aggregator: each forward output's Host is an aggregator release's
// Service (in the release's namespace) and its Port a Service port leading
// to the aggregator's forward input. The aggregator's http input is on the
// Service too, and both inputs feed the plugin.
func TestAggregatorTopologyWiring(t *testing.T) {
	top := renderTopology(t)

	// The edge.
	ep := daemonSetPod(t, top.edge)
	ec, ecfg := loaded(t, ep)
	bad := func(format string, args ...any) { t.Errorf(format, args...) }
	var auditVol, stateVol string
	for _, ref := range ecfg.Refs {
		m, rel, ok := resolve(ec, ref.Path)
		if !ok {
			bad("edge: %s: %s is in no volume mount", ref.Where, ref.Path)
			continue
		}
		v, _ := ep.volume(m.Name)
		switch {
		case ref.Role == roleConfig:
			if v.ConfigMap == nil {
				bad("edge: %s: %s is on %s volume %q, want a configMap", ref.Where, ref.Path, volumeKind(v), v.Name)
			}
		case ref.Role == roleAuditLog:
			auditVol = v.Name
			if v.HostPath == nil || !m.ReadOnly || path.Join(v.HostPath.Path, rel) != defaultExpect.AuditLog {
				bad("edge: %s: want %s from a read-only hostPath, got volume %q (%s, readOnly %v)", ref.Where,
					defaultExpect.AuditLog, v.Name, volumeKind(v), m.ReadOnly)
			}
		default: // the tail DB and storage.path: the node's, writable, created on a fresh node
			stateVol = v.Name
			if v.HostPath == nil || m.ReadOnly || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
				bad("edge: %s: %s must be on a writable DirectoryOrCreate hostPath (it outlives the pod), got %q (%s)",
					ref.Where, ref.Path, v.Name, volumeKind(v))
			}
		}
	}
	if auditVol == "" || stateVol == "" || auditVol == stateVol {
		bad("edge: audit log volume %q, state volume %q: want two distinct hostPaths", auditVol, stateVol)
	}
	for _, msg := range checkScheduling(ep.Spec) {
		bad("edge: %s", msg)
	}
	secs := ecfg.all()
	if sp := ecfg.Service.Get("storage.path"); sp == "" {
		bad("edge: no storage.path: an aggregator outage would hold the backlog in memory only")
	}
	tails := sectionsNamed(secs, "INPUT", "tail")
	if len(tails) != 1 {
		t.Fatalf("edge: %d tail inputs, want 1", len(tails))
	}
	tail := tails[0]
	if !strings.EqualFold(tail.Get("storage.type"), "filesystem") || tail.Get("db") == "" || !isOn(tail.Get("skip_long_lines")) {
		bad("edge: %s wants storage.type filesystem, a DB and Skip_Long_Lines On", tail.label())
	}
	parsers := map[string]bool{}
	for _, s := range sectionsNamed(secs, "PARSER", "") {
		parsers[s.Get("name")] = true
	}
	if !parsers[tail.Get("parser")] {
		bad("edge: %s Parser %q is in no parsers file of the configuration", tail.label(), tail.Get("parser"))
	}
	stripped := map[string]bool{}
	for _, f := range sectionsNamed(secs, "FILTER", "record_modifier") {
		for _, e := range f.Entries {
			if strings.EqualFold(e.Key, "remove_key") && matches(f.Get("match"), tail.Get("tag")) {
				stripped[e.Value] = true
			}
		}
	}
	if !stripped["requestObject"] || !stripped["responseObject"] {
		bad("edge: requestObject and responseObject (the Secrets' data) must be removed before forwarding: %v", stripped)
	}
	if n := len(sectionsNamed(secs, "OUTPUT", pluginName)); n != 0 {
		bad("edge: %d %s outputs: the edge only forwards", n, pluginName)
	}
	var targets []forwardTarget
	for _, o := range sectionsNamed(secs, "OUTPUT", "forward") {
		port, _ := strconv.Atoi(o.Get("port"))
		targets = append(targets, forwardTarget{o.Get("alias"), o.Get("host"), port})
		if !matches(o.Get("match"), tail.Get("tag")) {
			bad("edge: %s Match %q does not take the tail's %q", o.label(), o.Get("match"), tail.Get("tag"))
		}
		if !isOn(o.Get("require_ack_response")) || !strings.EqualFold(o.Get("retry_limit"), "no_limits") || o.Get("workers") != "1" {
			bad("edge: %s %s wants Require_ack_response On, Retry_Limit no_limits, Workers 1", o.label(), o.Get("alias"))
		}
	}
	if len(targets) != len(aggregatorReleases) {
		t.Fatalf("edge: forward outputs %v, want one per aggregator %v", targets, aggregatorReleases)
	}

	// The aggregators, and the edge's outputs pointing at them.
	for i, r := range aggregatorReleases {
		objs := top.aggregators[r]
		ap := deploymentPod(t, objs)
		ac, acfg := loaded(t, ap)
		svc := only[*corev1.Service](t, objs)
		if want := svc.Name + "." + svc.Namespace + ".svc"; targets[i].host != want {
			bad("edge: output %s Host %q, want the Service of release %s: %q", targets[i].alias, targets[i].host, r, want)
		}
		if !selects(svc.Spec.Selector, only[*appsv1.Deployment](t, objs).Spec.Template.Labels) {
			bad("%s: the Service does not select the pod", r)
		}
		// Service port → container port name → container port → input Port.
		servicePorts := map[int]int{} // Service port → container port
		for _, sp := range svc.Spec.Ports {
			for _, cp := range ac.Ports {
				if sp.TargetPort.String() == cp.Name || sp.TargetPort.IntValue() == int(cp.ContainerPort) {
					servicePorts[int(sp.Port)] = int(cp.ContainerPort)
				}
			}
		}
		secs := acfg.all()
		inputPort := func(name string) int {
			in := sectionsNamed(secs, "INPUT", name)
			if len(in) != 1 {
				bad("%s: %d %s inputs, want 1", r, len(in), name)
				return -1
			}
			if in[0].Get("listen") != "0.0.0.0" {
				bad("%s: %s Listen %q: the Service reaches the pod's address, want 0.0.0.0", r, in[0].label(), in[0].Get("listen"))
			}
			p, _ := strconv.Atoi(in[0].Get("port"))
			return p
		}
		fwd, hook := inputPort("forward"), inputPort("http")
		if servicePorts[targets[i].port] != fwd || fwd != forwardPort {
			bad("%s: the edge sends to Service port %d, which leads to container port %d; the forward input listens on %d (want %d)",
				r, targets[i].port, servicePorts[targets[i].port], fwd, forwardPort)
		}
		if servicePorts[webhookPort] != hook {
			bad("%s: Service port %d leads to container port %d; the http input listens on %d", r, webhookPort, servicePorts[webhookPort], hook)
		}
		outs := sectionsNamed(secs, "OUTPUT", pluginName)
		if len(outs) != 1 {
			t.Fatalf("%s: %d %s outputs, want 1", r, len(outs), pluginName)
		}
		// The forward input keeps the edges' tag; the http input's Tag
		// (and the webhook's URL path, README) is kube.audit.
		if h := sectionsNamed(secs, "INPUT", "http"); len(h) == 1 && !matches(outs[0].Get("match"), h[0].Get("tag")) {
			bad("%s: %s Match %q does not take the http input's Tag %q", r, outs[0].label(), outs[0].Get("match"), h[0].Get("tag"))
		}
		if !matches(outs[0].Get("match"), tail.Get("tag")) {
			bad("%s: %s Match %q does not take the edges' tag %q", r, outs[0].label(), outs[0].Get("match"), tail.Get("tag"))
		}
		for _, ref := range acfg.Refs {
			m, rel, ok := resolve(ac, ref.Path)
			if !ok {
				bad("%s: %s: %s is in no volume mount", r, ref.Where, ref.Path)
				continue
			}
			v, _ := ap.volume(m.Name)
			switch ref.Role {
			case roleConfig:
				if v.ConfigMap == nil {
					bad("%s: %s: %s is on %s volume %q, want a configMap", r, ref.Where, ref.Path, volumeKind(v), v.Name)
				}
			case rolePluginSO:
				if v.EmptyDir == nil || !m.ReadOnly {
					bad("%s: %s: the .so must be on a read-only emptyDir", r, ref.Where)
					break
				}
				for _, msg := range checkInstall(ap, ac, ref, v.Name, rel, defaultExpect) {
					bad("%s: %s", r, msg)
				}
			case roleSecret:
				if v.Secret == nil || !m.ReadOnly || m.SubPath != "" {
					bad("%s: %s: %s wants a read-only Secret volume without subPath", r, ref.Where, ref.Path)
				}
			case roleState, roleAny: // state_file, alert_spool_dir, storage.path
				if v.HostPath != nil || m.ReadOnly || (v.EmptyDir == nil && v.PersistentVolumeClaim == nil) {
					bad("%s: %s: %s wants a writable emptyDir or claim of the pod, got %q (%s)", r, ref.Where, ref.Path, v.Name, volumeKind(v))
				}
			default:
				bad("%s: %s: %s has no place in an aggregator", r, ref.Where, ref.Path)
			}
		}
		if n, err := strconv.Atoi(acfg.Service.Get("coro_stack_size")); err != nil || n < minCoroStack {
			bad("%s: Coro_Stack_Size %q, want at least %d", r, acfg.Service.Get("coro_stack_size"), minCoroStack)
		}
		if acfg.Service.Get("storage.path") == "" {
			bad("%s: no storage.path: what the inputs acknowledged would be in memory only", r)
		}
		if ap.Spec.HostNetwork || len(ap.Spec.NodeSelector) > 0 {
			bad("%s: the aggregator needs neither the host's network nor particular nodes", r)
		}
		sc := ac.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			bad("%s: the aggregator reads nothing of the node: run it as non-root", r)
		}
	}
}

// TestAggregatorChartsOutputKeysAccepted: the plugin's own parser accepts
// the aggregator's rendered [OUTPUT].
func TestAggregatorChartsOutputKeysAccepted(t *testing.T) {
	outputAccepted(t, deploymentPod(t, renderRelease(t, aggregatorReleases[0], []string{aggregatorValues})))
}

// retarget replaces, in a materialized configuration, what the test runs
// differently: every replacement must find its text.
func retarget(t *testing.T, file string, pairs ...string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		re := regexp.MustCompile(pairs[i])
		if !re.MatchString(text) {
			t.Fatalf("%s: nothing matches %s", file, pairs[i])
		}
		text = re.ReplaceAllString(text, pairs[i+1])
	}
	writeFile(t, file, text, 0o644)
}

// TestAggregatorTopologyRuns runs the rendered releases in real Fluent Bit
// processes, as the cluster would wire them: the edge tails the audit log
// on its hostPath and forwards to both aggregators (their Services' names
// pointed at local ports), each aggregator loads the .so the init container
// installed and sends the harvest's alert with the token from the Secret
// mount. The two alerts have the same alert.id; the Secret data the
// harvest does not carry is beside the point here (test/flb checks it).
func TestAggregatorTopologyRuns(t *testing.T) {
	bins := fluentBits(t)
	so := soPath(t)
	top := renderTopology(t)
	ep := daemonSetPod(t, top.edge)
	_, ecfg := loaded(t, ep)
	auditLog := ecfg.auditLog()
	for _, fb := range bins {
		t.Run(fb.Version, func(t *testing.T) {
			var aggs []*aggRun
			for _, r := range aggregatorReleases {
				aggs = append(aggs, startAggregator(t, fb.Path, so, r, top.aggregators[r]))
			}
			edge, elogs, logPath := startEdge(t, fb.Path, so, ep, auditLog, aggs)
			names := appendHarvest(t, logPath)

			var ids []string
			for _, a := range aggs {
				got := a.nextAlert(t, elogs)
				if want := "Bearer " + testToken; got.Authorization != want {
					t.Errorf("%s: Authorization %q, want %q", a.release, got.Authorization, want)
				}
				if !slices.Equal(got.Names, names) || got.User != harvestUser {
					t.Errorf("%s: alert for %s names %v, want %s names %v", a.release, got.User, got.Names, harvestUser, names)
				}
				ids = append(ids, got.ID)
			}
			if ids[0] == "" || ids[0] != ids[1] {
				t.Errorf("alert ids %q: want the same from both aggregators", ids)
			}
			for _, p := range []struct {
				name string
				proc *process
				logs *syncBuffer
			}{{"edge", edge, elogs}, {aggs[0].release, aggs[0].proc, &aggs[0].logs}, {aggs[1].release, aggs[1].proc, &aggs[1].logs}} {
				if err := p.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				select {
				case <-p.proc.done:
					if p.proc.err != nil {
						t.Errorf("%s: exit after SIGTERM: %v\n%s", p.name, p.proc.err, p.logs.String())
					}
				case <-time.After(time.Minute):
					t.Fatalf("%s still running a minute after SIGTERM:\n%s", p.name, p.logs.String())
				}
				noErrorLogged(t, p.name, p.logs.String())
			}
		})
	}
}

// aggRun is a rendered aggregator release running in Fluent Bit.
type aggRun struct {
	release string
	rcv     *receiver
	logs    syncBuffer
	proc    *process
	port    int // its forward input's
}

// startAggregator runs a rendered aggregator release on local ports, its
// alerts to a receiver of its own, and waits for its forward input.
func startAggregator(t *testing.T, bin, so, release string, objs []object) *aggRun {
	t.Helper()
	a := &aggRun{release: release, rcv: newReceiver(t), port: freePort(t)}
	fs := materialize(t, deploymentPod(t, objs), so)
	retarget(t, fs.config,
		`(?m)^(\s*HTTP_Listen\s+)0\.0\.0\.0\s*$`, "${1}127.0.0.1",
		`(?m)^(\s*HTTP_Port\s+)2020\s*$`, "${1}"+strconv.Itoa(freePort(t)),
		`(?m)^(\s*Listen\s+)0\.0\.0\.0\s*$`, "${1}127.0.0.1",
		`(?m)^(\s*Port\s+)`+strconv.Itoa(forwardPort)+`\s*$`, "${1}"+strconv.Itoa(a.port),
		`(?m)^(\s*Port\s+)`+strconv.Itoa(webhookPort)+`\s*$`, "${1}"+strconv.Itoa(freePort(t)),
		`(?m)^(\s*alert_url\s+)\S+\s*$`, "${1}"+a.rcv.URL+"/alerts",
		// The harvest is stamped now and nothing follows it: decide
		// within a second or two of wall-clock time, not 10s + 30s.
		`(?m)^(\s*reorder_delay\s+)10s\s*$`, "${1}1s\n        idle_timeout 1s")
	a.proc = start(t, &a.logs, bin, fs.args...)
	waitFor(t, &a.logs, a.proc, "the forward input", func(s string) bool {
		return strings.Contains(s, "listening on 127.0.0.1:"+strconv.Itoa(a.port))
	})
	return a
}

// nextAlert is the aggregator's next alert; the test stops if the
// aggregator exits first or none comes within a minute.
func (a *aggRun) nextAlert(t *testing.T, elogs *syncBuffer) receivedAlert {
	t.Helper()
	select {
	case got := <-a.rcv.alerts:
		return got
	case <-a.proc.done:
		t.Fatalf("%s exited (%v) before an alert:\n%s", a.release, a.proc.err, a.logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("%s: no alert within a minute:\n%s\nedge:\n%s", a.release, a.logs.String(), elogs.String())
	}
	return receivedAlert{}
}

// startEdge runs the rendered edge pod, its forward outputs pointed at the
// aggregators' local ports, on an empty audit log at the pod's auditLog;
// it returns the edge, its log, and the audit log's path on the host.
func startEdge(t *testing.T, bin, so string, ep pod, auditLog string, aggs []*aggRun) (*process, *syncBuffer, string) {
	t.Helper()
	fs := materialize(t, ep, so)
	pairs := []string{`(?m)^(\s*HTTP_Listen\s+)0\.0\.0\.0\s*$`, "${1}127.0.0.1",
		`(?m)^(\s*HTTP_Port\s+)2020\s*$`, "${1}" + strconv.Itoa(freePort(t))}
	for _, a := range aggs {
		host := regexp.QuoteMeta(a.release + "." + namespace + ".svc")
		pairs = append(pairs, `(?m)^(\s*Host\s+)`+host+`\s*\n(\s*Port\s+)`+strconv.Itoa(forwardPort)+`\s*$`,
			"${1}127.0.0.1\n${2}"+strconv.Itoa(a.port))
	}
	retarget(t, fs.config, pairs...)
	logPath := fs.host(auditLog)
	writeFile(t, logPath, "", 0o600)
	elogs := &syncBuffer{}
	return startWatching(t, elogs, bin, logPath, fs.args...), elogs, logPath
}

// aggregatorManifests decodes deploy/manifests/aggregator strictly.
func aggregatorManifests(t *testing.T) []object {
	t.Helper()
	return decodeFiles(t, manifestsDir+"/aggregator/edge.yaml", manifestsDir+"/aggregator/aggregators.yaml")
}

// TestAggregatorManifestsMatchChart: deploy/manifests/aggregator is the
// chart's rendering of the edge and of each aggregator release, up to
// object names and the chart's labels: the same pods, configurations and
// Service ports, each Service selecting its own Deployment's pod only.
func TestAggregatorManifestsMatchChart(t *testing.T) {
	top := renderTopology(t)
	plain := aggregatorManifests(t)
	samePod(t, "edge", daemonSetPod(t, top.edge), daemonSetPod(t, plain))
	deps := map[string]*appsv1.Deployment{}
	for _, d := range all[*appsv1.Deployment](plain) {
		deps[d.Name] = d
	}
	svcs := map[string]*corev1.Service{}
	for _, s := range all[*corev1.Service](plain) {
		svcs[s.Name] = s
	}
	if len(deps) != len(aggregatorReleases) || len(svcs) != len(aggregatorReleases) {
		t.Fatalf("manifests: Deployments %v, Services %v, want one each per aggregator %v", kinds(plain), len(svcs), aggregatorReleases)
	}
	for _, r := range aggregatorReleases {
		d, svc := deps[r], svcs[r]
		if d == nil || svc == nil {
			t.Errorf("manifests: no Deployment and Service %s", r)
			continue
		}
		samePod(t, r, deploymentPod(t, top.aggregators[r]), pod{Spec: d.Spec.Template.Spec, ConfigMaps: configMaps(plain)})
		if cd := only[*appsv1.Deployment](t, top.aggregators[r]); !reflect.DeepEqual(cd.Spec.Replicas, d.Spec.Replicas) {
			t.Errorf("%s: replicas %v, the chart's %v", r, d.Spec.Replicas, cd.Spec.Replicas)
		}
		if cs := only[*corev1.Service](t, top.aggregators[r]); !reflect.DeepEqual(cs.Spec.Ports, svc.Spec.Ports) {
			t.Errorf("%s: Service ports %+v, the chart's %+v", r, svc.Spec.Ports, cs.Spec.Ports)
		}
		for _, other := range deps {
			if got := selects(svc.Spec.Selector, other.Spec.Template.Labels); got != (other.Name == r) {
				t.Errorf("Service %s selects the pods of %s: %v", r, other.Name, got)
			}
		}
	}
}

const edgeShardedValues = "deploy/helm/values-edge-sharded.yaml"

// shardedReleases are the aggregators values-edge-sharded.yaml names, in
// the order of its shards.
var shardedReleases = []string{"k8s-secret-enum-aggregator-0", "k8s-secret-enum-aggregator-1"}

// TestShardedEdgeRuns: the edge rendered with values-edge-sharded.yaml
// sends each shard's tag to the Service of its aggregator release (under
// the aggregators' tag), and, run for real with both rendered aggregators,
// each user's alert comes from its shard's aggregator only: the harvest's
// user (…:runner) is of shard 1, a second user (…:builder-2) of shard 0.
func TestShardedEdgeRuns(t *testing.T) {
	edgeObjs := renderRelease(t, edgeRelease, []string{edgeValues, edgeShardedValues})
	ep := daemonSetPod(t, edgeObjs)
	_, ecfg := loaded(t, ep)
	secs := ecfg.all()
	tail := sectionsNamed(secs, "INPUT", "tail")[0]
	outs := sectionsNamed(secs, "OUTPUT", "forward")
	if len(outs) != len(shardedReleases) {
		t.Fatalf("%d forward outputs, want one per shard", len(outs))
	}
	rules := sectionsNamed(secs, "FILTER", "rewrite_tag")
	if len(rules) != 1 || !matches(rules[0].Get("match"), tail.Get("tag")) {
		t.Fatalf("want one rewrite_tag filter on the tail's records, found %d", len(rules))
	}
	// The rules test/flb proves exact (deploy/aggregator/edge-sharded.conf).
	shipped, err := os.ReadFile(repoPath("deploy/aggregator/edge-sharded.conf"))
	if err != nil {
		t.Fatal(err)
	}
	shippedSecs, err := parseClassic(string(shipped))
	if err != nil {
		t.Fatal(err)
	}
	ruleLines := func(s section) []string {
		var out []string
		for _, e := range s.Entries {
			if strings.EqualFold(e.Key, "rule") {
				out = append(out, e.Value)
			}
		}
		return out
	}
	if want := sectionsNamed(shippedSecs, "FILTER", "rewrite_tag"); len(want) != 1 || !slices.Equal(ruleLines(rules[0]), ruleLines(want[0])) {
		t.Errorf("the rendered rewrite_tag rules %q are not those of deploy/aggregator/edge-sharded.conf", ruleLines(rules[0]))
	}
	aggObjs := map[string][]object{}
	for i, r := range shardedReleases {
		aggObjs[r] = renderRelease(t, r, []string{aggregatorValues})
		svc := only[*corev1.Service](t, aggObjs[r])
		o := outs[i]
		if want := svc.Name + "." + svc.Namespace + ".svc"; o.Get("host") != want || o.Get("port") != strconv.Itoa(forwardPort) {
			t.Errorf("%s: Host %s Port %s, want %s %d", o.Get("alias"), o.Get("host"), o.Get("port"), want, forwardPort)
		}
		shardTag := fmt.Sprintf("kube.audit.shard-%d", i)
		if !matches(o.Get("match"), shardTag) || o.Get("tag") != tail.Get("tag") {
			t.Errorf("%s: Match %q Tag %q, want the shard's %s sent as %s", o.Get("alias"), o.Get("match"), o.Get("tag"), shardTag, tail.Get("tag"))
		}
	}
	auditLog := ecfg.auditLog()
	const shard0User = "system:serviceaccount:ci:builder-2"
	so := soPath(t)
	for _, fb := range fluentBits(t) {
		t.Run(fb.Version, func(t *testing.T) {
			var aggs []*aggRun
			for _, r := range shardedReleases {
				aggs = append(aggs, startAggregator(t, fb.Path, so, r, aggObjs[r]))
			}
			edge, elogs, logPath := startEdge(t, fb.Path, so, ep, auditLog, aggs)
			names := appendHarvest(t, logPath)
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			// The same reads by the shard-0 user, a millisecond later.
			again := strings.ReplaceAll(string(b), harvestUser, shard0User)
			f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(again); err != nil {
				t.Fatal(err)
			}
			f.Close()

			wantUser := []string{shard0User, harvestUser}
			for i, a := range aggs {
				if got := a.nextAlert(t, elogs); got.User != wantUser[i] || !slices.Equal(got.Names, names) {
					t.Errorf("%s: alert for %s names %v, want %s names %v", a.release, got.User, got.Names, wantUser[i], names)
				}
			}
			for _, p := range []*process{edge, aggs[0].proc, aggs[1].proc} {
				if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				select {
				case <-p.done:
				case <-time.After(time.Minute):
					t.Fatal("a Fluent Bit still runs a minute after SIGTERM")
				}
			}
			// Nothing else reached either aggregator: each user's alert
			// (and its update at exit, if any) came from one place only.
			for i, a := range aggs {
				for len(a.rcv.alerts) > 0 {
					if got := <-a.rcv.alerts; got.User != wantUser[i] {
						t.Errorf("%s: an alert for %s, of the other shard", a.release, got.User)
					}
				}
				noErrorLogged(t, a.release, a.logs.String())
			}
			noErrorLogged(t, "edge", elogs.String())
		})
	}
}
