package model

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// event is one audit event that has a time. Only matching events carry the
// fingerprint and the alert's context.
type event struct {
	seq   int // position among the audit events of the input (with a time or not)
	t     int64
	match bool

	user, ip, ua string
	hasUA        bool
	key          string // the fingerprint's key, under the settings' group_by

	name, namespace, decision, impersonated, auditID string
	sourceIPs                                        []string
}

var (
	minTime = time.Unix(0, 0)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// decode turns input lines into audit events (input order). auditEvents
// counts every audit event, with a time or not; only those with a time are
// returned.
func decode(s Settings, lines [][]byte) (events []*event, auditEvents int) {
	m := newMatcher(s)
	for _, line := range lines {
		for _, obj := range candidates(line) {
			if !isAuditEvent(obj) {
				continue
			}
			seq := auditEvents
			auditEvents++
			t, ok := eventTime(obj)
			if !ok {
				continue
			}
			e := &event{seq: seq, t: t}
			m.apply(e, obj)
			events = append(events, e)
		}
	}
	return events, auditEvents
}

// candidates are the objects of one line: the line itself, or the items of
// an EventList.
func candidates(line []byte) []map[string]any {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(line, &v); err != nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if obj["kind"] == "EventList" {
		if items, ok := obj["items"].([]any); ok {
			var out []map[string]any
			for _, it := range items {
				if o, ok := it.(map[string]any); ok {
					out = append(out, o)
				}
			}
			return out
		}
	}
	return []map[string]any{obj}
}

// isAuditEvent: a string verb, and a string auditID or stage, or kind Event.
// Here a string is any string, the empty one included.
func isAuditEvent(obj map[string]any) bool {
	if _, ok := obj["verb"].(string); !ok {
		return false
	}
	_, id := obj["auditID"].(string)
	_, stage := obj["stage"].(string)
	return id || stage || obj["kind"] == "Event"
}

// str reads a string at a path; a missing value, another type or "" give "".
func str(obj map[string]any, path ...string) string {
	var v any = obj
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// eventTime is the first of the three timestamps that holds an RFC 3339
// time in (1970, 2200]; a time outside that range counts as none, like one
// that does not parse, and the next timestamp is tried.
func eventTime(obj map[string]any) (int64, bool) {
	for _, k := range []string{"requestReceivedTimestamp", "stageTimestamp", "timestamp"} {
		s, ok := obj[k].(string)
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !t.After(minTime) || t.After(maxTime) {
			continue
		}
		return t.UnixNano(), true
	}
	return 0, false
}

// sourceIPs is the list as given: an array's string entries, or a single
// string.
func sourceIPs(obj map[string]any) []string {
	switch v := obj["sourceIPs"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// canonical parses an address and drops the zone and the IPv4-mapped form.
func canonical(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

type matcher struct {
	s        Settings
	users    map[string]bool
	addrs    map[netip.Addr]bool
	prefixes []netip.Prefix
	patterns []string
}

func newMatcher(s Settings) *matcher {
	m := &matcher{s: s, users: map[string]bool{}, addrs: map[netip.Addr]bool{}, patterns: s.ExcludeNames}
	for _, u := range s.ExcludeUsers {
		m.users[u] = true
	}
	for _, v := range s.ExcludeSourceIPs {
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				panic("model: bad prefix " + v)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			m.prefixes = append(m.prefixes, p)
			continue
		}
		a, ok := canonical(v)
		if !ok {
			panic("model: bad address " + v)
		}
		m.addrs[a] = true
	}
	return m
}

// apply fills e from obj and decides whether it matches the rule.
func (m *matcher) apply(e *event, obj map[string]any) {
	if str(obj, "verb") != "get" || str(obj, "objectRef", "resource") != "secrets" {
		return
	}
	e.user = str(obj, "user", "username")
	e.name = str(obj, "objectRef", "name")
	if e.user == "" || e.name == "" || m.users[e.user] || m.excludedName(e.name) {
		return
	}
	e.sourceIPs = sourceIPs(obj)
	var entry string
	switch n := len(e.sourceIPs); {
	case n == 0:
		return
	case m.s.SourceIP == "client":
		entry = e.sourceIPs[0]
	case m.s.SourceIP == "elastic":
		if n != 1 {
			return
		}
		entry = e.sourceIPs[0]
	default:
		entry = e.sourceIPs[n-1]
	}
	a, ok := canonical(entry)
	if !ok || m.excludedAddr(a) {
		return
	}
	e.match = true
	e.ip = a.String()
	e.ua = str(obj, "userAgent")
	e.hasUA = e.ua != ""
	e.namespace = str(obj, "objectRef", "namespace")
	e.decision = str(obj, "annotations", "authorization.k8s.io/decision")
	e.impersonated = str(obj, "impersonatedUser", "username")
	e.auditID = str(obj, "auditID")
	e.key = m.s.grouping().key(e)
}

func (m *matcher) excludedAddr(a netip.Addr) bool {
	if m.addrs[a] {
		return true
	}
	for _, p := range m.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (m *matcher) excludedName(name string) bool {
	for _, p := range m.patterns {
		if like(p, name) {
			return true
		}
	}
	return false
}

// like is ES|QL LIKE over code points: * any run, ? one character, \ makes
// the next character literal. A byte of invalid UTF-8 is one character.
func like(pattern, s string) bool {
	type tok struct {
		kind byte // '*', '?' or 'c' (a literal)
		r    rune
	}
	var toks []tok
	for i := 0; i < len(pattern); {
		r, n := utf8.DecodeRuneInString(pattern[i:])
		i += n
		switch {
		case r == '\\' && i < len(pattern):
			r, n = utf8.DecodeRuneInString(pattern[i:])
			i += n
			toks = append(toks, tok{'c', r})
		case r == '*':
			toks = append(toks, tok{'*', 0})
		case r == '?':
			toks = append(toks, tok{'?', 0})
		default:
			toks = append(toks, tok{'c', r})
		}
	}
	var chars []rune
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		chars = append(chars, r)
		i += n
	}
	// ok[i][j]: the first i tokens match the first j characters.
	ok := make([][]bool, len(toks)+1)
	for i := range ok {
		ok[i] = make([]bool, len(chars)+1)
	}
	ok[0][0] = true
	for i := 1; i <= len(toks); i++ {
		t := toks[i-1]
		for j := 0; j <= len(chars); j++ {
			switch t.kind {
			case '*':
				ok[i][j] = ok[i-1][j] || (j > 0 && ok[i][j-1])
			case '?':
				ok[i][j] = j > 0 && ok[i-1][j-1]
			default:
				ok[i][j] = j > 0 && ok[i-1][j-1] && chars[j-1] == t.r
			}
		}
	}
	return ok[len(toks)][len(chars)]
}
