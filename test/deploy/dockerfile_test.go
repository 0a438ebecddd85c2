package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// stage is one FROM … of a Dockerfile, as far as these checks go.
type stage struct {
	name     string
	from     string // image, ARGs not expanded
	platform string // --platform=…
	args     map[string]string
	copies   [][]string // COPY arguments: flags (--from=…), sources…, destination
	runs     []string
	user     string
	cmd      []string
}

// dockerfile is a parsed Dockerfile: the ARGs before the first FROM and the
// stages in order.
type dockerfile struct {
	globalArgs map[string]string
	stages     []*stage
}

func (d dockerfile) stage(t *testing.T, name string) *stage {
	t.Helper()
	for _, s := range d.stages {
		if s.name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile: no stage %q", name)
	return nil
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{globalArgs: map[string]string{}}
	var cur *stage
	text := regexp.MustCompile(`\\\n`).ReplaceAllString(string(b), " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			if cur == nil {
				d.globalArgs[k] = v
			} else {
				cur.args[k] = v
			}
		case "FROM":
			cur = &stage{args: map[string]string{}}
			f := strings.Fields(rest)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				if p, ok := strings.CutPrefix(f[0], "--platform="); ok {
					cur.platform = p
				}
				f = f[1:]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.name = f[2]
			} else if len(f) != 1 {
				t.Fatalf("Dockerfile: FROM %s", rest)
			}
			cur.from = f[0]
			d.stages = append(d.stages, cur)
		case "COPY":
			cur.copies = append(cur.copies, strings.Fields(rest))
		case "RUN":
			cur.runs = append(cur.runs, rest)
		case "USER":
			cur.user = rest
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &cur.cmd); err != nil {
				t.Fatalf("Dockerfile: CMD %s: %v", rest, err)
			}
		}
	}
	return d
}

// The image reference of the plugin, as deploy/ uses it.
const (
	pluginInImage = "/fluent-bit/lib/out_k8s_secret_enum.so"
	nonRoot       = "65532:65532"
)

