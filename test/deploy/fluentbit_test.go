package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// soPath is the plugin built by `make build` ($K8S_SECRET_ENUM_SO).
func soPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("K8S_SECRET_ENUM_SO")
	if p == "" {
		p = repoPath("build/out_k8s_secret_enum.so")
	}
	if !fileExists(p) {
		t.Fatalf("the plugin %s is missing: run make build (or set K8S_SECRET_ENUM_SO)", p)
	}
	return p
}

type fluentBit struct{ Path, Version string }

// fluentBits lists the real Fluent Bit binaries: $FLUENT_BIT (several may
// be given, separated by spaces, commas or colons), else fluent-bit on PATH.
// Without one the test is skipped, unless REQUIRE_FLUENT_BIT=1.
func fluentBits(t *testing.T) []fluentBit {
	t.Helper()
	var cands []string
	if v := os.Getenv("FLUENT_BIT"); strings.TrimSpace(v) != "" {
		cands = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == ':' || r == '\n' || r == '\t' })
	} else if p, err := exec.LookPath("fluent-bit"); err == nil {
		cands = []string{p}
	}
	var bins []fluentBit
	seen := map[string]bool{}
	for _, c := range cands {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			t.Fatalf("FLUENT_BIT names %s: %v", c, err)
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		out, err := exec.Command(c, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", c, err, out)
		}
		version := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		version = strings.TrimPrefix(version, "Fluent Bit ")
		bins = append(bins, fluentBit{c, version})
	}
	if len(bins) == 0 {
		if os.Getenv("REQUIRE_FLUENT_BIT") == "1" {
			t.Fatal("REQUIRE_FLUENT_BIT=1 but no fluent-bit: set FLUENT_BIT or put it on PATH")
		}
		t.Skip("no fluent-bit (set FLUENT_BIT or put it on PATH; REQUIRE_FLUENT_BIT=1 makes this a failure)")
	}
	return bins
}

// podFS is the fluent-bit container's view of its volumes, laid out under
// a temporary root: ConfigMaps and Secrets written out, hostPaths and
// emptyDirs as directories, the init containers' copies done.
type podFS struct {
	root   string
	config string   // the main configuration file, under root
	args   []string // the container's arguments, paths under root
}

func (f *podFS) host(p string) string { return filepath.Join(f.root, filepath.FromSlash(p)) }

const testToken = "deploy-test-token"

