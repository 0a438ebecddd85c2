package audit

// Field names a leaf of the audit document that the rules read.
type Field uint8

const (
	noField Field = iota
	Verb
	Resource
	Name
	Namespace
	User
	ImpersonatedUser
	UserAgent
	Decision
	AuditID
	Stage
	Kind
	ReceivedAt
	StageAt
	LegacyTimestamp
	SourceIPs // a list of strings
	Items     // EventList.items: a list of Event objects
	numFields
)

// NodeKind says how a decoder reads the value under a key.
type NodeKind uint8

const (
	// Skip: the value is not read (the zero Node).
	Skip NodeKind = iota
	// String: a string leaf; any other type counts as missing.
	String
	// StringList: an array of strings (a single string is taken as a
	// one-entry list, as Elasticsearch does).
	StringList
	// Object: a nested object whose keys are looked up in Child.
	Object
	// ObjectList: an array of objects, each an audit Event (EventList.items).
	ObjectList
)

// Node is one key of the mapping.
type Node struct {
	Kind     NodeKind
	Field    Field
	children map[string]*Node
	// fields is the set of leaves at or under this node (bit per field).
	fields uint32
	keys   keyTable
}

// Child returns the node for key inside an Object node, nil when the key is
// not read.
func (n *Node) Child(key []byte) *Node { return n.lookup(borrow(key)) }

func (n *Node) lookup(key string) *Node {
	if len(key) == 0 {
		return nil // never a key of the mapping
	}
	t := &n.keys
	if s := &t.slots[t.slot(len(key), key[0], key[len(key)-1])]; key == s.key {
		return s.node
	}
	if t.collided {
		return n.children[key]
	}
	return nil
}

// keyTable finds a key by a slot of its length and end bytes and one
// comparison, cheaper than hashing it whole: most keys of an audit
// document are not read, and end at an empty slot.
type keyTable struct {
	// slot = (length*mulLen + first byte*mulFirst + last byte) % keySlots,
	// with the first multipliers that give every key a slot of its own.
	mulLen, mulFirst int
	slots            [keySlots]struct {
		key  string // "" for an empty slot
		node *Node
	}
	collided bool // no such multipliers: a miss is looked up in children
	maxLen   int  // of the longest key
}

const keySlots = 64

func (t *keyTable) slot(size int, first, last byte) int {
	return (size*t.mulLen + int(first)*t.mulFirst + int(last)) & (keySlots - 1)
}

func (t *keyTable) build(children map[string]*Node) {
	for key := range children {
		t.maxLen = max(t.maxLen, len(key))
	}
	for t.mulLen = 1; t.mulLen < keySlots; t.mulLen++ {
		for t.mulFirst = 1; t.mulFirst < keySlots; t.mulFirst++ {
			if t.place(children) {
				return
			}
		}
	}
	t.mulLen, t.mulFirst, t.collided = 7, 3, true
	t.place(children)
}

// place puts the keys in their slots and reports whether each has its own.
func (t *keyTable) place(children map[string]*Node) bool {
	t.slots = [keySlots]struct {
		key  string
		node *Node
	}{}
	ok := true
	for key, c := range children {
		s := &t.slots[t.slot(len(key), key[0], key[len(key)-1])]
		if s.key != "" {
			ok = false
			continue
		}
		s.key, s.node = key, c
	}
	return ok
}

// Select returns an Object node with only the given keys of n (an Object
// node): a walk with it reads those keys and skips every other value, for
// a reader that needs a few top-level fields only.
func (n *Node) Select(keys ...string) *Node {
	m := make(map[string]*Node, len(keys))
	for _, k := range keys {
		if c := n.children[k]; c != nil {
			m[k] = c
		}
	}
	return object(m)
}

// EachChild calls f for each key of an Object node, in no set order: for
// decoders that build their own index of the keys.
func (n *Node) EachChild(f func(key string, child *Node)) {
	for k, c := range n.children {
		f(k, c)
	}
}

// Fields is the set of leaves at or under the node, as a bit mask by
// Field: what a repeated key must clear before it is read again.
func (n *Node) Fields() uint32 { return n.fields }

func leaf(field Field) *Node {
	return &Node{Kind: String, Field: field, fields: 1 << field}
}

func leafList(field Field) *Node {
	return &Node{Kind: StringList, Field: field, fields: 1 << field}
}

func object(keys map[string]*Node) *Node {
	n := &Node{Kind: Object}
	n.setChildren(keys)
	return n
}

func (n *Node) setChildren(keys map[string]*Node) {
	n.children = keys
	n.keys.build(keys)
	for _, c := range keys {
		if c.Kind != ObjectList {
			n.fields |= c.fields
		}
	}
}

// EventSchema is an audit.k8s.io/v1 Event (also v1beta1 and the 2017 shape
// with "timestamp"), restricted to what the rules read.
var EventSchema = object(map[string]*Node{
	"kind":                     leaf(Kind),
	"auditID":                  leaf(AuditID),
	"stage":                    leaf(Stage),
	"verb":                     leaf(Verb),
	"userAgent":                leaf(UserAgent),
	"requestReceivedTimestamp": leaf(ReceivedAt),
	"stageTimestamp":           leaf(StageAt),
	"timestamp":                leaf(LegacyTimestamp),
	"sourceIPs":                leafList(SourceIPs),
	"user":                     object(map[string]*Node{"username": leaf(User)}),
	"impersonatedUser":         object(map[string]*Node{"username": leaf(ImpersonatedUser)}),
	"objectRef": object(map[string]*Node{
		"resource":  leaf(Resource),
		"namespace": leaf(Namespace),
		"name":      leaf(Name),
	}),
	"annotations": object(map[string]*Node{"authorization.k8s.io/decision": leaf(Decision)}),
})

// BodySchema is what a decoder expects at the top of a document: an Event,
// or an EventList (what the API server's audit webhook posts) whose items
// are Events.
var BodySchema = func() *Node {
	keys := make(map[string]*Node, len(EventSchema.children)+1)
	for k, v := range EventSchema.children {
		keys[k] = v
	}
	items := &Node{Kind: ObjectList, Field: Items}
	items.setChildren(EventSchema.children)
	keys["items"] = items
	return object(keys)
}()
