package deploy

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
)

// --- Fluent Bit classic configuration ------------------------------------

type entry struct{ Key, Value string }

// section is one [NAME] of a classic configuration file; directives such as
// @INCLUDE are sections named "@INCLUDE" with the argument as the value.
type section struct {
	Name    string
	Entries []entry
}

// Get is the first value of key, compared case-insensitively as Fluent Bit does.
func (s section) Get(key string) string {
	for _, e := range s.Entries {
		if strings.EqualFold(e.Key, key) {
			return e.Value
		}
	}
	return ""
}

func (s section) Has(key string) bool {
	for _, e := range s.Entries {
		if strings.EqualFold(e.Key, key) {
			return true
		}
	}
	return false
}

func (s section) label() string {
	if n := s.Get("name"); n != "" {
		return "[" + s.Name + " " + n + "]"
	}
	return "[" + s.Name + "]"
}

func parseClassic(text string) ([]section, error) {
	var secs []section
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			secs = append(secs, section{Name: strings.ToUpper(strings.TrimSpace(line[1 : len(line)-1]))})
		case strings.HasPrefix(line, "@"):
			k, v, _ := strings.Cut(line, " ")
			secs = append(secs, section{Name: strings.ToUpper(k), Entries: []entry{{k, strings.TrimSpace(v)}}})
		default:
			if len(secs) == 0 {
				return nil, fmt.Errorf("line %d: %q outside a section", i+1, line)
			}
			k, v, _ := strings.Cut(strings.Join(strings.Fields(line), " "), " ")
			secs[len(secs)-1].Entries = append(secs[len(secs)-1].Entries, entry{k, v})
		}
	}
	return secs, nil
}

func sectionsNamed(secs []section, name, plugin string) []section {
	var out []section
	for _, s := range secs {
		if s.Name == name && (plugin == "" || strings.EqualFold(s.Get("name"), plugin)) {
			out = append(out, s)
		}
	}
	return out
}

// parseSize reads Fluent Bit's sizes (512k, 2M, 1G; powers of 1024).
func parseSize(v string) (int64, error) {
	v = strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(v)), "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "K"):
		mult, v = 1<<10, strings.TrimSuffix(v, "K")
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<20, strings.TrimSuffix(v, "M")
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<30, strings.TrimSuffix(v, "G")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n * mult, err
}

func isOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

// --- what the deployment must satisfy ------------------------------------

// expect holds what the pod is checked against.
type expect struct {
	// AuditLog is the audit log's path on the node (--audit-log-path).
	AuditLog string
	// PluginSource is where the plugin image holds the .so.
	PluginSource string
}

var defaultExpect = expect{
	AuditLog:     "/var/log/kubernetes/audit/audit.log",
	PluginSource: "/fluent-bit/lib/out_k8s_secret_enum.so",
}

const (
	pluginName      = "k8s_secret_enum"
	minCoroStack    = 65536
	minLineBuffer   = 1 << 20
	controlPlane    = "node-role.kubernetes.io/control-plane"
	fluentBitSuffix = "/bin/fluent-bit" // the chart runs /fluent-bit/bin/fluent-bit
)

// role is what a path in the configuration is for, and so which kind of
// volume must hold it.
type role int

const (
	roleConfig   role = iota // a configuration file: configMap
	rolePluginSO             // the .so: the emptyDir the init container fills, read-only
	roleAuditLog             // the audit log: hostPath, read-only
	roleState                // tail DB, spool, state: hostPath, writable
	roleSecret               // credentials: secret, read-only, no subPath
	roleAny                  // any other absolute path: some mount
)

var roleNames = map[role]string{roleConfig: "configuration file", rolePluginSO: "plugin .so",
	roleAuditLog: "audit log", roleState: "state", roleSecret: "credential", roleAny: "path"}

type pathRef struct {
	Where string // e.g. `fluent-bit.conf [INPUT tail] DB`
	Path  string
	Role  role
}

// outputFileKeys are the plugin's keys naming files or directories.
var outputFileKeys = map[string]role{
	"alert_spool_dir": roleState, "state_file": roleState,
	"alert_bearer_token_file": roleSecret, "alert_basic_auth_password_file": roleSecret,
	"alert_tls_ca_file": roleSecret, "alert_tls_cert_file": roleSecret, "alert_tls_key_file": roleSecret,
}