func materialize(t *testing.T, p pod, so string) *podFS {
	t.Helper()
	c, err := p.mainContainer()
	if err != nil {
		t.Fatal(err)
	}
	fs := &podFS{root: t.TempDir()}
	// Absolute paths inside the configuration files move under root.
	rewrite := func(text string) string {
		lines := strings.Split(text, "\n")
		for i, line := range lines {
			fields := strings.Fields(line)
			if len(fields) != 2 || !path.IsAbs(fields[1]) {
				continue
			}
			if _, _, ok := resolve(c, fields[1]); ok {
				lines[i] = strings.Replace(line, fields[1], fs.host(fields[1]), 1)
			}
		}
		return strings.Join(lines, "\n")
	}
	for _, m := range c.VolumeMounts {
		v, ok := p.volume(m.Name)
		if !ok {
			t.Fatalf("volume %q is not in the pod", m.Name)
		}
		dir := fs.host(m.MountPath)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case v.ConfigMap != nil:
			data := p.ConfigMaps[v.ConfigMap.Name]
			for key, text := range data {
				name := key
				if len(v.ConfigMap.Items) > 0 {
					name = ""
					for _, it := range v.ConfigMap.Items {
						if it.Key == key {
							name = it.Path
						}
					}
					if name == "" {
						continue
					}
				}
				writeFile(t, filepath.Join(dir, name), rewrite(text), 0o644)
			}
		case v.Secret != nil:
			names := []string{"token"}
			if len(v.Secret.Items) > 0 {
				names = nil
				for _, it := range v.Secret.Items {
					names = append(names, it.Path)
				}
			}
			for _, n := range names {
				writeFile(t, filepath.Join(dir, n), testToken+"\n", 0o400)
			}
		case v.EmptyDir != nil:
			runInstall(t, p, v.Name, dir, so)
		case v.HostPath != nil:
		default:
			t.Fatalf("volume %q: a kind this test does not lay out", v.Name)
		}
	}
	argv := append(slices.Clone(c.Command[1:]), c.Args...)
	for i, a := range argv {
		for _, flag := range []string{"--config=", "--workdir="} {
			if v, ok := strings.CutPrefix(a, flag); ok && path.IsAbs(v) {
				argv[i] = flag + fs.host(v)
				if err := os.MkdirAll(filepath.Dir(fs.host(v)), 0o755); err != nil {
					t.Fatal(err)
				}
				if flag == "--workdir=" {
					if err := os.MkdirAll(fs.host(v), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	fs.args = argv
	fs.config = fs.host(configPath(c))
	return fs
}

// runInstall does what the init containers do to the emptyDir mounted at
// dir in the main container: cp the plugin image's .so into it.
func runInstall(t *testing.T, p pod, volume, dir, so string) {
	t.Helper()
	for i := range p.Spec.InitContainers {
		ic := &p.Spec.InitContainers[i]
		argv := append(slices.Clone(ic.Command), ic.Args...)
		m, rel, ok := resolveArgv(ic, argv)
		if !ok || m.Name != volume {
			continue
		}
		if argv[1] != defaultExpect.PluginSource {
			t.Fatalf("init container %s copies %s: the plugin image has only %s", ic.Name, argv[1], defaultExpect.PluginSource)
		}
		b, err := os.ReadFile(so)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, filepath.FromSlash(rel)), string(b), 0o755)
	}
}

// resolveArgv reads "cp SRC DST" and finds DST's mount.
func resolveArgv(c *corev1.Container, argv []string) (corev1.VolumeMount, string, bool) {
	if len(argv) != 3 || argv[0] != "cp" {
		return corev1.VolumeMount{}, "", false
	}
	return resolve(c, argv[2])
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// setKey sets key in the sections named sec (and, if plugin is set, whose
// Name is plugin) of a classic configuration file, replacing its line or
// adding one at the end of the section.
func setKey(t *testing.T, file, sec, plugin, key, value string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	isHeader := func(s string) bool {
		s = strings.TrimSpace(s)
		return strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")
	}
	var out []string
	found := 0
	for i := 0; i < len(lines); {
		out = append(out, lines[i])
		if !isHeader(lines[i]) {
			i++
			continue
		}
		name := strings.ToUpper(strings.Trim(strings.TrimSpace(lines[i]), "[] "))
		j := i + 1
		for j < len(lines) && !isHeader(lines[j]) {
			j++
		}
		body := lines[i+1 : j]
		want := name == sec
		if want && plugin != "" {
			want = false
			for _, l := range body {
				if f := strings.Fields(l); len(f) == 2 && strings.EqualFold(f[0], "name") && strings.EqualFold(f[1], plugin) {
					want = true
				}
			}
		}
		set := false
		for _, l := range body {
			if f := strings.Fields(l); want && len(f) > 0 && strings.EqualFold(f[0], key) {
				l, set = "    "+key+" "+value, true
			}
			out = append(out, l)
		}
		if want && !set {
			out = append(out, "    "+key+" "+value)
		}
		if want {
			found++
		}
		i = j
	}
	if found == 0 {
		t.Fatalf("%s: no [%s] %s section to set %s in", file, sec, plugin, key)
	}
	writeFile(t, file, strings.Join(out, "\n"), 0o644)
}

// TestFluentBitDryRun: each rendered configuration passes the real Fluent
// Bit's --dry-run, which loads the plugins file, dlopens our .so, registers
// it and instantiates every section (5.x also checks each plugin's keys).
func TestFluentBitDryRun(t *testing.T) {
	bins := fluentBits(t)
	so := soPath(t)
	for _, v := range variants {
		p := daemonSetPod(t, v.objs(t))
		for _, fb := range bins {
			t.Run(v.name+"/"+fb.Version, func(t *testing.T) {
				fs := materialize(t, p, so)
				out, err := exec.Command(fb.Path, append(fs.args, "--dry-run")...).CombinedOutput()
				if err != nil || !bytes.Contains(out, []byte("configuration test is successful")) {
					t.Errorf("%s %s --dry-run: %v\n%s", fb.Path, strings.Join(fs.args, " "), err, out)
				}
			})
		}
	}
	// The dry run does read the .so: without it the same configuration fails.
	t.Run("without-so", func(t *testing.T) {
		p := daemonSetPod(t, variants[0].objs(t))
		fs := materialize(t, p, so)
		c, _ := p.mainContainer()
		cfg, _ := p.loadConfig(c)
		for _, r := range cfg.Refs {
			if r.Role == rolePluginSO {
				if err := os.Remove(fs.host(r.Path)); err != nil {
					t.Fatal(err)
				}
			}
		}
		out, err := exec.Command(bins[0].Path, append(fs.args, "--dry-run")...).CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("configuration test is successful")) {
			t.Errorf("--dry-run passed without the .so:\n%s", out)
		}
	})
}

// TestPipelineRaisesAlert runs the chart's rendered configuration for real:
// a harvest appended to the audit log (on the hostPath) makes an alert at a
// local receiver, sent with the bearer token from the Secret mount; at
// SIGTERM the tail DB, spool and state land on the state hostPath.
func TestPipelineRaisesAlert(t *testing.T) {
	bins := fluentBits(t)
	so := soPath(t)
	p := daemonSetPod(t, variants[0].objs(t))
	c, _ := p.mainContainer()
	cfg, problems := p.loadConfig(c)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var auditLog string
	var stateFiles []string
	for _, r := range cfg.Refs {
		switch r.Role {
		case roleAuditLog:
			auditLog = r.Path
		case roleState:
			stateFiles = append(stateFiles, r.Path)
		}
	}
	props := outputProperties(cfg)
	if auditLog == "" || props.Get("alert_bearer_token_file") == "" || len(stateFiles) < 3 {
		t.Fatalf("audit log %q, token file %q, state files %v: the configuration lacks what this test runs",
			auditLog, props.Get("alert_bearer_token_file"), stateFiles)
	}

	for _, fb := range bins {
		t.Run(fb.Version, func(t *testing.T) {
			fs := materialize(t, p, so)
			rcv := newReceiver(t)
			setKey(t, fs.config, "SERVICE", "", "HTTP_Listen", "127.0.0.1")
			setKey(t, fs.config, "SERVICE", "", "HTTP_Port", strconv.Itoa(freePort(t)))
			setKey(t, fs.config, "OUTPUT", pluginName, "alert_url", rcv.URL+"/alerts")
			logPath := fs.host(auditLog)
			writeFile(t, logPath, "", 0o600)

			var logs syncBuffer
			proc := startWatching(t, &logs, fb.Path, logPath, fs.args...)
			names := appendHarvest(t, logPath)

			var got receivedAlert
			select {
			case got = <-rcv.alerts:
			case <-proc.done:
				t.Fatalf("fluent-bit exited (%v) before an alert:\n%s", proc.err, logs.String())
			case <-time.After(time.Minute):
				t.Fatalf("no alert within a minute:\n%s", logs.String())
			}
			if want := "Bearer " + testToken; got.Authorization != want {
				t.Errorf("Authorization %q, want %q (the token from the Secret mount)", got.Authorization, want)
			}
			if !slices.Equal(got.Names, names) || got.User != harvestUser {
				t.Errorf("alert for %s names %v, want %s names %v", got.User, got.Names, harvestUser, names)
			}

			if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-proc.done:
				if proc.err != nil {
					t.Errorf("fluent-bit exit after SIGTERM: %v\n%s", proc.err, logs.String())
				}
			case <-time.After(time.Minute):
				t.Fatalf("fluent-bit still running a minute after SIGTERM:\n%s", logs.String())
			}
			for _, f := range stateFiles {
				if !fileExists(fs.host(f)) {
					t.Errorf("%s is missing on the state hostPath after exit", f)
				}
			}
			noErrorLogged(t, "fluent-bit", logs.String())
		})
	}
}

const harvestUser = "system:serviceaccount:ci:runner"

// appendHarvest writes one client's reads of three secrets (and a Helm
// release read, which the rule excludes) stamped now; it returns the names
// the alert must list, sorted.
func appendHarvest(t *testing.T, file string) []string {
	t.Helper()
	now := time.Now().UTC()
	type ev struct{ ns, name, user, ua string }
	evs := []ev{
		{"payments", "db-password", harvestUser, "curl/8.5.0"},
		{"web", "sh.helm.release.v1.web.v7", "system:serviceaccount:web:helm", "Helm/3.14.2"},
		{"payments", "api-token", harvestUser, "curl/8.5.0"},
		{"ci", "registry-creds", harvestUser, "curl/8.5.0"},
	}
	var buf bytes.Buffer
	for i, e := range evs {
		ts := now.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		line, err := json.Marshal(map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
			"auditID": fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), "stage": "ResponseComplete",
			"requestURI": "/api/v1/namespaces/" + e.ns + "/secrets/" + e.name, "verb": "get",
			"user":      map[string]any{"username": e.user, "groups": []string{"system:authenticated"}},
			"sourceIPs": []string{"10.244.3.17"}, "userAgent": e.ua,
			"objectRef":                map[string]any{"resource": "secrets", "namespace": e.ns, "name": e.name, "apiVersion": "v1"},
			"responseStatus":           map[string]any{"metadata": map[string]any{}, "code": 200},
			"requestReceivedTimestamp": ts, "stageTimestamp": ts,
			"annotations": map[string]any{"authorization.k8s.io/decision": "allow"},
		})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(append(line, '\n'))
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	return []string{"api-token", "db-password", "registry-creds"}
}

