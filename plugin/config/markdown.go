package config

import (
	"fmt"
	"strings"
)

// Markdown renders the settings of a section as the README's table.
func Markdown(sec Section) string {
	var b strings.Builder
	b.WriteString("| key | default | meaning |\n|---|---|---|\n")
	for i := 0; i < len(table); i++ {
		s := &table[i]
		if s.Section != sec {
			continue
		}
		key := "`" + s.Key + "`"
		// A numbered family is one row.
		if j := i; strings.HasSuffix(s.Key, "_1") {
			stem := strings.TrimSuffix(s.Key, "1")
			for j+1 < len(table) && strings.HasPrefix(table[j+1].Key, stem) {
				j++
			}
			if j > i {
				key = fmt.Sprintf("`%s` … `%s`", s.Key, table[j].Key)
				i = j
			}
		}
		def := "—"
		switch {
		case s.DefaultDoc != "":
			def = s.DefaultDoc
		case s.Default != "":
			def = "`" + s.Default + "`"
		}
		if s.EnvDefault != "" {
			def += " (or `$" + s.EnvDefault + "`)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", key, def, s.Doc)
	}
	return b.String()
}
