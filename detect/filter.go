package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ipSet is an exclusion list of addresses and CIDR prefixes. Addresses are
// compared as addresses, not as text, with IPv4-mapped IPv6 unmapped first:
// like Elastic's to_string(source.ip), "::1", "0:0:0:0:0:0:0:1" and
// "::ffff:127.0.0.1" are all the loopback addresses the rule excludes.
type ipSet struct {
	addrs    map[netip.Addr]struct{}
	prefixes []netip.Prefix
}

func compileIPSet(entries []string) (ipSet, error) {
	s := ipSet{addrs: make(map[netip.Addr]struct{}, len(entries))}
	for _, e := range entries {
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return s, fmt.Errorf("%q is not an IP address or CIDR prefix", e)
			}
			s.prefixes = append(s.prefixes, unmapPrefix(p).Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return s, fmt.Errorf("%q is not an IP address or CIDR prefix", e)
		}
		s.addrs[canonicalAddr(a)] = struct{}{}
	}
	return s, nil
}

func (s *ipSet) contains(a netip.Addr) bool {
	if _, ok := s.addrs[a]; ok {
		return true
	}
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// canonicalAddr is the form addresses are compared and printed in: no zone,
// IPv4-mapped addresses as IPv4.
func canonicalAddr(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

func unmapPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return netip.PrefixFrom(a.WithZone(""), p.Bits())
}

// parseSourceIP reads one sourceIPs entry; an unparsable entry counts as
// missing.
func parseSourceIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return canonicalAddr(a), true
}

// exclusion is a compiled Exclusion.
type exclusion struct {
	field Field
	exact map[string]struct{}
	ips   ipSet
	likes []likePattern
}

func compileExclusion(x Exclusion, values []string) (exclusion, error) {
	c := exclusion{field: x.Field}
	switch x.Match {
	case MatchExact:
		c.exact = make(map[string]struct{}, len(values))
		for _, v := range values {
			c.exact[v] = struct{}{}
		}
	case MatchIP:
		s, err := compileIPSet(values)
		if err != nil {
			return c, err
		}
		c.ips = s
	case MatchLike:
		for _, v := range values {
			p, err := compileLike(v)
			if err != nil {
				return c, err
			}
			c.likes = append(c.likes, p)
		}
	default:
		return c, fmt.Errorf("exclusion %s has no match kind", x.Setting)
	}
	return c, nil
}

// excludes reports whether the value (or addr, for an IP exclusion)
// matches.
func (c *exclusion) excludes(value string, addr netip.Addr) bool {
	switch {
	case c.exact != nil:
		_, ok := c.exact[value]
		return ok
	case c.likes != nil:
		for i := range c.likes {
			if c.likes[i].match(value) {
				return true
			}
		}
		return false
	default:
		return c.ips.contains(addr)
	}
}

// filter is the compiled WHERE clause of a rule.
type filter struct {
	actions    []string
	resources  []string
	exclusions []exclusion
	sourceIP   SourceIPMode
	distinct   Field
	needUser   bool
	needIP     bool
}

func newFilter(r *Rule, s *Settings) (*filter, error) {
	f := &filter{actions: r.Actions, resources: r.Resources, sourceIP: s.SourceIP, distinct: r.Distinct}
	for _, g := range r.GroupBy {
		switch g {
		case FieldUser:
			f.needUser = true
		case FieldSourceIP:
			f.needIP = true
		}
	}
	for _, x := range r.Exclusions {
		c, err := compileExclusion(x, s.Exclusions[x.Setting])
		if err != nil {
			return nil, &ConfigError{Key: x.Setting, Value: strings.Join(s.Exclusions[x.Setting], ","), Reason: err.Error()}
		}
		f.exclusions = append(f.exclusions, c)
	}
	return f, nil
}

// candidate is the cheap first test: the action and the resource. It is
// all a non-matching event costs.
func (f *filter) candidate(ev *Event) bool {
	return (len(f.actions) == 0 || slices.Contains(f.actions, ev.Verb)) &&
		(len(f.resources) == 0 || slices.Contains(f.resources, ev.Resource))
}

// sourceIP picks the entry of sourceIPs that the source_ip setting names.
// In elastic mode a list of more than one entry is a multi-valued field,
// which the ES|QL rule's to_string(source.ip) in (...) turns into null: the
// event is dropped exactly as Elastic drops it.
func (f *filter) pickSourceIP(ev *Event) (string, bool) {
	n := len(ev.SourceIPs)
	if n == 0 {
		return "", false
	}
	switch f.sourceIP {
	case SourceIPClient:
		return ev.SourceIPs[0], true
	case SourceIPElastic:
		if ev.SourceIPCount != 1 {
			return "", false
		}
		return ev.SourceIPs[0], true
	default:
		return ev.SourceIPs[n-1], true
	}
}

// match applies the whole WHERE clause to a candidate and returns the
// source address it chose.
func (f *filter) match(ev *Event) (netip.Addr, bool) {
	var addr netip.Addr
	if f.needUser && ev.User == "" {
		return addr, false
	}
	if fieldValue(ev, f.distinct) == "" {
		return addr, false
	}
	if f.needIP {
		s, ok := f.pickSourceIP(ev)
		if !ok {
			return addr, false
		}
		if addr, ok = parseSourceIP(s); !ok {
			return addr, false
		}
	}
	for i := range f.exclusions {
		x := &f.exclusions[i]
		if x.excludes(fieldValue(ev, x.field), addr) {
			return addr, false
		}
	}
	return addr, true
}

// fieldValue reads a string field of an event (the source IP is handled
// apart, as an address).
func fieldValue(ev *Event, f Field) string {
	switch f {
	case FieldVerb:
		return ev.Verb
	case FieldResource:
		return ev.Resource
	case FieldName:
		return ev.Name
	case FieldNamespace:
		return ev.Namespace
	case FieldUser:
		return ev.User
	case FieldUserAgent:
		return ev.UserAgent
	case FieldDecision:
		return ev.Decision
	case FieldImpersonatedUser:
		return ev.ImpersonatedUser
	}
	return ""
}