type receivedAlert struct {
	Authorization string
	User          string
	ID            string // alert.id
	Names         []string
}

type receiver struct {
	URL    string
	alerts chan receivedAlert
}

// newReceiver answers 200 to every POST and passes on each alert of the
// plugin's default format (a JSON array of ECS alerts).
func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{alerts: make(chan receivedAlert, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var alerts []struct {
			User  struct{ Name string } `json:"user"`
			Alert struct{ ID string }   `json:"alert"`
			Esql  struct {
				Names []string `json:"secrets_names"`
			} `json:"Esql"`
		}
		if err := json.Unmarshal(body, &alerts); err != nil {
			t.Errorf("receiver: body is not a JSON array of alerts: %v\n%s", err, body)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, a := range alerts {
			select {
			case r.alerts <- receivedAlert{req.Header.Get("Authorization"), a.User.Name, a.Alert.ID, a.Esql.Names}:
			default:
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a running Fluent Bit; done is closed once it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs a binary with its output in logs; the test's cleanup kills it
// if it still runs.
func start(t *testing.T, logs *syncBuffer, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// startWatching runs Fluent Bit and waits until its tail input watches
// logPath: the tail starts at the end of a file it has not seen, so lines
// appended before would be skipped.
func startWatching(t *testing.T, logs *syncBuffer, bin, logPath string, args ...string) *process {
	t.Helper()
	p := start(t, logs, bin, args...)
	waitFor(t, logs, p, "the tail input to watch "+logPath, func(s string) bool {
		return strings.Contains(s, "inotify_fs_add") && strings.Contains(s, logPath)
	})
	return p
}

// noErrorLogged fails the test for every [error] line of a Fluent Bit's log.
func noErrorLogged(t *testing.T, name, logs string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "[error]") {
			t.Errorf("%s: error logged: %s", name, line)
		}
	}
}

// waitFor polls Fluent Bit's log until cond holds; it fails if Fluent Bit
// exits first or a minute passes.
func waitFor(t *testing.T, logs *syncBuffer, p *process, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond(logs.String()) {
		select {
		case <-p.done:
			t.Fatalf("fluent-bit exited (%v) while waiting for %s:\n%s", p.err, what, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sign of %s within a minute:\n%s", what, logs.String())
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