// pod is a pod spec with the ConfigMaps it mounts: enough to read every file
// of the Fluent Bit configuration as the container would.
type pod struct {
	Spec       corev1.PodSpec
	ConfigMaps map[string]map[string]string
}

// mainContainer is the one running Fluent Bit.
func (p pod) mainContainer() (*corev1.Container, error) {
	var found *corev1.Container
	for i := range p.Spec.Containers {
		c := &p.Spec.Containers[i]
		if len(c.Command) > 0 && strings.HasSuffix(c.Command[0], fluentBitSuffix) {
			if found != nil {
				return nil, fmt.Errorf("two containers run fluent-bit: %s and %s", found.Name, c.Name)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("no container runs .../bin/fluent-bit")
	}
	return found, nil
}

// configPath is the --config / -c argument.
func configPath(c *corev1.Container) string {
	args := append(append([]string{}, c.Command...), c.Args...)
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if (a == "-c" || a == "--config") && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func (p pod) volume(name string) (corev1.Volume, bool) {
	for _, v := range p.Spec.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return corev1.Volume{}, false
}

// resolve finds the mount holding path p in container c (the longest
// mountPath that is p or a parent of it) and p's path inside the volume.
func resolve(c *corev1.Container, p string) (corev1.VolumeMount, string, bool) {
	var best corev1.VolumeMount
	bestLen, rel := -1, ""
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		var r string
		switch {
		case p == mp:
			r = ""
		case strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/"):
			r = strings.TrimPrefix(p, strings.TrimSuffix(mp, "/")+"/")
		default:
			continue
		}
		if len(mp) > bestLen {
			best, bestLen, rel = m, len(mp), r
		}
	}
	if bestLen < 0 {
		return corev1.VolumeMount{}, "", false
	}
	if best.SubPath != "" {
		rel = path.Join(best.SubPath, rel)
	}
	return best, rel, true
}

// readFile reads a file the container sees, if a ConfigMap holds it.
func (p pod) readFile(c *corev1.Container, file string) (string, error) {
	m, rel, ok := resolve(c, file)
	if !ok {
		return "", fmt.Errorf("%s is in no volume mount of container %s", file, c.Name)
	}
	v, ok := p.volume(m.Name)
	if !ok || v.ConfigMap == nil {
		return "", fmt.Errorf("%s: volume %q is not a configMap", file, m.Name)
	}
	key := rel
	if len(v.ConfigMap.Items) > 0 {
		key = ""
		for _, it := range v.ConfigMap.Items {
			if it.Path == rel {
				key = it.Key
			}
		}
	}
	data, ok := p.ConfigMaps[v.ConfigMap.Name]
	if !ok {
		return "", fmt.Errorf("%s: ConfigMap %q is not among the objects", file, v.ConfigMap.Name)
	}
	text, ok := data[key]
	if !ok {
		return "", fmt.Errorf("%s: ConfigMap %q has no key %q", file, v.ConfigMap.Name, key)
	}
	return text, nil
}

// fbConfig is the whole Fluent Bit configuration as the container sees it.
type fbConfig struct {
	Main    string // path of the main file
	Files   map[string][]section
	Service section
	Refs    []pathRef
}

func (f fbConfig) all() []section {
	var out []section
	names := make([]string, 0, len(f.Files))
	for n := range f.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, f.Files[n]...)
	}
	return out
}

// auditLog is the path the configuration reads the audit log at ("" if
// none; the last if several).
func (f fbConfig) auditLog() string {
	var p string
	for _, r := range f.Refs {
		if r.Role == roleAuditLog {
			p = r.Path
		}
	}
	return p
}

