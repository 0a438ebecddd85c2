package detect

import (
	"container/heap"
	"errors"
	"fmt"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// StateVersion is the version of Snapshot; a snapshot of another version
// is not restored.
const StateVersion = 1

// Snapshot is the engine's state in a form that survives a restart: the
// watermark, the evaluation schedule, and each fingerprint's records and
// mute. It holds names, namespaces and metadata only, like the alerts.
type Snapshot struct {
	Version     int    `json:"version"`
	Rule        string `json:"rule"`
	Mode        string `json:"mode"`
	Window      int64  `json:"window_ns"`
	Watermark   int64  `json:"watermark"`
	NextEval    int64  `json:"next_eval"`
	LastEval    int64  `json:"last_eval"`
	NewestMatch int64  `json:"newest_match"`
	// EvictedNewest is the newest record time of any fingerprint evicted
	// under max_fingerprints (0: none): a restored engine flags every new
	// fingerprint's alerts over windows that start at or before it.
	EvictedNewest int64 `json:"evicted_newest,omitempty"`
	// GroupBy is group_by when it is not the rule's grouping: fingerprints
	// of another grouping cannot be taken over.
	GroupBy      string                `json:"group_by,omitempty"`
	Fingerprints []FingerprintSnapshot `json:"fingerprints"`
}

// FingerprintSnapshot is one group's state.
type FingerprintSnapshot struct {
	User        string           `json:"user"`
	SourceIP    string           `json:"source_ip"`
	UserAgent   string           `json:"user_agent,omitempty"`
	NoUserAgent bool             `json:"no_user_agent,omitempty"`
	Muted       bool             `json:"muted,omitempty"`
	Until       int64            `json:"until,omitempty"`
	TruncatedAt int64            `json:"truncated_at"`
	Names       []NameSnapshot   `json:"names"`
	Records     []RecordSnapshot `json:"records"`
	// Checks are the deferred threshold checks (reorder_delay) still due.
	Checks []int64 `json:"checks,omitempty"`
}

// NameSnapshot is one distinct value; Reported marks it as listed in an
// alert of the current mute period.
type NameSnapshot struct {
	Name     string `json:"name"`
	Reported bool   `json:"reported,omitempty"`
}

// RecordSnapshot is one matching event; Name indexes Names.
type RecordSnapshot struct {
	Time             int64  `json:"t"`
	Name             int    `json:"n"`
	Namespace        string `json:"ns,omitempty"`
	Decision         string `json:"d,omitempty"`
	ImpersonatedUser string `json:"imp,omitempty"`
	SourceIPs        string `json:"ips,omitempty"`
	AuditID          string `json:"id,omitempty"`
	// The source address and user agent, when group_by leaves them out.
	Source    string `json:"src,omitempty"`
	UserAgent string `json:"ua,omitempty"`
}

// Snapshot captures the engine's state.
func (e *Engine) Snapshot() *Snapshot {
	s := &Snapshot{
		Version: StateVersion, Rule: e.rule.ID, Mode: e.set.Mode.String(), GroupBy: strings.Join(e.groupNames, ","),
		Window:    e.window,
		Watermark: e.wm, NextEval: e.nextEval, LastEval: e.lastEval, NewestMatch: e.newestMatch,
	}
	if e.evicted != nil {
		for _, t := range e.evicted {
			s.EvictedNewest = max(s.EvictedNewest, t)
		}
	}
	checks := map[*fingerprint][]int64{}
	for _, c := range e.checks {
		checks[c.f] = append(checks[c.f], c.t)
	}
	// Least recently active first, so that a restore rebuilds the same
	// recency order.
	for f := e.lru; f != nil; f = f.prev {
		fs := FingerprintSnapshot{User: f.user, SourceIP: f.ip, UserAgent: f.ua, NoUserAgent: f.uaMissing,
			Muted: f.muted, Until: f.until, TruncatedAt: f.truncatedAt}
		index := map[int32]int{}
		for i := range f.slots {
			sl := &f.slots[i]
			if sl.name == 0 {
				continue
			}
			index[int32(i)] = len(fs.Names)
			fs.Names = append(fs.Names, NameSnapshot{Name: e.pool.str(sl.name), Reported: sl.reported})
		}
		for i := range f.live() {
			r := &f.live()[i]
			a := splitAttrs(e.pool.str(r.attrs))
			fs.Records = append(fs.Records, RecordSnapshot{Time: r.t, Name: index[r.slot],
				Namespace: a.Namespace, Decision: a.Decision, ImpersonatedUser: a.ImpersonatedUser,
				SourceIPs: a.SourceIPs, AuditID: auditIDOf(r, a), Source: a.Source, UserAgent: a.UserAgent})
		}
		fs.Checks = checks[f]
		s.Fingerprints = append(s.Fingerprints, fs)
	}
	return s
}

// Restore loads a snapshot into a new engine (one that has seen no event).
// A snapshot of another version, rule or mode is refused.
func (e *Engine) Restore(s *Snapshot) error {
	switch {
	case s == nil:
		return errors.New("no state")
	case s.Version != StateVersion:
		return fmt.Errorf("state version %d, this build reads version %d", s.Version, StateVersion)
	case s.Rule != e.rule.ID:
		return fmt.Errorf("state of rule %s, not %s", s.Rule, e.rule.ID)
	case s.Mode != e.set.Mode.String():
		return fmt.Errorf("state of mode %s, the configuration says %s", s.Mode, e.set.Mode)
	case s.GroupBy != strings.Join(e.groupNames, ","):
		return fmt.Errorf("state of group_by %s, the configuration says %s", groupByText(s.GroupBy, e.rule),
			groupByText(strings.Join(e.groupNames, ","), e.rule))
	case e.wm != noTime || len(e.fps) > 0:
		return errors.New("the engine has already seen events")
	}
	// Everything is checked before anything is applied: a refused
	// snapshot leaves the engine as new.
	if err := s.check(e); err != nil {
		return err
	}
	e.wm, e.nextEval, e.lastEval, e.newestMatch = s.Watermark, s.NextEval, s.LastEval, s.NewestMatch
	if s.EvictedNewest > 0 {
		// Which keys were evicted is not kept: every bucket gets the time.
		for i := 0; i < evictedBuckets; i++ {
			e.noteEvicted(i, s.EvictedNewest)
		}
	}
	if e.set.Mode == ModeSchedule && s.Window != e.window && e.nextEval != noTime {
		// A changed window changes which records are needed; the schedule
		// itself stays valid.
		e.lastEval = noTime
	}
	for i := range s.Fingerprints {
		fs := &s.Fingerprints[i]
		ev := audit.Event{User: fs.User, UserAgent: fs.UserAgent}
		addr, _ := rule.ParseSourceIP(fs.SourceIP)
		f := e.lookup(&ev, addr)
		f.truncatedAt = fs.TruncatedAt
		slots := make([]int32, len(fs.Names))
		for j, n := range fs.Names {
			slots[j] = f.addSlot(e.pool.ref(n.Name))
			f.slots[slots[j]].reported = n.Reported
		}
		for _, r := range fs.Records {
			a := recordAttrs{Namespace: r.Namespace, Decision: r.Decision, ImpersonatedUser: r.ImpersonatedUser,
				SourceIPs: r.SourceIPs, Source: r.Source, UserAgent: r.UserAgent}
			nr := rec{t: r.Time, slot: slots[r.Name]}
			if u, ok := parseAuditUUID(r.AuditID); ok {
				nr.audit = u
			} else {
				a.AuditID = r.AuditID
			}
			if a != (recordAttrs{}) {
				nr.attrs = e.pool.ref(a.key())
			}
			f.insert(nr, e.window)
		}
		for _, t := range fs.Checks {
			heap.Push(&e.checks, check{t: t, f: f})
		}
		if fs.Muted && e.set.Mode == ModeStream {
			f.muted, f.until = true, fs.Until
			heap.Push(&e.mutes, f)
		}
		// Values kept only for a mute period that has ended go now.
		if !f.muted {
			f.unmute(e.pool)
		}
	}
	return nil
}

// check validates a snapshot against the engine's settings.
func (s *Snapshot) check(e *Engine) error {
	inRange := func(t int64) bool { return t == noTime || (t >= audit.MinTime && t <= audit.MaxTime) }
	if !inRange(s.Watermark) || !inRange(s.NextEval) || !inRange(s.LastEval) || !inRange(s.NewestMatch) ||
		(s.EvictedNewest != 0 && !inRange(s.EvictedNewest)) {
		return errors.New("times out of range")
	}
	for i := range s.Fingerprints {
		fs := &s.Fingerprints[i]
		if _, ok := rule.ParseSourceIP(fs.SourceIP); !ok && fs.SourceIP != "" {
			return fmt.Errorf("fingerprint %d: bad source IP %q", i, fs.SourceIP)
		}
		if len(fs.Names) > e.set.MaxNamesPerFingerprint {
			return fmt.Errorf("fingerprint %d: more names than max_names_per_fingerprint", i)
		}
		for _, r := range fs.Records {
			if r.Name < 0 || r.Name >= len(fs.Names) {
				return fmt.Errorf("fingerprint %d: record names value %d of %d", i, r.Name, len(fs.Names))
			}
			if !inRange(r.Time) {
				return fmt.Errorf("fingerprint %d: record time out of range", i)
			}
			if _, ok := rule.ParseSourceIP(r.Source); !ok && r.Source != "" {
				return fmt.Errorf("fingerprint %d: bad source IP %q", i, r.Source)
			}
		}
		for _, t := range fs.Checks {
			if !inRange(t) {
				return fmt.Errorf("fingerprint %d: check time out of range", i)
			}
		}
		if fs.Muted && !inRange(fs.Until) {
			return fmt.Errorf("fingerprint %d: mute end out of range", i)
		}
	}
	return nil
}

// groupByText names a snapshot's grouping, "" being the rule's.
func groupByText(g string, r *rule.Rule) string {
	if g != "" {
		return g
	}
	names := make([]string, len(r.GroupBy))
	for i, f := range r.GroupBy {
		names[i] = f.GroupName()
	}
	return strings.Join(names, ",")
}
