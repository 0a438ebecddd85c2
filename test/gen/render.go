package gen

// render writes one audit event for stage st of q into g.buf.
func (g *Generator) render(q *request, st stage) []byte {
	b := g.buf[:0]
	b = append(b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"`...)
	b = append(b, levelNames[q.level]...)
	b = append(b, `","auditID":"`...)
	b = append(b, q.auditID[:]...)
	b = append(b, `","stage":"`...)
	b = append(b, stageNames[st]...)
	b = append(b, `","requestURI":`...)
	b = appendStr(b, q.uri)
	b = append(b, `,"verb":"`...)
	b = append(b, q.verb...)
	b = append(b, `","user":`...)
	b = append(b, q.a.userJSON...)
	if q.imp != nil {
		b = append(b, `,"impersonatedUser":`...)
		b = append(b, q.imp.userJSON...)
	}
	b = append(b, `,"sourceIPs":`...)
	b = append(b, q.a.ipsJSON...)
	if q.a.ua != "" {
		b = append(b, `,"userAgent":`...)
		b = appendStr(b, q.a.ua)
	}
	if q.res != nil {
		b = g.appendObjectRef(b, q, st)
	}
	if st != stageRequestReceived {
		b = g.appendResponseStatus(b, q, st)
	}
	g.lastHadObject = false
	if st == stageResponseComplete && q.res != nil {
		// Both objects start from the same seed so the fields they share
		// (uid, creationTimestamp, spec) agree.
		if q.level >= levelRequest && q.body != bodyNone && !q.forbid {
			o := newRNG(q.objSeed)
			b = append(b, `,"requestObject":`...)
			b = g.appendRequestObject(b, q, &o)
			g.lastHadObject = true
		}
		if q.level == levelRequestResponse && !q.lr {
			o := newRNG(q.objSeed)
			b = append(b, `,"responseObject":`...)
			b = g.appendResponseObject(b, q, &o)
			g.lastHadObject = true
		}
	}
	b = append(b, `,"requestReceivedTimestamp":`...)
	b = appendMicro(b, q.recv)
	b = append(b, `,"stageTimestamp":`...)
	b = appendMicro(b, q.stageTime(st))
	if st != stageRequestReceived {
		b = g.appendAnnotations(b, q, st)
	}
	b = append(b, '}')
	g.buf = b
	return b
}

func (g *Generator) appendObjectRef(b []byte, q *request, st stage) []byte {
	decoded := st == stageResponseComplete && !q.forbid // request body decoded
	b = append(b, `,"objectRef":{"resource":"`...)
	b = append(b, q.res.name...)
	b = append(b, '"')
	if q.ns != "" {
		b = append(b, `,"namespace":`...)
		b = appendStr(b, q.ns)
	}
	if q.name != "" && (!q.nameOnRC || decoded) {
		b = append(b, `,"name":`...)
		b = appendStr(b, q.name)
	}
	if q.refUID != "" && decoded {
		b = append(b, `,"uid":"`...)
		b = append(b, q.refUID...)
		b = append(b, '"')
	}
	if q.res.group != "" {
		b = append(b, `,"apiGroup":"`...)
		b = append(b, q.res.group...)
		b = append(b, '"')
	}
	b = append(b, `,"apiVersion":"`...)
	b = append(b, q.res.version...)
	b = append(b, '"')
	if q.refRV != 0 && decoded {
		b = append(b, `,"resourceVersion":"`...)
		b = appendInt(b, q.refRV)
		b = append(b, '"')
	}
	if q.sub != "" {
		b = append(b, `,"subresource":"`...)
		b = append(b, q.sub...)
		b = append(b, '"')
	}
	return append(b, '}')
}

func (g *Generator) appendResponseStatus(b []byte, q *request, st stage) []byte {
	b = append(b, `,"responseStatus":`...)
	return g.appendStatus(b, q, false)
}

// appendStatus writes a metav1.Status: the audit responseStatus form, or the
// full object form (kind/apiVersion) used as a responseObject.
func (g *Generator) appendStatus(b []byte, q *request, object bool) []byte {
	b = append(b, '{')
	if object {
		b = append(b, `"kind":"Status","apiVersion":"v1",`...)
	}
	b = append(b, `"metadata":{}`...)
	switch q.errKind {
	case errNone:
		if q.verb == "delete" || (object && q.code == 201) {
			b = append(b, `,"status":"Success"`...)
		}
	default:
		b = append(b, `,"status":"Failure","message":`...)
		b = appendStr(b, g.errMessage(q))
		b = append(b, `,"reason":"`...)
		switch q.errKind {
		case errForbidden:
			b = append(b, "Forbidden"...)
		case errNotFound:
			b = append(b, "NotFound"...)
		case errConflict:
			b = append(b, "Conflict"...)
		case errTooManyRequests:
			b = append(b, "TooManyRequests"...)
		}
		b = append(b, `","details":{`...)
		if q.name != "" {
			b = append(b, `"name":`...)
			b = appendStr(b, q.name)
			b = append(b, ',')
		}
		if q.res != nil && q.res.group != "" {
			b = append(b, `"group":"`...)
			b = append(b, q.res.group...)
			b = append(b, `",`...)
		}
		b = append(b, `"kind":"`...)
		if q.res != nil {
			b = append(b, q.res.name...)
		}
		b = append(b, `"}`...)
	}
	b = append(b, `,"code":`...)
	b = appendInt(b, int64(q.code))
	return append(b, '}')
}

func (g *Generator) errMessage(q *request) string {
	res := ""
	group := ""
	if q.res != nil {
		res, group = q.res.name, q.res.group
	}
	qualified := res
	if group != "" {
		qualified = res + "." + group
	}
	switch q.errKind {
	case errNotFound:
		return qualified + ` "` + q.name + `" not found`
	case errConflict:
		return `Operation cannot be fulfilled on ` + qualified + ` "` + q.name + `": the object has been modified; please apply your changes to the latest version and try again`
	case errTooManyRequests:
		return "Too many requests, please try again later."
	}
	user := q.a.user
	if q.imp != nil {
		user = q.imp.user
	}
	if q.res == nil {
		return `forbidden: User "` + user + `" cannot ` + q.verb + ` path "` + q.uri + `"`
	}
	m := qualified
	if q.name != "" {
		m += ` "` + q.name + `"`
	}
	full := res
	if q.sub != "" {
		full += "/" + q.sub
	}
	m += ` is forbidden: User "` + user + `" cannot ` + q.verb + ` resource "` + full + `" in API group "` + group + `"`
	if q.ns != "" {
		return m + ` in the namespace "` + q.ns + `"`
	}
	return m + " at the cluster scope"
}

func (g *Generator) appendAnnotations(b []byte, q *request, st stage) []byte {
	b = append(b, `,"annotations":{`...)
	if st == stageResponseComplete && !q.lr {
		if total := q.done - q.recv; total > 500_000 {
			b = append(b, `"apiserver.latency.k8s.io/etcd":"`...)
			b = appendDurationMS(b, total*8/10)
			b = append(b, `","apiserver.latency.k8s.io/total":"`...)
			b = appendDurationMS(b, total)
			b = append(b, `",`...)
		}
	}
	if q.a.legacy {
		b = append(b, `"authentication.k8s.io/legacy-token":`...)
		b = appendStr(b, q.a.user)
		b = append(b, ',')
	}
	if q.forbid {
		b = append(b, `"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""`...)
	} else {
		reason := q.a.reason
		if q.imp != nil {
			reason = q.imp.reason
		}
		if q.hasReason {
			reason = q.reasonOverride
		}
		b = append(b, `"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":`...)
		b = appendStr(b, reason)
	}
	if st == stageResponseComplete && q.podSec != "" && !q.forbid {
		b = append(b, `,"pod-security.kubernetes.io/enforce-policy":"`...)
		b = append(b, q.podSec...)
		b = append(b, '"')
	}
	return append(b, '}')
}
