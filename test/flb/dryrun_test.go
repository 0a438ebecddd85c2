package flb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dryRun runs `fluent-bit --dry-run` and fails the test unless it accepts
// the configuration.
func dryRun(t *testing.T, fb fluentBit, env []string, args ...string) {
	t.Helper()
	if err := dryRunErr(t, fb, env, args...); err != nil {
		t.Error(err)
	}
}

func dryRunErr(t *testing.T, fb fluentBit, env []string, args ...string) error {
	t.Helper()
	cmd := exec.Command(fb.Path, append(args, "--dry-run")...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(withoutMake(os.Environ()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration test is successful") || strings.Contains(string(out), "[error]") {
		return fmt.Errorf("fluent-bit %s --dry-run: %v\n%s", strings.Join(args, " "), err, tail(string(out), 30))
	}
	return nil
}

// readmeBlock is a fenced ini or yaml block of the README.
type readmeBlock struct {
	line int
	lang string
	text string
}

var fenceRE = regexp.MustCompile("(?m)^```(ini|yaml)\n((?s:.*?))^```")

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	readme := string(readFile(t, filepath.Join(repoRoot(t), "README.md")))
	var out []readmeBlock
	for _, m := range fenceRE.FindAllStringSubmatchIndex(readme, -1) {
		out = append(out, readmeBlock{
			line: strings.Count(readme[:m[0]], "\n") + 1,
			lang: readme[m[2]:m[3]],
			text: readme[m[4]:m[5]],
		})
	}
	return out
}

// imageLayout lays out what the README's configurations refer to under
// /fluent-bit/: the repository's plugins.conf, Fluent Bit's own
// parsers.conf (the official image ships it) and the plugin.
func imageLayout(t *testing.T, fb fluentBit, root string) {
	t.Helper()
	writeFile(t, filepath.Join(root, "lib", "out_k8s_secret_enum.so"), readFile(t, plugin(t)))
	plugins := readFile(t, filepath.Join(repoRoot(t), "plugins.conf"))
	writeFile(t, filepath.Join(root, "etc", "plugins.conf"), []byte(strings.ReplaceAll(string(plugins), imageRoot, root+"/")))
	parsers := filepath.Join(filepath.Dir(filepath.Dir(fb.Path)), "etc", "parsers.conf")
	b, err := os.ReadFile(parsers)
	if err != nil {
		b = readFile(t, configPath(t, "parsers.conf")) // a Fluent Bit installed without its parsers.conf
	}
	writeFile(t, filepath.Join(root, "etc", "parsers.conf"), b)
}

// h. `fluent-bit --dry-run` of every configuration the project ships and
// every one the README shows. A dry run reads the configuration, loads the
// plugins files (dlopen, registration) and creates every instance, so a
// plugin that does not load, an unknown section or a property Fluent Bit
// itself refuses fails it; the plugin's own keys are checked only when it
// starts (the other cases run these configurations for real).
//
//   - fluent-bit.conf as `make run` runs it: Plugins_File from
//     $K8S_SECRET_ENUM_PLUGINS_FILE, a plugins file naming the .so literally;
//   - the image's fluent-bit.conf (with its plugins.conf) and fluent-bit.yaml;
//   - every ```ini and ```yaml block of the README: whole configurations as
//     they are, a [PLUGINS] block as the plugins file of a minimal
//     configuration, an [OUTPUT] block after a dummy input; paths under
//     /fluent-bit/ are moved to a temporary directory holding the image's
//     files.
//
// And the configuration of issue 10, `Path ${K8S_SECRET_ENUM_SO}` in a
// plugins file, must fail: a dry run catches what this suite is for.
func TestDryRun(t *testing.T) {
	repo := repoRoot(t)
	blocks := readmeBlocks(t)
	if len(blocks) < 6 {
		t.Fatalf("found %d configuration blocks in the README", len(blocks))
	}
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		alertURL := "ALERT_URL=http://127.0.0.1:8088/alerts"

		t.Run("make-run", func(t *testing.T) {
			plugins := filepath.Join(t.TempDir(), "plugins.conf")
			writeFile(t, plugins, []byte("[PLUGINS]\n    Path "+plugin(t)+"\n"))
			dryRun(t, fb, []string{"K8S_SECRET_ENUM_PLUGINS_FILE=" + plugins, alertURL}, "-c", filepath.Join(repo, "fluent-bit.conf"))
		})

		t.Run("image", func(t *testing.T) {
			img := parseDockerfile(t, filepath.Join(repo, "Dockerfile"))
			root := filepath.Join(t.TempDir(), "fluent-bit")
			img.install(t, root)
			var env []string
			for _, kv := range img.env {
				env = append(env, kv[0]+"="+rooted(kv[1], root))
			}
			for _, conf := range []string{"fluent-bit.conf", "fluent-bit.yaml"} {
				dryRun(t, fb, env, "-c", filepath.Join(root, "etc", conf))
			}
		})

		t.Run("README", func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "fluent-bit")
			imageLayout(t, fb, root)
			dir := t.TempDir()
			for i, b := range blocks {
				text := strings.ReplaceAll(b.text, imageRoot, root+"/")
				name := fmt.Sprintf("block-%d-line-%d.%s", i, b.line, map[string]string{"ini": "conf", "yaml": "yaml"}[b.lang])
				path := filepath.Join(dir, name)
				args := []string{"-c", path}
				switch {
				case b.lang == "yaml" && !strings.Contains(text, "pipeline:") && !strings.Contains(text, "plugins:"):
					continue // not a Fluent Bit configuration
				case b.lang == "yaml" || strings.Contains(text, "[SERVICE]") || strings.Contains(text, "[INPUT]"):
					writeFile(t, path, []byte(text))
				case strings.Contains(text, "[PLUGINS]"):
					writeFile(t, path+".plugins", []byte(text))
					writeFile(t, path, []byte("[SERVICE]\n    Plugins_File "+path+".plugins\n[INPUT]\n    Name dummy\n"+
						"[OUTPUT]\n    Name k8s_secret_enum\n    Match *\n    alert_url http://127.0.0.1:8088/alerts\n"))
				case strings.Contains(text, "[OUTPUT]"):
					writeFile(t, path, []byte("[INPUT]\n    Name dummy\n    Tag kube.audit\n"+text))
					args = append(args, "-e", plugin(t))
				default:
					t.Errorf("README line %d: a configuration block of no known kind:\n%s", b.line, b.text)
					continue
				}
				if name := missingOutput(t, fb, text); name != "" {
					t.Logf("README line %d: this Fluent Bit has no %s output: not checked", b.line, name)
					continue
				}
				if err := dryRunErr(t, fb, []string{alertURL}, args...); err != nil {
					t.Errorf("README line %d: %v", b.line, err)
				}
			}
		})

		t.Run("unexpanded-path-fails", func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "plugins.conf"), []byte("[PLUGINS]\n    Path ${K8S_SECRET_ENUM_SO}\n"))
			writeFile(t, filepath.Join(dir, "fluent-bit.conf"), []byte("[SERVICE]\n    Plugins_File "+filepath.Join(dir, "plugins.conf")+
				"\n[INPUT]\n    Name dummy\n[OUTPUT]\n    Name k8s_secret_enum\n    Match *\n"))
			err := dryRunErr(t, fb, []string{"K8S_SECRET_ENUM_SO=" + plugin(t)}, "-c", filepath.Join(dir, "fluent-bit.conf"))
			if err == nil || !strings.Contains(err.Error(), "${K8S_SECRET_ENUM_SO}") {
				t.Errorf("a plugins file with ${K8S_SECRET_ENUM_SO} must fail to load, naming the unexpanded path: %v", err)
			}
		})
	})
}
