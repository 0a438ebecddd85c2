package deploy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestStrictDecodingRejects: the decoder the deployments pass fails on
// the mistakes it is there to catch.
func TestStrictDecodingRejects(t *testing.T) {
	base := `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
data:
  a: b
`
	cases := map[string]struct{ doc, want string }{
		"unknown field":   {strings.Replace(base, "\ndata:", "\ndataa:", 1), `unknown field "dataa"`},
		"miscased field":  {strings.Replace(base, "\ndata:", "\nData:", 1), `unknown field "Data"`},
		"duplicate field": {base + "data:\n  c: d\n", `"data" already set`},
		"unknown kind":    {strings.Replace(base, "ConfigMap", "ConfigMapp", 1), `no kind "ConfigMapp"`},
		"nested unknown": {`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
          volumeMount: []
`, `unknown field "spec.template.spec.containers[0].volumeMount"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, errs := decodeStrict([]byte(c.doc), name)
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), c.want) {
				t.Errorf("errors %v, want one containing %q", errs, c.want)
			}
		})
	}
	if objs, errs := decodeStrict([]byte(base+"---\n# only a comment\n"), "ok"); len(errs) != 0 || len(objs) != 1 {
		t.Errorf("a valid document: %d objects, errors %v", len(objs), errs)
	}
}

// TestCheckPodRejects: each broken variant of the chart's pod is reported
// with the reason (so that TestDeploymentsWiring passing means something).
func TestCheckPodRejects(t *testing.T) {
	objs := variants[0].objs(t)
	fresh := func() pod {
		p := daemonSetPod(t, objs)
		p.Spec = *p.Spec.DeepCopy()
		cms := map[string]map[string]string{}
		for n, d := range p.ConfigMaps {
			cms[n] = map[string]string{}
			for k, v := range d {
				cms[n][k] = v
			}
		}
		p.ConfigMaps = cms
		return p
	}
	if got := checkPod(fresh(), defaultExpect); len(got) != 0 {
		t.Fatalf("the unmodified pod fails: %v", got)
	}
	main := func(p *pod) *corev1.Container { c, _ := p.mainContainer(); return c }
	mount := func(c *corev1.Container, name string) *corev1.VolumeMount {
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].Name == name {
				return &c.VolumeMounts[i]
			}
		}
		t.Fatalf("no mount %q", name)
		return nil
	}
	vol := func(p *pod, name string) *corev1.Volume {
		for i := range p.Spec.Volumes {
			if p.Spec.Volumes[i].Name == name {
				return &p.Spec.Volumes[i]
			}
		}
		t.Fatalf("no volume %q", name)
		return nil
	}
	editConfig := func(p *pod, key, old, new string) {
		for n := range p.ConfigMaps {
			if v, ok := p.ConfigMaps[n][key]; ok {
				if !strings.Contains(v, old) {
					t.Fatalf("%s has no %q", key, old)
				}
				p.ConfigMaps[n][key] = strings.Replace(v, old, new, 1)
				return
			}
		}
		t.Fatalf("no ConfigMap key %s", key)
	}
	cases := []struct {
		name   string
		break_ func(p *pod)
		want   string
	}{
		{"audit log writable", func(p *pod) { mount(main(p), "audit-log").ReadOnly = false }, "audit log volume \"audit-log\" is writable"},
		{"audit log as a file", func(p *pod) {
			f := corev1.HostPathFile
			vol(p, "audit-log").HostPath.Type = &f
		}, "has type File"},
		{"other node path", func(p *pod) { vol(p, "audit-log").HostPath.Path = "/var/log/audit" }, "want /var/log/kubernetes/audit/audit.log"},
		{"state on emptyDir", func(p *pod) {
			v := vol(p, "k8s-secret-enum-state")
			v.HostPath, v.EmptyDir = nil, &corev1.EmptyDirVolumeSource{}
		}, "want a hostPath (it must survive the pod)"},
		{"state read-only", func(p *pod) { mount(main(p), "k8s-secret-enum-state").ReadOnly = true }, "state volume \"k8s-secret-enum-state\" is readOnly"},
		{"plugin volume writable", func(p *pod) { mount(main(p), "k8s-secret-enum-plugin").ReadOnly = false }, "plugin volume \"k8s-secret-enum-plugin\" is writable"},
		{"init copies elsewhere", func(p *pod) { p.Spec.InitContainers[0].Command[2] = "/plugins/other.so" }, "writes other.so into volume"},
		{"init copies from elsewhere", func(p *pod) { p.Spec.InitContainers[0].Command[1] = "/out_k8s_secret_enum.so" }, "want the plugin image's /fluent-bit/lib/out_k8s_secret_enum.so"},
		{"no init container", func(p *pod) { p.Spec.InitContainers = nil }, "no init container copies the .so"},
		{"init on the fluent-bit image", func(p *pod) { p.Spec.InitContainers[0].Image = main(p).Image }, "it has no cp (distroless)"},
		{"token by subPath", func(p *pod) { mount(main(p), "k8s-secret-enum-alert").SubPath = "x" }, "mounted with subPath"},
		{"token not projected", func(p *pod) { vol(p, "k8s-secret-enum-alert").Secret.Items[0].Path = "tok" }, "does not project \"token\""},
		{"plugins file unmounted", func(p *pod) {
			editConfig(p, "fluent-bit.conf", "/fluent-bit/etc/conf/plugins.conf", "/fluent-bit/etc/plugins.conf")
		}, "is in no volume mount"},
		{"plugins file with ${VAR}", func(p *pod) {
			editConfig(p, "plugins.conf", "/fluent-bit/plugins/out_k8s_secret_enum.so", "${K8S_SECRET_ENUM_SO}")
		}, "paths must be literal"},
		{"relative path", func(p *pod) { editConfig(p, "fluent-bit.conf", "/var/lib/k8s-secret-enum/audit.db", "audit.db") }, "is relative"},
		{"small coroutine stack", func(p *pod) { editConfig(p, "fluent-bit.conf", "Coro_Stack_Size  65536", "Coro_Stack_Size  24576") }, "Coro_Stack_Size is \"24576\""},
		{"small line buffer", func(p *pod) { editConfig(p, "fluent-bit.conf", "Buffer_Max_Size   2M", "Buffer_Max_Size   256k") }, "Buffer_Max_Size is \"256k\""},
		{"long lines stop the file", func(p *pod) { editConfig(p, "fluent-bit.conf", "Skip_Long_Lines   On", "Skip_Long_Lines   Off") }, "Skip_Long_Lines is off"},
		{"unknown parser", func(p *pod) { editConfig(p, "custom_parsers.conf", "k8s_audit_json", "json") }, "Parser \"k8s_audit_json\" is defined in no parsers file"},
		{"output matches nothing", func(p *pod) {
			editConfig(p, "fluent-bit.conf", "Match                    kube.audit", "Match kube.other")
		}, "does not match"},
		{"chart's /var/log mount kept", func(p *pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "varlog",
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}})
			c := main(p)
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "varlog", MountPath: "/var/log"})
		}, "mounts hostPath /var/log (volume \"varlog\") that the configuration does not use"},
		{"mount of a missing volume", func(p *pod) {
			c := main(p)
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "nope", MountPath: "/nope"})
		}, "mounts volume \"nope\", which the pod does not have"},
		{"any node", func(p *pod) { p.Spec.NodeSelector = nil }, "does not select control-plane nodes"},
		{"no toleration", func(p *pod) { p.Spec.Tolerations = nil }, "no toleration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := fresh()
			c.break_(&p)
			got := checkPod(p, defaultExpect)
			for _, msg := range got {
				if strings.Contains(msg, c.want) {
					return
				}
			}
			t.Errorf("problems %q, want one containing %q", got, c.want)
		})
	}
}
