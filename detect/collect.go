package detect

import (
	"slices"
	"sort"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// collect describes the fingerprint's matching events in [from, to] as an
// alert stamped at, over the window [from, at], and marks every value in it
// as reported.
func (e *Engine) collect(f *fingerprint, from, to, at int64, typ AlertType) *Alert {
	recs := f.between(from, to)
	e.gen++
	var names, namespaces, decisions, imps, ips, sources, agents []string
	var audits []auditRef
	seen := map[strID]recordAttrs{}
	for i := range recs {
		r := &recs[i]
		s := &f.slots[r.slot]
		if s.mark != e.gen {
			s.mark = e.gen
			s.reported = true
			names = append(names, e.pool.str(s.name))
		}
		a, ok := seen[r.attrs]
		if !ok {
			a = splitAttrs(e.pool.str(r.attrs))
			seen[r.attrs] = a
			namespaces = append(namespaces, a.Namespace)
			decisions = append(decisions, a.Decision)
			imps = append(imps, a.ImpersonatedUser)
			if a.SourceIPs != "" {
				ips = append(ips, strings.Split(a.SourceIPs, ",")...)
			}
			sources = append(sources, a.Source)
			agents = append(agents, a.UserAgent)
		}
		if id := auditIDOf(r, a); id != "" {
			audits = append(audits, auditRef{t: r.t, id: id})
		}
	}
	if f.ip != "" {
		ips = append(ips, f.ip)
	}
	ips = append(ips, sources...)
	a := &Alert{
		Rule:              e.rule,
		Type:              typ,
		Mode:              e.set.Mode,
		Timestamp:         at,
		WindowStart:       from,
		WindowEnd:         at,
		User:              f.user,
		SourceIP:          f.ip,
		UserAgent:         f.ua,
		HasUserAgent:      !f.uaMissing,
		EventCount:        len(recs),
		RelatedIPs:        sortedUnique(ips),
		ImpersonatedUsers: sortedUnique(imps),
		AuditIDs:          latestAuditIDs(audits),
		Truncated:         f.truncatedAt >= from,
		Fingerprint:       fingerprintID(f.key),
		GroupBy:           e.groupBy,
		GroupByNames:      e.groupNames,
	}
	if !e.groupIP {
		a.SourceIPs = sortedUnique(sources)
	}
	if !e.groupUA {
		a.UserAgents = sortedUnique(agents)
	}
	if len(recs) > 0 {
		a.EventStart, a.EventEnd = recs[0].t, recs[len(recs)-1].t
	}
	a.ID = alertID(e.rule, f.key, from, at)
	names = sortedUnique(names)
	for _, c := range e.rule.Columns {
		var values []string
		switch c.Field {
		case e.rule.Distinct:
			values = names
		case rule.FieldNamespace:
			values = sortedUnique(namespaces)
		case rule.FieldDecision:
			values = sortedUnique(decisions)
		case rule.FieldImpersonatedUser:
			values = a.ImpersonatedUsers
		case rule.FieldUser:
			values = nonEmpty(f.user)
		case rule.FieldSourceIP:
			values = nonEmpty(f.ip)
			if !e.groupIP {
				values = a.SourceIPs
			}
		case rule.FieldUserAgent:
			values = nonEmpty(f.ua)
			if !e.groupUA {
				values = a.UserAgents
			}
		}
		if values == nil {
			values = []string{}
		}
		if c.Aggregate == rule.CountDistinct {
			a.Columns = append(a.Columns, ColumnValue{Name: c.Name, Count: len(values)})
		} else {
			a.Columns = append(a.Columns, ColumnValue{Name: c.Name, Values: values, IsList: true})
		}
	}
	return a
}

type auditRef struct {
	t  int64
	id string
}

// latestAuditIDs lists the auditIDs of the window's latest events (up to
// maxAuditIDs distinct ones, chosen by event time then ID, so the choice
// does not depend on arrival order), sorted.
func latestAuditIDs(refs []auditRef) []string {
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].t != refs[j].t {
			return refs[i].t > refs[j].t
		}
		return refs[i].id > refs[j].id
	})
	ids := make([]string, 0, maxAuditIDs)
	for _, r := range refs {
		if len(ids) == maxAuditIDs {
			break
		}
		if !slices.Contains(ids, r.id) {
			ids = append(ids, r.id)
		}
	}
	return sortedUnique(ids)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
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