// loadConfig reads the main file, the files it names (plugins, parsers,
// includes) and lists every path they refer to with its role.
func (p pod) loadConfig(c *corev1.Container) (fbConfig, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	cfg := fbConfig{Main: configPath(c), Files: map[string][]section{}}
	if cfg.Main == "" {
		bad("container %s: no --config argument", c.Name)
		return cfg, problems
	}
	cfg.Refs = append(cfg.Refs, pathRef{"--config", cfg.Main, roleConfig})
	queue := []string{cfg.Main}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		if _, done := cfg.Files[file]; done {
			continue
		}
		text, err := p.readFile(c, file)
		if err != nil {
			bad("%v", err)
			cfg.Files[file] = nil
			continue
		}
		secs, err := parseClassic(text)
		if err != nil {
			bad("%s: %v", file, err)
		}
		cfg.Files[file] = secs
		base := path.Base(file)
		for _, s := range secs {
			for _, e := range s.Entries {
				where := fmt.Sprintf("%s %s %s", base, s.label(), e.Key)
				k := strings.ToLower(e.Key)
				r, isPath := role(-1), false
				switch {
				case s.Name == "@INCLUDE":
					r, isPath = roleConfig, true
				case s.Name == "SERVICE" && (k == "plugins_file" || k == "parsers_file" || k == "streams_file"):
					r, isPath = roleConfig, true
				case s.Name == "PLUGINS" && k == "path":
					r, isPath = rolePluginSO, true
				case s.Name == "INPUT" && strings.EqualFold(s.Get("name"), "tail") && k == "path":
					r, isPath = roleAuditLog, true
				case s.Name == "INPUT" && strings.EqualFold(s.Get("name"), "tail") && k == "db":
					r, isPath = roleState, true
				case s.Name == "OUTPUT" && strings.EqualFold(s.Get("name"), pluginName):
					r, isPath = outputFileKeys[k]
				}
				if !isPath && strings.HasPrefix(e.Value, "/") {
					r, isPath = roleAny, true
				}
				if !isPath {
					continue
				}
				if strings.Contains(e.Value, "${") {
					bad("%s: %q: paths must be literal (a plugins file does not expand ${VAR}; elsewhere the mount check cannot follow it)", where, e.Value)
					continue
				}
				if !path.IsAbs(e.Value) {
					bad("%s: %q is relative: it would resolve against --workdir, inside the image", where, e.Value)
					continue
				}
				cfg.Refs = append(cfg.Refs, pathRef{where, path.Clean(e.Value), r})
				if r == roleConfig {
					queue = append(queue, path.Clean(e.Value))
				}
			}
		}
	}
	for _, s := range cfg.Files[cfg.Main] {
		if s.Name == "SERVICE" {
			cfg.Service = s
		}
	}
	return cfg, problems
}

// checkPod returns every way the pod and its Fluent Bit configuration fail
// the deployment's requirements; none means it passes.
func checkPod(p pod, want expect) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	c, err := p.mainContainer()
	if err != nil {
		return []string{err.Error()}
	}
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, ctr := range list {
			for _, m := range ctr.VolumeMounts {
				if _, ok := p.volume(m.Name); !ok {
					bad("container %s mounts volume %q, which the pod does not have", ctr.Name, m.Name)
				}
			}
		}
	}

	cfg, cfgProblems := p.loadConfig(c)
	problems = append(problems, cfgProblems...)

	usedHostPaths := map[string]bool{}
	stateVolumes := map[string]bool{}
	auditVolumes := map[string]bool{}
	for _, ref := range cfg.Refs {
		m, rel, ok := resolve(c, ref.Path)
		if !ok {
			bad("%s: %s %s is in no volume mount of container %s (it would be the image's, or missing)",
				ref.Where, roleNames[ref.Role], ref.Path, c.Name)
			continue
		}
		v, _ := p.volume(m.Name)
		kind := volumeKind(v)
		if v.HostPath != nil {
			usedHostPaths[v.Name] = true
		}
		switch ref.Role {
		case roleConfig:
			if v.ConfigMap == nil {
				bad("%s: %s is on a %s volume %q, want a configMap", ref.Where, ref.Path, kind, v.Name)
			}
			if m.SubPath != "" {
				bad("%s: %s is mounted with subPath: ConfigMap updates would not reach it", ref.Where, ref.Path)
			}
		case rolePluginSO:
			if v.EmptyDir == nil {
				bad("%s: %s is on a %s volume %q, want the emptyDir the init container fills", ref.Where, ref.Path, kind, v.Name)
				break
			}
			if !m.ReadOnly {
				bad("%s: the plugin volume %q is writable in container %s, want readOnly", ref.Where, v.Name, c.Name)
			}
			problems = append(problems, checkInstall(p, c, ref, v.Name, rel, want)...)
		case roleAuditLog:
			if v.HostPath == nil {
				bad("%s: %s is on a %s volume %q, want a hostPath", ref.Where, ref.Path, kind, v.Name)
				break
			}
			auditVolumes[v.Name] = true
			if !m.ReadOnly {
				bad("%s: the audit log volume %q is writable, want readOnly", ref.Where, v.Name)
			}
			if t := v.HostPath.Type; t != nil && *t != corev1.HostPathDirectory && *t != corev1.HostPathDirectoryOrCreate {
				bad("%s: hostPath %q has type %s: mount the directory, so that a rotated log (a new file) is seen", ref.Where, v.Name, *t)
			}
			if node := path.Join(v.HostPath.Path, rel); node != want.AuditLog {
				bad("%s: reads %s on the node, want %s", ref.Where, node, want.AuditLog)
			}
		case roleState:
			if v.HostPath == nil {
				bad("%s: %s is on a %s volume %q, want a hostPath (it must survive the pod)", ref.Where, ref.Path, kind, v.Name)
				break
			}
			stateVolumes[v.Name] = true
			if m.ReadOnly {
				bad("%s: the state volume %q is readOnly", ref.Where, v.Name)
			}
			if t := v.HostPath.Type; t == nil || *t != corev1.HostPathDirectoryOrCreate {
				bad("%s: hostPath %q should be DirectoryOrCreate (a fresh node has no state directory)", ref.Where, v.Name)
			}
		case roleSecret:
			if v.Secret == nil {
				bad("%s: %s is on a %s volume %q, want a secret", ref.Where, ref.Path, kind, v.Name)
				break
			}
			if !m.ReadOnly {
				bad("%s: the credential volume %q is writable, want readOnly", ref.Where, v.Name)
			}
			if m.SubPath != "" {
				bad("%s: %s is mounted with subPath: a rotated Secret would not reach the file", ref.Where, ref.Path)
			}
			if len(v.Secret.Items) > 0 && !hasItem(v.Secret.Items, rel) {
				bad("%s: Secret volume %q does not project %q", ref.Where, v.Name, rel)
			}
		}
	}
	for name := range stateVolumes {
		if auditVolumes[name] {
			bad("the audit log and the state share volume %q: state must never be written into the audit log directory", name)
		}
	}
	for _, m := range c.VolumeMounts {
		v, _ := p.volume(m.Name)
		if v.HostPath != nil && !usedHostPaths[v.Name] {
			bad("container %s mounts hostPath %s (volume %q) that the configuration does not use", c.Name, v.HostPath.Path, v.Name)
		}
	}

	problems = append(problems, checkPipeline(p, cfg)...)
	problems = append(problems, checkScheduling(p.Spec)...)
	return problems
}

