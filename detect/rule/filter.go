package rule

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
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

// ParseSourceIP reads one sourceIPs entry; an unparsable entry counts as
// missing.
func ParseSourceIP(s string) (netip.Addr, bool) {
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

// Filter is the compiled WHERE clause of a rule.
type Filter struct {
	actions    []string
	resources  []string
	exclusions []exclusion
	sourceIP   SourceIPMode
	distinct   Field
	needUser   bool
	needIP     bool
}

// Compile builds the rule's WHERE clause with the source address chosen by
// sourceIP and the exclusion lists by setting key (a missing key excludes
// nothing).
func Compile(r *Rule, sourceIP SourceIPMode, exclusions map[string][]string) (*Filter, error) {
	f := &Filter{actions: r.Actions, resources: r.Resources, sourceIP: sourceIP, distinct: r.Distinct}
	for _, g := range r.GroupBy {
		switch g {
		case FieldUser:
			f.needUser = true
		case FieldSourceIP:
			f.needIP = true
		}
	}
	for _, x := range r.Exclusions {
		c, err := compileExclusion(x, exclusions[x.Setting])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.Setting, err)
		}
		f.exclusions = append(f.exclusions, c)
	}
	return f, nil
}

// Candidate is the cheap first test: the action and the resource. It is
// all a non-matching event costs.
func (f *Filter) Candidate(ev *audit.Event) bool {
	return (len(f.actions) == 0 || slices.Contains(f.actions, ev.Verb)) &&
		(len(f.resources) == 0 || slices.Contains(f.resources, ev.Resource))
}

// sourceIP picks the entry of sourceIPs that the source_ip setting names.
// In elastic mode a list of more than one entry is a multi-valued field,
// which the ES|QL rule's to_string(source.ip) in (...) turns into null: the
// event is dropped exactly as Elastic drops it.
func (f *Filter) pickSourceIP(ev *audit.Event) (string, bool) {
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

// Match applies the whole WHERE clause to a candidate and returns the
// source address it chose.
func (f *Filter) Match(ev *audit.Event) (netip.Addr, bool) {
	var addr netip.Addr
	if f.needUser && ev.User == "" {
		return addr, false
	}
	if f.distinct.Of(ev) == "" {
		return addr, false
	}
	if f.needIP {
		s, ok := f.pickSourceIP(ev)
		if !ok {
			return addr, false
		}
		if addr, ok = ParseSourceIP(s); !ok {
			return addr, false
		}
	}
	for i := range f.exclusions {
		x := &f.exclusions[i]
		if x.excludes(x.field.Of(ev), addr) {
			return addr, false
		}
	}
	return addr, true
}

// Of reads a string field of an event (the source IP is handled apart, as
// an address).
func (f Field) Of(ev *audit.Event) string {
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

// CheckExclusion tells whether values are a valid list for exclusion x.
func CheckExclusion(x Exclusion, values []string) error {
	_, err := compileExclusion(x, values)
	return err
}

// SourceIPMode is which sourceIPs entry is the client's address.
type SourceIPMode uint8

const (
	// SourceIPPeer is the last entry: the address that connected to the
	// API server, which a client cannot forge.
	SourceIPPeer SourceIPMode = iota
	// SourceIPClient is the first entry, as forwarded by proxies.
	SourceIPClient
	// SourceIPElastic is Elastic's mapping: the whole list, so an event
	// with more than one entry is dropped as the ES|QL rule drops it.
	SourceIPElastic
)

func (m SourceIPMode) String() string {
	switch m {
	case SourceIPClient:
		return "client"
	case SourceIPElastic:
		return "elastic"
	}
	return "peer"
}
