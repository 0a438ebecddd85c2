package deploy

import (
	"net"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
)

// daemonSetPod is the pod of the variant's only DaemonSet.
func daemonSetPod(t *testing.T, objs []object) pod {
	t.Helper()
	ds := only[*appsv1.DaemonSet](t, objs)
	return pod{Spec: ds.Spec.Template.Spec, ConfigMaps: configMaps(objs)}
}

// loaded is a pod's fluent-bit container and configuration, or a failure.
func loaded(t *testing.T, p pod) (*corev1.Container, fbConfig) {
	t.Helper()
	c, err := p.mainContainer()
	if err != nil {
		t.Fatal(err)
	}
	cfg, problems := p.loadConfig(c)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return c, cfg
}

// TestDeploymentsDecodeStrictly: every object decodes into the upstream
// types without unknown, duplicate or miscased fields (render and manifests
// fail the test otherwise), and each variant has the objects it should.
func TestDeploymentsDecodeStrictly(t *testing.T) {
	want := map[string][]string{
		"chart": {"ConfigMap/k8s-secret-enum-fluent-bit", "DaemonSet/k8s-secret-enum-fluent-bit",
			"Pod/k8s-secret-enum-fluent-bit-test-connection", "Service/k8s-secret-enum-fluent-bit",
			"ServiceAccount/k8s-secret-enum-fluent-bit"},
		"chart+metrics": {"ConfigMap/k8s-secret-enum-fluent-bit", "DaemonSet/k8s-secret-enum-fluent-bit",
			"Pod/k8s-secret-enum-fluent-bit-test-connection", "Service/k8s-secret-enum-fluent-bit",
			"ServiceAccount/k8s-secret-enum-fluent-bit", "ServiceMonitor/k8s-secret-enum-fluent-bit"},
		"manifests": {"ConfigMap/k8s-secret-enum", "DaemonSet/k8s-secret-enum", "Namespace/k8s-secret-enum",
			"ServiceAccount/k8s-secret-enum"},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := v.objs(t)
			if got := kinds(objs); !slices.Equal(got, want[v.name]) {
				t.Errorf("objects %v, want %v", got, want[v.name])
			}
			// No RBAC: the pipeline has no kubernetes filter and the pod no API token.
			if n := len(all[*rbacv1.ClusterRole](objs)) + len(all[*rbacv1.ClusterRoleBinding](objs)); n != 0 {
				t.Errorf("%d RBAC objects rendered, want none", n)
			}
			p := daemonSetPod(t, objs)
			if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
				t.Errorf("the pod mounts a service account token it does not need")
			}
			checkNames(t, p.Spec)
		})
	}
}

// checkNames applies the API server's syntax rules the decoder does not:
// DNS-1123 labels for volumes and containers, IANA names for ports.
func checkNames(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	seen := map[string]bool{}
	for _, v := range spec.Volumes {
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			t.Errorf("volume %q: %s", v.Name, msg)
		}
		if seen[v.Name] {
			t.Errorf("volume %q defined twice", v.Name)
		}
		seen[v.Name] = true
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			t.Errorf("container %q: %s", c.Name, msg)
		}
		for _, p := range c.Ports {
			for _, msg := range validation.IsValidPortName(p.Name) {
				t.Errorf("container %s port %q: %s", c.Name, p.Name, msg)
			}
		}
	}
}

// TestDeploymentsWiring: every path of the Fluent Bit configuration is in
// a mount of the fluent-bit container, on the intended kind of volume,
// read-only where it should be; the init container fills the emptyDir the
// plugin is loaded from; the pod runs on control-plane nodes only.
func TestDeploymentsWiring(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			p := daemonSetPod(t, v.objs(t))
			for _, msg := range checkPod(p, defaultExpect) {
				t.Error(msg)
			}
		})
	}
}

// TestChartKeepsOfficialImage: the values add to the chart's pod; the
// Fluent Bit container still runs the chart's own image and command.
func TestChartKeepsOfficialImage(t *testing.T) {
	var chartValues struct {
		Image   struct{ Repository, Tag string }
		Command []string
	}
	var chartMeta struct{ AppVersion string }
	readYAML(t, chartDir(t)+"/values.yaml", &chartValues)
	readYAML(t, chartDir(t)+"/Chart.yaml", &chartMeta)
	want := chartValues.Image.Repository + ":" + chartMeta.AppVersion
	objs := render(t, []string{valuesFile})
	p := daemonSetPod(t, objs)
	c, err := p.mainContainer()
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != want {
		t.Errorf("fluent-bit container image %q, want the chart's %q", c.Image, want)
	}
	if !slices.Equal(c.Command, chartValues.Command) {
		t.Errorf("command %v, want the chart's %v", c.Command, chartValues.Command)
	}
	// The manifests pin the same image.
	mc, err := daemonSetPod(t, manifests(t)).mainContainer()
	if err != nil {
		t.Fatal(err)
	}
	if mc.Image != want {
		t.Errorf("manifests: fluent-bit image %q, want %q", mc.Image, want)
	}
}

