package config

import (
	"flag"
	"os"
	"regexp"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's configuration tables from the table")

const readmePath = "../../README.md"

// readmeTable matches one generated table: the marker names the section.
var readmeTable = regexp.MustCompile(`(?s)(<!-- settings: ([a-z]+) -->\n)(.*?)(<!-- /settings -->)`)

// TestReadmeTablesMatchTheTable: the README documents exactly the keys of
// the table, with its defaults and descriptions. Run with -update-readme
// to rewrite them after changing the table.
func TestReadmeTablesMatchTheTable(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	seen := map[Section]bool{}
	out := readmeTable.ReplaceAllStringFunc(readme, func(m string) string {
		g := readmeTable.FindStringSubmatch(m)
		sec := Section(g[2])
		seen[sec] = true
		want := Markdown(sec)
		if g[3] != want && !*updateReadme {
			t.Errorf("README table %q differs from the settings table (go test ./plugin/config -run Readme -update-readme rewrites it):\n--- README\n%s--- table\n%s", sec, g[3], want)
		}
		return g[1] + want + g[4]
	})
	for _, s := range Settings() {
		if !seen[s.Section] {
			seen[s.Section] = true
			t.Errorf("README has no <!-- settings: %s --> table", s.Section)
		}
	}
	if *updateReadme && out != readme {
		if err := os.WriteFile(readmePath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
