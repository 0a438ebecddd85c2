package detect

import "strings"

// strID names a string kept by the engine; 0 is "no value".
type strID int32

// pool interns every string the engine keeps (secret names, namespaces,
// decisions, users, addresses): one copy per distinct value however many
// fingerprints and records refer to it, released when the last record
// referring to it expires. Values arrive borrowed from a decoder's buffer
// and are copied only on first sight.
type pool struct {
	strs  []string
	refs  []int32
	index map[string]strID
	free  []strID
}

func newPool() *pool {
	return &pool{strs: []string{""}, refs: []int32{0}, index: make(map[string]strID)}
}

// ref returns the id of s, taking a reference.
func (p *pool) ref(s string) strID {
	if s == "" {
		return 0
	}
	if id, ok := p.index[s]; ok {
		p.refs[id]++
		return id
	}
	s = strings.Clone(s)
	var id strID
	if n := len(p.free); n > 0 {
		id = p.free[n-1]
		p.free = p.free[:n-1]
		p.strs[id], p.refs[id] = s, 1
	} else {
		id = strID(len(p.strs))
		p.strs = append(p.strs, s)
		p.refs = append(p.refs, 1)
	}
	p.index[s] = id
	return id
}

// refBytes is ref for a value held in a scratch buffer: it copies only
// a value not seen before.
func (p *pool) refBytes(b []byte) strID {
	if len(b) == 0 {
		return 0
	}
	if id, ok := p.index[string(b)]; ok {
		p.refs[id]++
		return id
	}
	return p.ref(string(b))
}

// release drops a reference.
func (p *pool) release(id strID) {
	if id == 0 {
		return
	}
	if p.refs[id]--; p.refs[id] == 0 {
		delete(p.index, p.strs[id])
		p.strs[id] = ""
		p.free = append(p.free, id)
	}
}

func (p *pool) str(id strID) string { return p.strs[id] }

// len is the number of live strings.
func (p *pool) len() int { return len(p.index) }
