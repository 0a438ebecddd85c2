// Package deploy tests deploy/: the official fluent/fluent-bit chart
// rendered with our values and the plain manifests. Every object is decoded
// strictly into the upstream Go types, the Fluent Bit configuration is
// checked path by path against the pod's mounts, and it runs in the real
// Fluent Bit with the real .so.
package deploy

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	helmModule    = "helm.sh/helm/v3"
	helmVersion   = "v3.21.4"
	chartVersion  = "0.58.1"
	releaseName   = "k8s-secret-enum"
	namespace     = "k8s-secret-enum"
	valuesFile    = "deploy/helm/values-k8s-secret-enum.yaml"
	metricsValues = "deploy/helm/values-metrics.yaml"
	manifestsDir  = "deploy/manifests"
	// The API that makes the chart render its ServiceMonitor.
	monitoringAPI = "monitoring.coreos.com/v1"
)

// repoRoot is the checkout this module is nested in (test/deploy).
var repoRoot = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

func repoPath(rel string) string { return filepath.Join(repoRoot, filepath.FromSlash(rel)) }

// scheme knows every kind the chart can render, plus the ServiceMonitor.
var scheme = func() *kruntime.Scheme {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme, networkingv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strictYAML fails on unknown fields, duplicate fields and fields whose
// case differs from the API's (encoding/json alone accepts the last two).
var strictYAML = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// object is one decoded document and where it came from.
type object struct {
	Source string // file or template, and the document's index
	GVK    schema.GroupVersionKind
	Obj    kruntime.Object
}

func (o object) Name() string {
	if m, ok := o.Obj.(interface{ GetName() string }); ok {
		return m.GetName()
	}
	return ""
}

// decodeStrict decodes every YAML document of data; documents holding only
// comments are skipped. Every problem is returned, not only the first.
func decodeStrict(data []byte, source string) ([]object, []error) {
	var objs []object
	var errs []error
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %w", source, i, err))
			break
		}
		var probe any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %w", source, i, err))
			continue
		}
		if probe == nil {
			continue
		}
		where := fmt.Sprintf("%s#%d", source, i)
		if s := templateSource(doc); s != "" {
			where = fmt.Sprintf("%s#%d (%s)", source, i, s)
		}
		obj, gvk, err := strictYAML.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		objs = append(objs, object{Source: where, GVK: *gvk, Obj: obj})
	}
	return objs, errs
}

// templateSource reads helm's "# Source: chart/templates/x.yaml" line.
func templateSource(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return s
		}
	}
	return ""
}

func kinds(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.GVK.Kind+"/"+o.Name())
	}
	sort.Strings(ks)
	return ks
}

func only[T kruntime.Object](t *testing.T, objs []object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, found %d among %v", zero, len(found), kinds(objs))
	}
	return found[0]
}

func all[T kruntime.Object](objs []object) []T {
	var found []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// configMaps indexes the ConfigMaps' data by name.
func configMaps(objs []object) map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, cm := range all[*corev1.ConfigMap](objs) {
		m[cm.Name] = cm.Data
	}
	return m
}

// --- helm ---------------------------------------------------------------

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary is $HELM, else the cached build, else a fresh build into the
// cache (go install of the pinned module; minutes on 2 cores).
func helmBinary(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		helmPath, helmErr = findHelm()
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

func findHelm() (string, error) {
	p := os.Getenv("HELM")
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir := filepath.Join(home, ".cache", "k8s-secret-enum", "helm-"+helmVersion)
		p = filepath.Join(dir, "helm")
		if _, err := os.Stat(p); err != nil {
			cmd := exec.Command(goTool(), "install", helmModule+"/cmd/helm@"+helmVersion)
			cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("building helm %s: %v\n%s", helmVersion, err, out)
			}
		}
	}
	// The binary must be the pinned release: helm's own "version" reports
	// only what its build flags set, the module data is exact.
	bi, err := buildinfo.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("helm %s: %v", p, err)
	}
	if bi.Main.Path != helmModule || bi.Main.Version != helmVersion {
		return "", fmt.Errorf("helm %s is %s@%s, want %s@%s", p, bi.Main.Path, bi.Main.Version, helmModule, helmVersion)
	}
	return p, nil
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// chartDir is the official chart: $FLUENT_BIT_CHART, else the reference copy
// beside the checkout (../shared/reference/helm-chart-fluent-bit).
func chartDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLUENT_BIT_CHART")
	if dir == "" {
		dir = filepath.Join(repoRoot, "..", "shared", "reference", "helm-chart-fluent-bit")
	}
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		t.Fatalf("the official fluent-bit chart %s is needed (helm pull fluent/fluent-bit --version %s --untar, then FLUENT_BIT_CHART=<dir>): %v",
			chartVersion, chartVersion, err)
	}
	var meta struct{ Name, Version string }
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Name != "fluent-bit" || meta.Version != chartVersion {
		t.Fatalf("%s is chart %s %s, want fluent-bit %s", dir, meta.Name, meta.Version, chartVersion)
	}
	return dir
}

// render runs helm template on the chart with our values files and extra
// arguments, and decodes the result strictly.
func render(t *testing.T, values []string, extra ...string) []object {
	t.Helper()
	return renderRelease(t, releaseName, values, extra...)
}

// renderRelease is render for another release name.
func renderRelease(t *testing.T, release string, values []string, extra ...string) []object {
	t.Helper()
	args := []string{"template", release, chartDir(t), "--namespace", namespace}
	for _, v := range values {
		args = append(args, "--values", repoPath(v))
	}
	args = append(args, extra...)
	cmd := exec.Command(helmBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	objs, errs := decodeStrict(out, "helm template "+release)
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return objs
}

// manifests decodes every file of deploy/manifests strictly.
func manifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoPath(manifestsDir), "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", manifestsDir, err)
	}
	rels := make([]string, len(files))
	for i, f := range files {
		rels[i], _ = filepath.Rel(repoRoot, f)
	}
	return decodeFiles(t, rels...)
}

// decodeFiles decodes files of the repository strictly, in this order.
func decodeFiles(t *testing.T, rels ...string) []object {
	t.Helper()
	var objs []object
	for _, rel := range rels {
		b, err := os.ReadFile(repoPath(rel))
		if err != nil {
			t.Fatal(err)
		}
		o, errs := decodeStrict(b, rel)
		for _, err := range errs {
			t.Error(err)
		}
		objs = append(objs, o...)
	}
	if t.Failed() {
		t.FailNow()
	}
	return objs
}

// variant is one way of deploying: its objects and the pod to check.
type variant struct {
	name string
	objs func(t *testing.T) []object
}

var variants = []variant{
	{"chart", func(t *testing.T) []object { return render(t, []string{valuesFile}) }},
	{"chart+metrics", func(t *testing.T) []object {
		return render(t, []string{valuesFile, metricsValues}, "--api-versions", monitoringAPI)
	}},
	{"manifests", manifests},
}