func volumeKind(v corev1.Volume) string {
	switch {
	case v.HostPath != nil:
		return "hostPath"
	case v.EmptyDir != nil:
		return "emptyDir"
	case v.ConfigMap != nil:
		return "configMap"
	case v.Secret != nil:
		return "secret"
	case v.Name == "":
		return "missing"
	}
	return "other"
}

func hasItem(items []corev1.KeyToPath, rel string) bool {
	for _, it := range items {
		if it.Path == rel {
			return true
		}
	}
	return false
}

// checkInstall: an init container copies the plugin image's .so into the
// same emptyDir, at the same place, that the main container loads it from.
func checkInstall(p pod, c *corev1.Container, ref pathRef, volume, rel string, want expect) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	installed := false
	for i := range p.Spec.InitContainers {
		ic := &p.Spec.InitContainers[i]
		argv := append(append([]string{}, ic.Command...), ic.Args...)
		if len(argv) != 3 || argv[0] != "cp" {
			continue
		}
		src, dst := argv[1], argv[2]
		dm, drel, ok := resolve(ic, dst)
		if !ok || dm.Name != volume {
			continue
		}
		installed = true
		if drel != rel {
			bad("init container %s writes %s into volume %q, but %s loads %s from it", ic.Name, drel, volume, ref.Where, rel)
		}
		if dm.ReadOnly {
			bad("init container %s mounts %q readOnly: it cannot write the .so", ic.Name, volume)
		}
		if src != want.PluginSource {
			bad("init container %s copies %s, want the plugin image's %s", ic.Name, src, want.PluginSource)
		}
		if _, _, shadowed := resolve(ic, src); shadowed {
			bad("init container %s: a volume mount hides the image's %s", ic.Name, src)
		}
		if ic.Image == c.Image {
			bad("init container %s runs the Fluent Bit image %s: it has no cp (distroless), use the plugin image", ic.Name, ic.Image)
		}
	}
	if !installed {
		bad("%s: no init container copies the .so (cp SRC DST) into volume %q", ref.Where, volume)
	}
	return problems
}

