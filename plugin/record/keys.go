package record

import (
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
)

// keyIndex lays out the keys of a audit.Node (an Object of the audit
// schema) for walk: a key is found by a slot of its length and end bytes
// and one comparison, cheaper than hashing it whole; most keys of an audit
// record are not read at all, and end at an empty slot.
type keyIndex struct {
	// slot = (length*mulSize + first byte*mulFirst + last byte) % keySlots,
	// with the multipliers that give every key a slot of its own.
	mulSize, mulFirst int
	slots             [keySlots]keySlot
	all               []keySlot // every key
	collided          bool      // some keys share a slot: a miss is looked for in all
}

type keySlot struct {
	key   string // "" for an empty slot
	child *audit.Node
	index *keyIndex // child's own keys when it is an Object or ObjectList
}

const keySlots = 64

func (idx *keyIndex) slotOf(size int, first, last byte) int {
	return (size*idx.mulSize + int(first)*idx.mulFirst + int(last)) & (keySlots - 1)
}

// bodyIndex is audit.BodySchema's.
var bodyIndex = newKeyIndex(audit.BodySchema, map[*audit.Node]*keyIndex{})

func newKeyIndex(n *audit.Node, seen map[*audit.Node]*keyIndex) *keyIndex {
	if idx, ok := seen[n]; ok {
		return idx
	}
	idx := &keyIndex{}
	seen[n] = idx
	n.EachChild(func(key string, child *audit.Node) {
		if key == "" {
			return // never in the schema; find would not match it anyway
		}
		s := keySlot{key: key, child: child}
		if child.Kind == audit.Object || child.Kind == audit.ObjectList {
			s.index = newKeyIndex(child, seen)
		}
		idx.all = append(idx.all, s)
	})
	for idx.mulSize = 1; idx.mulSize < keySlots; idx.mulSize++ {
		for idx.mulFirst = 1; idx.mulFirst < keySlots; idx.mulFirst++ {
			if idx.place() {
				return idx
			}
		}
	}
	idx.mulSize, idx.mulFirst = 7, 3
	idx.place()
	idx.collided = true
	return idx
}

// place puts the keys in their slots and reports whether each has its own.
func (idx *keyIndex) place() bool {
	idx.slots = [keySlots]keySlot{}
	for _, s := range idx.all {
		slot := &idx.slots[idx.slotOf(len(s.key), s.key[0], s.key[len(s.key)-1])]
		if slot.key != "" {
			return false
		}
		*slot = s
	}
	return true
}

// find looks a key up by comparing it whole.
func (idx *keyIndex) find(key []byte) *keySlot {
	if len(key) == 0 {
		return nil
	}
	if s := &idx.slots[idx.slotOf(len(key), key[0], key[len(key)-1])]; string(key) == s.key {
		return s
	}
	if idx.collided {
		for i := range idx.all {
			if string(key) == idx.all[i].key {
				return &idx.all[i]
			}
		}
	}
	return nil
}