// TestDockerfile checks the Dockerfile against what deploy/, the README
// and the tests rely on, since there is no Docker engine here to build it:
//
//   - the runtime stage is the official image at FLUENT_BIT_VERSION, whose
//     default is the chart's Fluent Bit, and the README says how to build
//     on the 4.x line;
//   - the builder runs on the build platform, is Debian 12 (the oldest
//     runtime's glibc) and cross-compiles for TARGETARCH with the compiler
//     and packages test/deploy and .ci/run use;
//   - the `plugin` stage is what the init container of the chart values
//     and of the manifests runs: the .so at the path it copies, a static
//     cp (busybox, pinned), its user; deploy/README.md shows that stage;
//   - both final stages run as a non-root user.
func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.stages) != 3 {
		t.Fatalf("Dockerfile: %d stages, want build, plugin and the runtime (last, the default target)", len(d.stages))
	}
	build, plugin, runtime := d.stage(t, "build"), d.stage(t, "plugin"), d.stages[2]

	var chartMeta struct{ AppVersion string }
	readYAML(t, chartDir(t)+"/Chart.yaml", &chartMeta)
	if v := d.globalArgs["FLUENT_BIT_VERSION"]; v != chartMeta.AppVersion {
		t.Errorf("ARG FLUENT_BIT_VERSION=%s, want the chart's Fluent Bit %s", v, chartMeta.AppVersion)
	}
	if runtime.from != "fluent/fluent-bit:${FLUENT_BIT_VERSION}" {
		t.Errorf("runtime stage FROM %s, want fluent/fluent-bit:${FLUENT_BIT_VERSION}", runtime.from)
	}
	readme, err := os.ReadFile(repoPath("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"--build-arg FLUENT_BIT_VERSION=4.2.8", "fluent/fluent-bit:" + chartMeta.AppVersion, "--target plugin", "linux/amd64,linux/arm64"} {
		if !strings.Contains(string(readme), s) {
			t.Errorf("README.md does not mention %q", s)
		}
	}

	if build.platform != "$BUILDPLATFORM" {
		t.Errorf("build stage --platform=%q, want $BUILDPLATFORM (cross-compile instead of emulating)", build.platform)
	}
	if !strings.HasPrefix(build.from, "golang:") || !strings.HasSuffix(build.from, "-bookworm") {
		t.Errorf("build stage FROM %s: want a golang image on Debian 12 (bookworm), whose glibc the oldest runtime (4.x, Debian 12) has", build.from)
	}
	if _, ok := build.args["TARGETARCH"]; !ok {
		t.Errorf("build stage does not declare ARG TARGETARCH")
	}
	runs := strings.Join(build.runs, "\n")
	ci, err := os.ReadFile(repoPath(".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{crossCC, "GOARCH=$TARGETARCH", "CGO_ENABLED=1", "-buildmode=c-shared"} {
		if !strings.Contains(runs, s) {
			t.Errorf("the build stage's RUN lines do not hold %q", s)
		}
	}
	// the packages: "gcc-$triplet" and "libc6-dev-$libc-cross" with triplet
	// aarch64-linux-gnu and libc arm64; .ci/run installs the same
	for _, s := range []string{"arm64) triplet=aarch64-linux-gnu; libc=arm64", `"gcc-$triplet" "libc6-dev-$libc-cross"`} {
		if !strings.Contains(runs, s) {
			t.Errorf("the build stage's RUN lines do not hold %q", s)
		}
	}
	for _, pkg := range []string{"gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "REQUIRE_ARM64=1"} {
		if !strings.Contains(string(ci), pkg) {
			t.Errorf(".ci/run does not hold %s", pkg)
		}
	}
	buildOut := ""
	if m := regexp.MustCompile(`-o (\S+\.so) \./plugin`).FindStringSubmatch(runs); m != nil {
		buildOut = m[1]
	} else {
		t.Fatalf("the build stage builds no .so of ./plugin")
	}

	if !regexp.MustCompile(`^busybox:\d+\.\d+\.\d+-(musl|uclibc)(@sha256:[0-9a-f]{64})?$`).MatchString(plugin.from) {
		t.Errorf("plugin stage FROM %s: want a pinned static busybox (busybox:X.Y.Z-musl)", plugin.from)
	}
	for _, s := range []*stage{plugin, runtime} {
		want := []string{"--from=build", buildOut, pluginInImage}
		if !slices.ContainsFunc(s.copies, func(c []string) bool { return slices.Equal(c, want) }) {
			t.Errorf("stage %q: no COPY %s", s.name, strings.Join(want, " "))
		}
		if s.user != nonRoot {
			t.Errorf("stage %q: USER %q, want %s", s.name, s.user, nonRoot)
		}
	}

	// The init containers run this stage: they copy its .so, as its user.
	uid, _ := strconv.ParseInt(strings.Split(nonRoot, ":")[0], 10, 64)
	for _, v := range []variant{variants[0], variants[2]} {
		p := daemonSetPod(t, v.objs(t))
		if len(p.Spec.InitContainers) != 1 {
			t.Fatalf("%s: %d init containers", v.name, len(p.Spec.InitContainers))
		}
		ic := p.Spec.InitContainers[0]
		if len(ic.Command) != 3 || ic.Command[0] != "cp" || ic.Command[1] != pluginInImage {
			t.Errorf("%s: init container runs %v, want cp %s …", v.name, ic.Command, pluginInImage)
		}
		if sc := ic.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != uid {
			t.Errorf("%s: the init container does not run as %d, the plugin stage's user", v.name, uid)
		}
	}
	// deploy/README.md shows the plugin stage as it is.
	doc, err := os.ReadFile(repoPath("deploy/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"FROM " + plugin.from + " AS plugin", "COPY --from=build " + buildOut + " " + pluginInImage, "USER " + nonRoot} {
		if !strings.Contains(string(doc), line) {
			t.Errorf("deploy/README.md does not show the plugin stage's %q", line)
		}
	}
}