// checkPipeline checks the settings the deployment depends on.
func checkPipeline(p pod, cfg fbConfig) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	svc := cfg.Service
	if n, err := strconv.Atoi(svc.Get("coro_stack_size")); err != nil || n < minCoroStack {
		bad("[SERVICE] Coro_Stack_Size is %q, want at least %d (Go's cgo callbacks on Fluent Bit 4.x coroutines)", svc.Get("coro_stack_size"), minCoroStack)
	}
	if svc.Get("plugins_file") == "" {
		bad("[SERVICE] has no Plugins_File: the plugin would not be loaded")
	}
	all := cfg.all()
	plugins := sectionsNamed(all, "PLUGINS", "")
	if len(plugins) == 0 {
		bad("no [PLUGINS] section names the .so")
	}
	parsers := map[string]bool{}
	for _, s := range sectionsNamed(all, "PARSER", "") {
		parsers[s.Get("name")] = true
	}
	tails := sectionsNamed(all, "INPUT", "tail")
	outs := sectionsNamed(all, "OUTPUT", pluginName)
	if len(tails) == 0 {
		bad("no tail input reads the audit log")
	}
	if len(outs) != 1 {
		bad("want one [OUTPUT] %s, found %d", pluginName, len(outs))
	}
	for _, tail := range tails {
		if n, err := parseSize(tail.Get("buffer_max_size")); err != nil || n < minLineBuffer {
			bad("%s Buffer_Max_Size is %q, want at least 1M (RequestResponse lines)", tail.label(), tail.Get("buffer_max_size"))
		}
		if !isOn(tail.Get("skip_long_lines")) {
			bad("%s Skip_Long_Lines is off: one line longer than Buffer_Max_Size would stop reading the file", tail.label())
		}
		if tail.Get("db") == "" {
			bad("%s has no DB: a restart would lose the read position", tail.label())
		}
		if pr := tail.Get("parser"); pr != "" && !parsers[pr] {
			bad("%s Parser %q is defined in no parsers file of the configuration", tail.label(), pr)
		}
		for _, o := range outs {
			if !matches(o.Get("match"), tail.Get("tag")) {
				bad("%s Match %q does not match %s Tag %q", o.label(), o.Get("match"), tail.label(), tail.Get("tag"))
			}
		}
	}
	if isOn(svc.Get("http_server")) {
		c, _ := p.mainContainer()
		port, _ := strconv.Atoi(svc.Get("http_port"))
		if !hasPort(c, "http", int32(port)) {
			bad("[SERVICE] HTTP_Port %q is not the container port named http the probes use", svc.Get("http_port"))
		}
	}
	return problems
}

func hasPort(c *corev1.Container, name string, port int32) bool {
	for _, p := range c.Ports {
		if p.Name == name && p.ContainerPort == port {
			return true
		}
	}
	return false
}

// matches is Fluent Bit's Match: '*' is any run of characters.
func matches(pattern, tag string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(tag, "/", "\x00"))
	return err == nil && ok
}

func checkScheduling(spec corev1.PodSpec) []string {
	var problems []string
	if v, ok := spec.NodeSelector[controlPlane]; !ok || v != "" {
		problems = append(problems, fmt.Sprintf("nodeSelector %v does not select control-plane nodes (%s: \"\")", spec.NodeSelector, controlPlane))
	}
	tolerated := false
	for _, t := range spec.Tolerations {
		if t.Key == controlPlane && (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == "") &&
			(t.Operator == corev1.TolerationOpExists || t.Operator == "" && t.Value == "") {
			tolerated = true
		}
	}
	if !tolerated {
		problems = append(problems, fmt.Sprintf("no toleration for the %s:NoSchedule taint", controlPlane))
	}
	return problems
}

// outputProperties is the plugin's [OUTPUT] as the plugin reads it.
func outputProperties(cfg fbConfig) config.MapGetter {
	m := config.MapGetter{}
	for _, s := range sectionsNamed(cfg.all(), "OUTPUT", pluginName) {
		for _, e := range s.Entries {
			switch strings.ToLower(e.Key) {
			case "name", "match", "match_regex", "alias", "log_level", "workers", "retry_limit":
				continue // Fluent Bit's, never seen by the plugin
			}
			m[strings.ToLower(e.Key)] = e.Value
		}
	}
	return m
}
