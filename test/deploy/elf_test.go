package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// requiredExports are the entry points Fluent Bit's Go proxy looks up.
var requiredExports = []string{"FLBPluginRegister", "FLBPluginInit", "FLBPluginFlushCtx", "FLBPluginExitCtx", "FLBPluginUnregister"}

// maxGlibc is the newest glibc symbol version the .so may need: Fluent Bit
// 4.x images are Debian 12 (glibc 2.36); 5.x images (Debian 13) are newer.
const maxGlibc = "2.36"

const crossCC = "aarch64-linux-gnu-gcc"

// TestPluginBuildsForArm64 cross-compiles the .so with cgo for linux/arm64
// (Debian's gcc-aarch64-linux-gnu) and checks that it is an aarch64 ELF
// shared object exporting every entry point of plugin/. Without the cross
// compiler it is skipped, unless REQUIRE_ARM64=1.
func TestPluginBuildsForArm64(t *testing.T) {
	if _, err := exec.LookPath(crossCC); err != nil {
		if os.Getenv("REQUIRE_ARM64") == "1" {
			t.Fatalf("REQUIRE_ARM64=1 but %s is missing (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)", crossCC)
		}
		t.Skipf("%s is missing (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross; REQUIRE_ARM64=1 makes this a failure)", crossCC)
	}
	out := filepath.Join(t.TempDir(), "out_k8s_secret_enum.so")
	cmd := exec.Command(goTool(), "build", "-trimpath", "-buildmode=c-shared", "-o", out, "./plugin")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CC="+crossCC, "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, b)
	}
	checkSharedObject(t, out, elf.EM_AARCH64)
}

// TestPluginSharedObject checks the host build of `make build` the same way.
func TestPluginSharedObject(t *testing.T) {
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if machine == 0 {
		t.Skipf("no ELF machine known for %s", runtime.GOARCH)
	}
	checkSharedObject(t, soPath(t), machine)
}

func checkSharedObject(t *testing.T, file string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != machine || f.Type != elf.ET_DYN || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("%s: %v %v %v %v, want ELFCLASS64 %v ET_DYN (a Linux shared object)", file, f.Class, f.Machine, f.Type, f.OSABI, machine)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && elf.ST_BIND(s.Info) == elf.STB_GLOBAL && s.Section != elf.SHN_UNDEF {
			defined[s.Name] = true
		}
	}
	exports := goExports(t)
	for _, name := range requiredExports {
		if !slices.Contains(exports, name) {
			t.Errorf("plugin/ has no //export %s", name)
		}
	}
	for _, name := range exports {
		if !defined[name] {
			t.Errorf("%s does not export %s", file, name)
		}
	}

	imported, err := f.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	newest := ""
	for _, s := range imported {
		if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok && versionLess(newest, v) {
			newest = v
		}
	}
	if versionLess(maxGlibc, newest) {
		t.Errorf("%s needs GLIBC_%s, newer than %s: it would not load into Fluent Bit 4.x images (build on Debian 12)", file, newest, maxGlibc)
	}
	libs, _ := f.ImportedLibraries()
	t.Logf("%s: %v, exports %v, needs %v, newest glibc symbol %s", filepath.Base(file), f.Machine, exports, libs, newest)
}

// goExports lists the //export directives of plugin/*.go.
func goExports(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(repoPath("plugin/*.go"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^//export (\w+)\s*$`)
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			names = append(names, string(m[1]))
		}
	}
	sort.Strings(names)
	return names
}

// versionLess compares dotted versions numerically; "" is the oldest.
func versionLess(a, b string) bool {
	if a == "" || b == "" {
		return a == "" && b != ""
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
