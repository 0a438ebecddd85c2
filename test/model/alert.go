package model

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ruleID is the rule's id and the namespace of alert ids.
const ruleID = "b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c"

// ruleJSON is the constant "rule" object of every alert, as README.md's
// Alerts section gives it (with the description in full).
const ruleJSON = `{
 "name": "Kubernetes Rapid Secret GET Activity Against Multiple Objects",
 "id": "b4c8e2a1-9f3d-4e7c-a2b1-0d5e6f7a8b9c",
 "description": "One client fingerprint (user, source IP, user agent) read several distinct Secrets in a short window: credential harvesting, RBAC probing or scripted secret spraying.",
 "severity": "high", "risk_score": 73, "version": 1,
 "reference": ["https://attack.mitre.org/techniques/T1552/007/"],
 "threat": [{"framework": "MITRE ATT&CK",
  "tactic": {"id": "TA0006", "name": "Credential Access", "reference": "https://attack.mitre.org/tactics/TA0006/"},
  "technique": [{"id": "T1552", "name": "Unsecured Credentials", "reference": "https://attack.mitre.org/techniques/T1552/",
   "subtechnique": [{"id": "T1552.007", "name": "Container API", "reference": "https://attack.mitre.org/techniques/T1552/007/"}]}]}]
}`

// formatTime prints Unix nanoseconds in UTC with nine fractional digits.
func formatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// fingerprintHex is the first 10 bytes of SHA-1 of the key.
func fingerprintHex(key string) string {
	sum := sha1.Sum([]byte(key))
	return hex.EncodeToString(sum[:10])
}

// alertID is a version 5 UUID (RFC 4122 §4.3) in the rule's namespace of
// key|start|end.
func alertID(key string, start, end int64) string {
	ns, err := hex.DecodeString(strings.ReplaceAll(ruleID, "-", ""))
	if err != nil {
		panic(err)
	}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(key + "|" + strconv.FormatInt(start, 10) + "|" + strconv.FormatInt(end, 10)))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// sortedSet returns the distinct non-empty values, sorted; never nil.
func sortedSet(values []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, v := range values {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// normalizeAuditID lowercases a UUID's text; other ids are kept as they are.
func normalizeAuditID(id string) string {
	if len(id) != 36 {
		return id
	}
	allZero := true
	for i := 0; i < 36; i++ {
		c := id[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return id
			}
			continue
		}
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
			return id
		}
		if c != '0' {
			allZero = false
		}
	}
	if allZero {
		return id
	}
	return strings.ToLower(id)
}

// auditIDs are up to five ids of the latest events: (time, id) pairs from the
// latest, ties by id descending, each id once; printed sorted.
func auditIDs(evs []*event) []string {
	type pair struct {
		t  int64
		id string
	}
	var pairs []pair
	for _, e := range evs {
		if id := normalizeAuditID(e.auditID); id != "" {
			pairs = append(pairs, pair{e.t, id})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].t != pairs[j].t {
			return pairs[i].t > pairs[j].t
		}
		return pairs[i].id > pairs[j].id
	})
	taken := map[string]bool{}
	out := []string{}
	for _, p := range pairs {
		if len(out) == 5 {
			break
		}
		if !taken[p.id] {
			taken[p.id] = true
			out = append(out, p.id)
		}
	}
	sort.Strings(out)
	return out
}

// relatedIPs: the source address of every event, and every address among
// the first 15 and the last entry of each multi-entry sourceIPs list.
func relatedIPs(evs []*event) []string {
	var ips []string
	for _, e := range evs {
		ips = append(ips, e.ip)
		n := len(e.sourceIPs)
		if n < 2 {
			continue
		}
		for i, v := range e.sourceIPs {
			if i >= 15 && i != n-1 {
				continue
			}
			if a, ok := canonical(v); ok {
				ips = append(ips, a.String())
			}
		}
	}
	return sortedSet(ips)
}

// buildAlert describes evs (one fingerprint's events, non-empty) as an alert
// stamped at stamp over the window [w0, stamp].
func buildAlert(g grouping, typ, mode string, stamp, w0 int64, evs []*event) map[string]any {
	f := evs[0]
	var names, namespaces, decisions, imps, addrs, agents []string
	first, last := evs[0].t, evs[0].t
	for _, e := range evs {
		names = append(names, e.name)
		namespaces = append(namespaces, e.namespace)
		decisions = append(decisions, e.decision)
		imps = append(imps, e.impersonated)
		addrs = append(addrs, e.ip)
		agents = append(agents, e.ua) // "" when missing: sortedSet skips it
		first, last = min(first, e.t), max(last, e.t)
	}
	var rule any
	if err := json.Unmarshal([]byte(ruleJSON), &rule); err != nil {
		panic(err)
	}
	audit := map[string]any{"auditID": auditIDs(evs)}
	if imp := sortedSet(imps); len(imp) > 0 {
		audit["impersonatedUser"] = map[string]any{"username": imp}
	}
	meta := map[string]any{"id": alertID(f.key, w0, stamp), "type": typ, "mode": mode,
		"fingerprint": fingerprintHex(f.key), "truncated": false}
	if !g.rule() {
		meta["group_by"] = g.names()
	}
	a := map[string]any{
		"@timestamp": formatTime(stamp),
		"user":       map[string]any{"name": f.user},
		"source":     map[string]any{"ip": f.ip},
		"Esql": map[string]any{
			"unique_credentials": len(sortedSet(names)),
			"secrets_names":      sortedSet(names),
			"namespaces":         sortedSet(namespaces),
			"outcome":            sortedSet(decisions),
		},
		"rule":   rule,
		"window": map[string]any{"start": formatTime(w0), "end": formatTime(stamp)},
		"event":  map[string]any{"kind": "alert", "start": formatTime(first), "end": formatTime(last), "count": len(evs)},
		"alert":  meta,
		"related": map[string]any{
			"ip":   relatedIPs(evs),
			"user": sortedSet(append([]string{f.user}, imps...)),
		},
		"kubernetes": map[string]any{"audit": audit},
	}
	if !g.ip {
		a["source"] = map[string]any{"ip": sortedSet(addrs)}
	}
	switch {
	case g.ua && f.hasUA:
		a["user_agent"] = map[string]any{"original": f.ua}
	case !g.ua && len(sortedSet(agents)) > 0:
		a["user_agent"] = map[string]any{"original": sortedSet(agents)}
	}
	return normalize(a)
}

// normalize gives a value the types encoding/json decodes to (float64
// numbers, []any lists), so that it compares with a decoded engine alert.
func normalize(a map[string]any) map[string]any {
	b, err := json.Marshal(a)
	if err != nil {
		panic(fmt.Sprintf("model: %v", err))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("model: %v", err))
	}
	return out
}