func readYAML(t *testing.T, file string, into any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestMetricsScrape: without values-metrics.yaml nothing names the plugin's
// metrics_listen; with it, metrics_listen's port is a container port, a
// Service port and a ServiceMonitor endpoint with path /metrics.
func TestMetricsScrape(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		for _, v := range []variant{variants[0], variants[2]} {
			objs := v.objs(t)
			p := daemonSetPod(t, objs)
			c, _ := p.mainContainer()
			cfg, problems := p.loadConfig(c)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			if l := outputProperties(cfg).Get("metrics_listen"); l != "" {
				t.Errorf("%s: metrics_listen %q is set by default", v.name, l)
			}
			if len(all[*monitoringv1.ServiceMonitor](objs)) != 0 {
				t.Errorf("%s: a ServiceMonitor is rendered by default", v.name)
			}
		}
	})
	t.Run("on", func(t *testing.T) {
		objs := variants[1].objs(t)
		p := daemonSetPod(t, objs)
		c, _ := p.mainContainer()
		cfg, problems := p.loadConfig(c)
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		listen := outputProperties(cfg).Get("metrics_listen")
		_, portText, err := net.SplitHostPort(listen)
		if err != nil {
			t.Fatalf("metrics_listen %q: %v", listen, err)
		}
		port, _ := strconv.Atoi(portText)
		var portName string
		for _, cp := range c.Ports {
			if int(cp.ContainerPort) == port {
				portName = cp.Name
			}
		}
		if portName == "" {
			t.Fatalf("metrics_listen %s: no container port %d", listen, port)
		}
		svc := only[*corev1.Service](t, objs)
		var svcPort string
		for _, sp := range svc.Spec.Ports {
			if sp.TargetPort.String() == portName || sp.TargetPort.IntValue() == port {
				svcPort = sp.Name
			}
		}
		if svcPort == "" {
			t.Fatalf("no Service port targets container port %s", portName)
		}
		if !selects(svc.Spec.Selector, only[*appsv1.DaemonSet](t, objs).Spec.Template.Labels) {
			t.Errorf("Service selector %v does not select the pods", svc.Spec.Selector)
		}
		sm := only[*monitoringv1.ServiceMonitor](t, objs)
		found := false
		for _, ep := range sm.Spec.Endpoints {
			if ep.Port == svcPort && ep.Path == "/metrics" {
				found = true
			}
		}
		if !found {
			t.Errorf("ServiceMonitor has no endpoint port %s path /metrics: %+v", svcPort, sm.Spec.Endpoints)
		}
		if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
			t.Errorf("ServiceMonitor selector %v does not select the Service %v", sm.Spec.Selector.MatchLabels, svc.Labels)
		}
	})
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestOutputKeysAccepted: the plugin's own parser accepts the rendered
// [OUTPUT] (Fluent Bit's --dry-run does not run the plugin's Init, and
// accepts any key for a Go plugin). The credential files are read from the
// materialized pod.
func TestOutputKeysAccepted(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			outputAccepted(t, daemonSetPod(t, v.objs(t)))
		})
	}
}

// outputAccepted: the plugin's parser accepts the pod's [OUTPUT], its
// paths read from the materialized pod.
func outputAccepted(t *testing.T, p pod) {
	t.Helper()
	fs := materialize(t, p, soPath(t))
	_, cfg := loaded(t, p)
	props := outputProperties(cfg)
	for k, val := range props {
		if path.IsAbs(val) {
			props[k] = fs.host(val)
		}
	}
	if _, err := config.Parse(props, config.Plugin); err != nil {
		t.Errorf("the plugin refuses the rendered [OUTPUT]: %v", err)
	}
}

// TestManifestsMatchChart: the plain manifests are the chart's rendering
// with our values, up to object names and the chart's labels.
func TestManifestsMatchChart(t *testing.T) {
	samePod(t, "DaemonSet", daemonSetPod(t, render(t, []string{valuesFile})), daemonSetPod(t, manifests(t)))
}

// normPod is a pod spec without the names a rendering and the manifests
// may give differently, its lists in one order.
func normPod(spec corev1.PodSpec) corev1.PodSpec {
	s := *spec.DeepCopy()
	s.ServiceAccountName = ""
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst // the API's default, which the chart writes out
	}
	for i := range s.Volumes {
		if s.Volumes[i].ConfigMap != nil {
			s.Volumes[i].ConfigMap.Name = ""
		}
	}
	slices.SortFunc(s.Volumes, func(a, b corev1.Volume) int { return strings.Compare(a.Name, b.Name) })
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			slices.SortFunc(list[i].VolumeMounts, func(a, b corev1.VolumeMount) int { return strings.Compare(a.Name, b.Name) })
		}
	}
	return s
}

// samePod: the same pod spec and the same configuration files (their
// sections and entries).
func samePod(t *testing.T, name string, chart, plain pod) {
	t.Helper()
	_, ccfg := loaded(t, chart)
	_, mcfg := loaded(t, plain)
	for f := range ccfg.Files {
		if !slices.EqualFunc(ccfg.Files[f], mcfg.Files[f], func(a, b section) bool {
			return a.Name == b.Name && slices.Equal(a.Entries, b.Entries)
		}) {
			t.Errorf("%s: %s differs:\nchart:     %+v\nmanifests: %+v", name, f, ccfg.Files[f], mcfg.Files[f])
		}
	}
	for f := range mcfg.Files {
		if _, ok := ccfg.Files[f]; !ok {
			t.Errorf("%s: %s is only in the manifests", name, f)
		}
	}
	if a, b := normPod(chart.Spec), normPod(plain.Spec); !reflect.DeepEqual(a, b) {
		ay, _ := yaml.Marshal(a)
		by, _ := yaml.Marshal(b)
		t.Errorf("%s: pod specs differ:\n--- chart\n%s\n--- manifests\n%s", name, ay, by)
	}
}
