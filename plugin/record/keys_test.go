package record

import (
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// Every key of the schema has a slot of its own, so that walk finds each
// with one comparison and never needs find inside a chunk. A new schema
// key that collides fails here: change slotOf or keySlots.
func TestKeyIndexHasNoCollisions(t *testing.T) {
	var check func(idx *keyIndex, path string)
	seen := map[*keyIndex]bool{}
	check = func(idx *keyIndex, path string) {
		if seen[idx] {
			return
		}
		seen[idx] = true
		if idx.collided {
			t.Errorf("%s: two keys share a slot", path)
		}
		for _, s := range idx.all {
			if got := idx.find([]byte(s.key)); got == nil || got.child != s.child {
				t.Errorf("%s.%s: not found", path, s.key)
			}
			if s.index != nil {
				check(s.index, path+"."+s.key)
			}
		}
	}
	check(bodyIndex, "body")
	if len(bodyIndex.all) != countKeys(audit.BodySchema) {
		t.Errorf("body index holds %d keys, the schema %d", len(bodyIndex.all), countKeys(audit.BodySchema))
	}
}

func countKeys(n *audit.Node) int {
	k := 0
	n.EachChild(func(string, *audit.Node) { k++ })
	return k
}
