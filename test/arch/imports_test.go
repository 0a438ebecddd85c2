// Package arch checks the shape of the code: which package may import
// which. Data flows one way, record → event → detector → alert → sender,
// and the import graph follows it: no package imports one above it.
package arch

import (
	"encoding/json"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/k8s-secret-enum/k8s-secret-enum/"

// allowed lists, for every product package, the module's packages it may
// import, lowest layer first. Test code (test/...) may import anything;
// nothing outside test/ may import it.
var allowed = map[string][]string{
	"detect/audit":               {},
	"detect/rule":                {"detect/audit"},
	"detect":                     {"detect/audit", "detect/rule"},
	"plugin/logging":             {},
	"plugin/record":              {"detect/audit"},
	"plugin/format":              {},
	"plugin/deliver":             {"plugin/format", "plugin/logging"},
	"plugin/metrics":             {"plugin/logging"},
	"plugin/statefile":           {"detect", "plugin/logging"},
	"plugin/config":              {"detect", "detect/rule", "plugin/deliver", "plugin/format", "plugin/logging"},
	"plugin/cmd/k8s-secret-enum": {"detect", "detect/audit", "plugin/config"},
	"plugin": {"detect", "detect/audit", "plugin/config", "plugin/deliver", "plugin/logging",
		"plugin/metrics", "plugin/record", "plugin/statefile"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(name, "test/") {
			continue
		}
		seen[name] = true
		ok, known := allowed[name]
		if !known {
			t.Errorf("%s is not in the layer table: place it", name)
			continue
		}
		var got []string
		for _, imp := range p.Imports {
			if dep, ours := strings.CutPrefix(imp, module); ours {
				got = append(got, dep)
				if strings.HasPrefix(dep, "test/") {
					t.Errorf("%s imports test code %s", name, dep)
				} else if !contains(ok, dep) {
					t.Errorf("%s imports %s: not below it (allowed: %v)", name, dep, ok)
				}
			}
		}
		sort.Strings(got)
		t.Logf("%-28s → %s", name, strings.Join(got, ", "))
	}
	for name := range allowed {
		if !seen[name] {
			t.Errorf("%s is in the layer table but not in the module", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
