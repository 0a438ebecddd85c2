package flb

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// imageRoot is where the image keeps Fluent Bit, its configuration and the
// plugin.
const imageRoot = "/fluent-bit/"

// image is the runtime stage of the Dockerfile, as far as running it goes.
type image struct {
	from       string
	copies     [][]string // COPY arguments: sources…, destination
	env        [][2]string
	entrypoint []string
	cmd        []string
}

// parseDockerfile reads the instructions of the Dockerfile's last stage.
func parseDockerfile(t *testing.T, path string) image {
	t.Helper()
	var img image
	text := strings.ReplaceAll(string(readFile(t, path)), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			img = image{from: rest}
		case "COPY":
			img.copies = append(img.copies, strings.Fields(rest))
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: ENV %q: only the KEY=VALUE form is understood here", rest)
				}
				img.env = append(img.env, [2]string{k, v})
			}
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Fatalf("Dockerfile: %s %s: want the exec (JSON) form: %v", instr, rest, err)
			}
			if strings.ToUpper(instr) == "CMD" {
				img.cmd = argv
			} else {
				img.entrypoint = argv
			}
		}
	}
	return img
}

// install lays the image's files out under root (standing in for
// /fluent-bit): every COPY of the last stage, the plugin for the builder's
// .so, and each path under /fluent-bit/ in the copied files moved under
// root, which is the only change made to them.
func (img image) install(t *testing.T, root string) {
	t.Helper()
	repo := repoRoot(t)
	for _, c := range img.copies {
		var from string
		args := c
		if strings.HasPrefix(args[0], "--from=") {
			from, args = strings.TrimPrefix(args[0], "--from="), args[1:]
		}
		srcs, dst := args[:len(args)-1], args[len(args)-1]
		if !strings.HasPrefix(dst, imageRoot) {
			t.Fatalf("Dockerfile: COPY to %s, outside %s", dst, imageRoot)
		}
		for _, src := range srcs {
			target := filepath.Join(root, strings.TrimPrefix(dst, imageRoot))
			if strings.HasSuffix(dst, "/") {
				target = filepath.Join(target, filepath.Base(src))
			}
			if from != "" {
				if filepath.Base(src) != "out_k8s_secret_enum.so" {
					t.Fatalf("Dockerfile: COPY --from=%s %s: only the plugin is expected from the builder", from, src)
				}
				writeFile(t, target, readFile(t, plugin(t)))
				continue
			}
			b := readFile(t, filepath.Join(repo, src))
			writeFile(t, target, []byte(strings.ReplaceAll(string(b), imageRoot, root+"/")))
		}
	}
}

// rooted moves a path under /fluent-bit/ under root.
func rooted(s, root string) string {
	if strings.HasPrefix(s, imageRoot) {
		return root + "/" + strings.TrimPrefix(s, imageRoot)
	}
	return s
}

// 3. The Docker image without a Docker engine: the runtime stage's exact
// configuration files, the .so where the image puts it, the image's
// environment and its ENTRYPOINT + CMD, run by a real Fluent Bit; then the
// same with the YAML configuration (`docker run … -c
// /fluent-bit/etc/fluent-bit.yaml`). `docker stop` sends SIGTERM.
func TestDockerImage(t *testing.T) {
	img := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	if !strings.HasPrefix(img.from, "fluent/fluent-bit:") {
		t.Fatalf("runtime stage FROM %s, want fluent/fluent-bit", img.from)
	}
	if len(img.entrypoint) == 0 || img.entrypoint[0] != imageRoot+"bin/fluent-bit" {
		t.Fatalf("ENTRYPOINT %v: want the official image's %sbin/fluent-bit", img.entrypoint, imageRoot)
	}
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		for _, c := range []struct {
			name string
			cmd  []string
		}{{"CMD", img.cmd}, {"yaml", []string{"-c", imageRoot + "etc/fluent-bit.yaml"}}} {
			t.Run(c.name, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "fluent-bit")
				img.install(t, root)
				if _, err := os.Stat(filepath.Join(root, "lib", "out_k8s_secret_enum.so")); err != nil {
					t.Fatalf("the image has no plugin at %slib/out_k8s_secret_enum.so: %v", imageRoot, err)
				}
				rcv := receiver.Start(t, receiver.Options{})
				var env []string
				for _, kv := range img.env {
					env = append(env, kv[0]+"="+rooted(kv[1], root))
				}
				env = append(env, "ALERT_URL="+rcv.URL()+"/alerts") // docker run -e ALERT_URL=…
				argv := []string{fb.Path}
				for _, a := range append(append([]string(nil), img.entrypoint[1:]...), c.cmd...) {
					argv = append(argv, rooted(a, root))
				}
				p := start(t, "image-"+fb.Version, argv, env, "")
				if _, err := rcv.WaitForAlerts(1, waitLimit); err != nil {
					t.Fatal(err)
				}
				p.stop()
				noProblems(t, "the image's Fluent Bit", p.Output())
				checkRunAlerts(t, sortedByTime(rcv.Alerts()))
			})
		}
	})
}

func sortedByTime(alerts []receiver.Alert) []receiver.Alert {
	out := append([]receiver.Alert(nil), alerts...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && str(out[j], "@timestamp") < str(out[j-1], "@timestamp"); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
