package detect

import (
	"slices"
	"sort"
	"strings"
)

// collect describes the fingerprint's matching events in [from, to] as an
// alert stamped at, and marks every value in it as reported.
func (e *Engine) collect(f *fingerprint, from, to, at int64, typ AlertType) *Alert {
	recs := f.between(from, to)
	e.gen++
	var names, namespaces, decisions, imps, ips []string
	seenNS, seenDec, seenImp, seenIPs := map[strID]bool{}, map[strID]bool{}, map[strID]bool{}, map[strID]bool{}
	for _, r := range recs {
		s := &f.slots[r.slot]
		if s.mark != e.gen {
			s.mark = e.gen
			s.reported = true
			names = append(names, e.pool.str(s.name))
		}
		namespaces = appendNew(namespaces, seenNS, r.ns, e.pool)
		decisions = appendNew(decisions, seenDec, r.dec, e.pool)
		imps = appendNew(imps, seenImp, r.imp, e.pool)
		if r.ips != 0 && !seenIPs[r.ips] {
			seenIPs[r.ips] = true
			ips = append(ips, strings.Split(e.pool.str(r.ips), ",")...)
		}
	}
	if f.ip != "" {
		ips = append(ips, f.ip)
	}
	a := &Alert{
		Rule:              e.rule,
		Type:              typ,
		Mode:              e.set.Mode,
		Timestamp:         at,
		WindowStart:       from,
		WindowEnd:         to,
		User:              f.user,
		SourceIP:          f.ip,
		UserAgent:         f.ua,
		HasUserAgent:      !f.uaMissing,
		EventCount:        len(recs),
		RelatedIPs:        sortedUnique(ips),
		ImpersonatedUsers: sortedUnique(imps),
		AuditIDs:          f.auditIDs(from, to, e.pool),
		Truncated:         f.truncatedAt >= from,
		Fingerprint:       fingerprintID(f.key),
	}
	if len(recs) > 0 {
		a.EventStart, a.EventEnd = recs[0].t, recs[len(recs)-1].t
	}
	a.ID = alertID(e.rule, f.key, from, to)
	names = sortedUnique(names)
	for _, c := range e.rule.Columns {
		var values []string
		switch c.Field {
		case e.rule.Distinct:
			values = names
		case FieldNamespace:
			values = sortedUnique(namespaces)
		case FieldDecision:
			values = sortedUnique(decisions)
		case FieldImpersonatedUser:
			values = a.ImpersonatedUsers
		case FieldUser:
			values = nonEmpty(f.user)
		case FieldSourceIP:
			values = nonEmpty(f.ip)
		case FieldUserAgent:
			values = nonEmpty(f.ua)
		}
		if values == nil {
			values = []string{}
		}
		if c.Aggregate == CountDistinct {
			a.Columns = append(a.Columns, ColumnValue{Name: c.Name, Count: len(values)})
		} else {
			a.Columns = append(a.Columns, ColumnValue{Name: c.Name, Values: values, IsList: true})
		}
	}
	return a
}

func appendNew(list []string, seen map[strID]bool, id strID, p *pool) []string {
	if id == 0 || seen[id] {
		return list
	}
	seen[id] = true
	return append(list, p.str(id))
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// auditIDs lists up to maxAuditIDs of the most recent auditIDs seen in the
// window, oldest first.
func (f *fingerprint) auditIDs(from, to int64, p *pool) []string {
	refs := make([]auditRef, 0, auditRing)
	for _, r := range f.audit {
		if r.id != 0 && r.t >= from && r.t <= to {
			refs = append(refs, r)
		}
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].t < refs[j].t })
	if len(refs) > maxAuditIDs {
		refs = refs[len(refs)-maxAuditIDs:]
	}
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, p.str(r.id))
	}
	return sortedUnique(ids)
}

// sortedUnique sorts ascending and removes duplicates and empty strings,
// like ES|QL values() followed by a sort.
func sortedUnique(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sortStrings(s []string) { slices.Sort(s) }
