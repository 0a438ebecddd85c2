package bench

import (
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
)

// TestApply: a pass rewritten by Apply decodes to the same events, later by
// rep×Span, with the placeholder users rotated.
func TestApply(t *testing.T) {
	spec := Spec{Name: "fp", Events: 5000, Seed: 3, NoPlanted: true, Fingerprints: true}
	lines := Lines(spec)
	for _, sh := range Shapes {
		s, err := Build(spec.Name, lines, sh)
		if err != nil {
			t.Fatal(err)
		}
		if s.Matching == 0 || s.Total != len(lines) {
			t.Fatalf("%s: %d placeholders, %d records", ShapeName(sh), s.Matching, s.Total)
		}
		s.F = 7
		type got struct {
			time int64
			user string
		}
		decode := func(rep int) []got {
			var out []got
			d := record.NewDecoder(record.Options{})
			s.Pass(rep, func(_ int, ch []byte) {
				c := d.Decode(ch, func(ev *audit.Event) { out = append(out, got{ev.Time, ev.User}) })
				if c.Malformed+c.NotAudit+c.Truncated+c.NoTime != 0 {
					t.Fatalf("%+v", c)
				}
			})
			return out
		}
		a, b := decode(0), decode(3)
		if len(a) != len(lines) || len(b) != len(a) {
			t.Fatalf("%d, %d events", len(a), len(b))
		}
		users := map[string]bool{}
		for i := range a {
			if b[i].time-a[i].time != 3*s.Span {
				t.Fatalf("%s event %d: %d -> %d, span %d", ShapeName(sh), i, a[i].time, b[i].time, s.Span)
			}
			if len(a[i].user) > len(FPPrefix) && a[i].user[:len(FPPrefix)] == FPPrefix {
				users[b[i].user] = true
			}
		}
		if len(users) != 7 {
			t.Fatalf("%s: %d placeholder users, want 7", ShapeName(sh), len(users))
		}
	}
}
