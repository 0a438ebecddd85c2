package detect

import (
	"encoding/hex"
	"net/netip"
	"strings"

	"github.com/google/uuid"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// recordAttrs are the values of one matching event that an alert lists
// besides the counted one. The engine interns them as one string, so a
// record costs one reference whatever they hold.
type recordAttrs struct {
	Namespace        string
	Decision         string
	ImpersonatedUser string
	SourceIPs        string // every parsable sourceIPs entry, canonical, comma-joined; "" when the only one is the source
	AuditID          string // an auditID that is not a UUID (a client can set Audit-ID)
	// The values of the fields the rule groups by and group_by leaves out:
	// the source address, and the user agent ("" when missing).
	Source    string
	UserAgent string
}

const (
	attrSep    = "\x00"
	attrFields = 7
)

func (a recordAttrs) key() string {
	return strings.Join([]string{a.Namespace, a.Decision, a.ImpersonatedUser, a.SourceIPs, a.AuditID, a.Source,
		a.UserAgent}, attrSep)
}

func splitAttrs(s string) recordAttrs {
	if s == "" {
		return recordAttrs{}
	}
	f := strings.SplitN(s, attrSep, attrFields)
	for len(f) < attrFields {
		f = append(f, "")
	}
	return recordAttrs{Namespace: f[0], Decision: f[1], ImpersonatedUser: f[2], SourceIPs: f[3], AuditID: f[4],
		Source: f[5], UserAgent: f[6]}
}

// refAttrs interns an event's attributes, building the key in a scratch
// buffer so that a combination seen before costs no allocation. ip is the
// source address the rule chose.
func (e *Engine) refAttrs(ev *audit.Event, ip netip.Addr, auditID string) strID {
	b := e.attrBuf[:0]
	b = appendAttr(b, ev.Namespace)
	b = append(b, attrSep...)
	b = appendAttr(b, ev.Decision)
	b = append(b, attrSep...)
	b = appendAttr(b, ev.ImpersonatedUser)
	b = append(b, attrSep...)
	if ev.SourceIPCount > 1 {
		first := true
		for _, s := range ev.SourceIPs {
			a, ok := rule.ParseSourceIP(s)
			if !ok {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = a.AppendTo(b)
		}
	}
	b = append(b, attrSep...)
	b = appendAttr(b, auditID)
	b = append(b, attrSep...)
	if !e.groupIP {
		b = ip.AppendTo(b)
	}
	b = append(b, attrSep...)
	if !e.groupUA {
		b = appendAttr(b, ev.UserAgent)
	}
	e.attrBuf = b
	if len(b) == (attrFields-1)*len(attrSep) {
		return 0
	}
	return e.pool.refBytes(b)
}

// appendAttr appends one bounded value; a NUL byte (the separator) inside
// it is replaced.
func appendAttr(b []byte, v string) []byte {
	v = bounded(v)
	if strings.IndexByte(v, 0) >= 0 {
		v = strings.ReplaceAll(v, attrSep, "\uFFFD")
	}
	return append(b, v...)
}

// parseAuditUUID reads an auditID in the form of a canonical UUID into 16
// bytes, in either case (a client may set Audit-ID in capitals; printed back
// in lowercase, one request is listed once); any other form is kept as text.
func parseAuditUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 {
		return u, false
	}
	var digits [32]byte
	n := 0
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return u, false
			}
			continue
		}
		if unhex(c) < 0 {
			return u, false
		}
		digits[n] = c
		n++
	}
	hex.Decode(u[:], digits[:])
	return u, u != [16]byte{}
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// auditIDOf returns a record's auditID.
func auditIDOf(r *rec, attrs recordAttrs) string {
	if r.audit == ([16]byte{}) {
		return attrs.AuditID
	}
	return uuid.UUID(r.audit).String()
}
