// Package flb runs the plugin inside real Fluent Bit processes: the
// configurations the project ships, the pipelines the README recommends
// (tail with and without a parser, the audit webhook on the http input,
// Workers, hot reload, filesystem buffering) and the Docker image's
// configuration, each checked by the alerts that reach an HTTP receiver.
//
// The binaries under test come from $FLUENT_BIT (one path, or several
// separated by spaces or colons: every test runs once per binary), else
// from `fluent-bit` on PATH. Without one the tests skip, unless
// REQUIRE_FLUENT_BIT=1, which makes them fail. The plugin is
// $K8S_SECRET_ENUM_SO, else build/out_k8s_secret_enum.so (`make build`).
//
// Expected alerts are written out by hand next to each harvest (the
// names, the user, the crossing event's time), never computed by the
// plugin's engine.
package flb

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
)

// fluentBit is one binary under test.
type fluentBit struct {
	Path    string
	Version string // "4.2.8"
	Major   int
}

// Name is the subtest name: the version, made unique when two binaries
// report the same one.
func (fb fluentBit) Name() string { return "v" + fb.Version }

var (
	discoverOnce sync.Once
	discovered   []fluentBit
	discoverErr  error
)

var versionRE = regexp.MustCompile(`Fluent Bit v(\d+)\.(\d+)\.(\d+)`)

// splitList splits $FLUENT_BIT: spaces, tabs, newlines or colons.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ':' || r == '\t' || r == '\n' })
}

func discover() ([]fluentBit, error) {
	discoverOnce.Do(func() {
		paths := splitList(os.Getenv("FLUENT_BIT"))
		if len(paths) == 0 {
			if p, err := exec.LookPath("fluent-bit"); err == nil {
				paths = []string{p}
			}
		}
		seen := map[string]int{}
		for _, p := range paths {
			out, err := exec.Command(p, "--version").CombinedOutput()
			if err != nil {
				discoverErr = fmt.Errorf("FLUENT_BIT: %s --version: %v\n%s", p, err, out)
				return
			}
			m := versionRE.FindStringSubmatch(string(out))
			if m == nil {
				discoverErr = fmt.Errorf("FLUENT_BIT: %s --version does not name a version:\n%s", p, out)
				return
			}
			fb := fluentBit{Path: p, Version: m[1] + "." + m[2] + "." + m[3]}
			fmt.Sscan(m[1], &fb.Major)
			if n := seen[fb.Version]; n > 0 {
				fb.Version += fmt.Sprintf("-%d", n+1)
			}
			seen[m[1]+"."+m[2]+"."+m[3]]++
			discovered = append(discovered, fb)
		}
	})
	return discovered, discoverErr
}

func required() bool { return os.Getenv("REQUIRE_FLUENT_BIT") == "1" }

// binaries returns every Fluent Bit under test, skipping (or, with
// REQUIRE_FLUENT_BIT=1, failing) the test when there is none.
func binaries(t *testing.T) []fluentBit {
	t.Helper()
	fbs, err := discover()
	if err != nil {
		t.Fatal(err)
	}
	if len(fbs) == 0 {
		msg := "no Fluent Bit: set FLUENT_BIT=/path/to/fluent-bit (several separated by spaces) or put fluent-bit on PATH"
		if required() {
			t.Fatal(msg + " (REQUIRE_FLUENT_BIT=1)")
		}
		t.Skip(msg)
	}
	return fbs
}

// eachFluentBit runs f as one subtest per binary under test.
func eachFluentBit(t *testing.T, f func(t *testing.T, fb fluentBit)) {
	for _, fb := range binaries(t) {
		t.Run(fb.Name(), func(t *testing.T) { f(t, fb) })
	}
}

// plugin is the .so under test.
func plugin(t *testing.T) string {
	t.Helper()
	p, err := host.PluginPath()
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := host.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// configPath is a configuration of testdata/configs.
func configPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile fails the test on error.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func joinLines(ls [][]byte) []byte {
	var b bytes.Buffer
	for _, l := range ls {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
