package gen

import (
	"net/netip"
	"sort"
	"strings"
	"time"
)

var harvestKinds = []string{"sa-token-curl", "stolen-token-python", "kubeconfig-kubectl", "proxied-go-client", "no-user-agent-ipv6", "ipv4-mapped-python"}

// sweepKind reads one secret name in many namespaces; it is planted only
// when more harvests than harvestKinds are requested.
const sweepKind = "same-name-sweep"

var decoyKinds = []string{"kubelet", "helm", "argocd", "flux", "trivy", "controller-manager", "loopback-admin"}

// Names an attacker guesses (they may or may not exist).
var guessedNames = []string{
	"admin", "admin-credentials", "aws-credentials", "db-password", "database-credentials", "jwt-secret", "api-key",
	"api-keys", "root-credentials", "ssh-key", "github-token", "gitlab-token", "slack-token", "vault-token", "kubeconfig",
	"cluster-admin-token", "registry-credentials", "docker-registry", "postgres-password", "mysql-root-password",
	"redis-password", "s3-credentials", "gcp-sa-key", "azure-credentials", "backup-credentials", "smtp-password",
	"oauth-client-secret", "encryption-key", "master-key", "private-key", "id-rsa", "credentials", "prod-secrets",
	"app-secrets", "regcred", "mongodb-credentials", "stripe-secret", "datadog-api-key", "sentry-dsn", "npm-token",
	"terraform-state", "openai-api-key", "twilio-auth-token", "signing-key", "tls", "service-token", "env", "config",
}

// ElasticKeeps reports whether one `get secrets` audit event survives the
// WHERE clause of Elastic's rule (version 1 or 2): a single-valued source IP
// that is not loopback once printed (IPv4-mapped addresses print as IPv4),
// not the controller-manager or scheduler user, a name not matching
// "sh.helm.release.*", and for version 2 not the Flux or Trivy service
// accounts.
func ElasticKeeps(version int, user string, sourceIPs []string, name string) bool {
	if len(sourceIPs) != 1 || user == "" || name == "" {
		return false
	}
	ip, err := netip.ParseAddr(sourceIPs[0])
	if err != nil {
		return false
	}
	switch ip.Unmap().String() {
	case "127.0.0.1", "::1":
		return false
	}
	switch user {
	case "system:kube-controller-manager", "system:kube-scheduler":
		return false
	}
	if strings.HasPrefix(name, "sh.helm.release.") {
		return false
	}
	if version >= 2 {
		switch user {
		case "system:serviceaccount:flux-system:kustomize-controller", "system:serviceaccount:flux-system:helm-controller",
			"system:serviceaccount:flux-system:source-controller", "system:serviceaccount:security:trivy-operator":
			return false
		}
	}
	return true
}

type target struct {
	ns, name string
	sec      *secret
	outcome  uint8 // errNone, errForbidden, errNotFound
}

type burst struct {
	kind    string
	class   uint8
	a       *actor
	reason  string
	targets []target
	gapLo   float64 // microseconds between requests
	gapHi   float64
	recon   []func(q *request)
	levelRR float64
}

func (g *Generator) plan() {
	pr := newRNG(mix64(g.seed, 3))
	budget := g.cfg.Events * 3 / 10
	dur := g.endUS - g.startUS
	var all []*request

	kinds := append([]string(nil), harvestKinds...)
	shuffle(&pr, kinds)
	kinds = append(kinds, sweepKind)
	for i := 0; i < g.cfg.Harvests; i++ {
		kind := kinds[i%len(kinds)]
		b := g.harvestBurst(&pr, kind, budget)
		if b == nil {
			continue
		}
		at := g.startUS + int64(float64(dur)*(0.05+0.75*pr.float()))
		reqs, h := g.schedule(&pr, b, at)
		budget -= 2 * len(reqs)
		all = append(all, reqs...)
		g.truth = append(g.truth, h)
	}
	for i := 0; i < g.cfg.Decoys; i++ {
		kind := decoyKinds[i%len(decoyKinds)]
		b := g.decoyBurst(&pr, kind, budget)
		if b == nil {
			continue
		}
		at := g.startUS + int64(float64(dur)*(0.05+0.8*pr.float()))
		reqs, h := g.schedule(&pr, b, at)
		budget -= 2 * len(reqs)
		all = append(all, reqs...)
		g.decoys = append(g.decoys, h)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].recv < all[j].recv })
	g.sched = all
}

// harvestSize draws the number of distinct secrets a harvest reads.
func harvestSize(r *rng) int {
	switch u := r.float(); {
	case u < 0.4:
		return r.between(3, 8)
	case u < 0.75:
		return r.between(9, 20)
	}
	return r.between(21, 50)
}

func attackActor(base *actor, ips []string, ua string) *actor {
	a := *base
	a.ips = ips
	a.ua = ua
	a.finish()
	return &a
}

// harvestBurst builds the targets of one attack; nil if it does not fit.
func (g *Generator) harvestBurst(r *rng, kind string, budget int) *burst {
	c := g.c
	n := harvestSize(r)
	b := &burst{kind: kind, class: classHarvest, levelRR: max(g.cfg.RequestResponseShare, 0.3)}
	var own string                // namespace where the identity may read
	var allowAll bool             // cluster-wide read
	var allowOnly map[string]bool // resourceNames the identity may read
	switch kind {
	case "sa-token-curl":
		// A compromised pod: its own service-account token, curl inside it.
		var vs []*actor
		for _, w := range c.workloads {
			if len(w.secrets) > 0 {
				vs = append(vs, w)
			}
		}
		v := pick(r, vs)
		b.a = attackActor(v, v.ips, pick(r, []string{"curl/8.5.0", "curl/7.88.1", "curl/8.4.0"}))
		b.reason = v.reason
		own = v.ns
		allowOnly = map[string]bool{}
		for _, s := range v.secrets {
			allowOnly[s.ns+"/"+s.name] = true
		}
		b.gapLo, b.gapHi = 20e3, 400e3
		b.recon = []func(q *request){
			func(q *request) { q.set(b.a, "create", resSSRR, "", "", "", "") },
			func(q *request) { q.set(b.a, "list", resSecrets, own, "", "", ""); q.forbidden() },
		}
	case "stolen-token-python":
		// The Argo CD controller's token, exfiltrated and replayed from
		// another compromised pod.
		v := c.operators["argocd-app"]
		from := pick(r, c.workloads)
		b.a = attackActor(v, from.ips, "python-requests/2.31.0")
		b.reason = v.reason
		allowAll = true
		own = pick(r, []string{"payments", "orders", "data"})
		b.gapLo, b.gapHi = 50e3, 600e3
		b.recon = []func(q *request){
			func(q *request) { q.set(b.a, "list", resNamespaces, "", "", "", ""); q.listN = len(c.nss) },
		}
	case "kubeconfig-kubectl":
		// A developer's stolen kubeconfig used from outside.
		v := c.humans[1] // bob: edit in team-a only
		if r.chance(0.5) {
			v = c.humans[4] // erin: edit in payments only
		}
		b.a = attackActor(v, []string{pick(r, []string{"198.51.100.77", "198.51.100.201", "2001:db8:dead:beef::17"})}, "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819")
		b.reason = v.reason
		own = "team-a"
		if v == c.humans[4] {
			own = "payments"
		}
		b.gapLo, b.gapHi = 300e3, 3000e3
		b.recon = []func(q *request){
			func(q *request) { q.setNonResource(b.a, "get", "/api?timeout=32s") },
			func(q *request) {
				q.set(b.a, "list", resSecrets, own, "", "", "?limit=500")
				q.listN = len(c.ns(own).secrets)
			},
		}
	case "proxied-go-client":
		// The CI deployer token (cluster-admin) used from the internet through
		// the API load balancer that forwards X-Forwarded-For.
		v := c.helmCI
		b.a = attackActor(v, []string{pick(r, []string{"198.51.100.23", "198.51.100.150"}), "10.0.0.5"}, "Go-http-client/1.1")
		b.reason = v.reason
		allowAll = true
		own = "ci"
		b.gapLo, b.gapHi = 5e3, 120e3
	case "no-user-agent-ipv6":
		// A custom tool without a User-Agent, on an IPv6 pod address, with the
		// external-secrets token (reads every secret).
		v := c.operators["external-secrets"]
		from := pick(r, c.workloads)
		ip := "fd00:10:244:" + itoa(nodeIndex(c, from.node)) + "::" + r.hex(2)
		b.a = attackActor(v, []string{ip}, "")
		b.reason = v.reason
		allowAll = true
		own = "security"
		b.gapLo, b.gapHi = 10e3, 200e3
	case "ipv4-mapped-python":
		var v *actor
		for _, w := range c.workloads {
			if w.ns == "team-b" {
				v = w
			}
		}
		b.a = attackActor(v, []string{"::ffff:" + v.ips[0]}, "python-requests/2.31.0")
		b.reason = `RBAC: allowed by RoleBinding "team-b-app-secrets/team-b" of Role "secret-reader" to ServiceAccount "team-b-app/team-b"`
		own = "team-b"
		b.gapLo, b.gapHi = 100e3, 800e3
	case sweepKind:
		// `for ns in ...; do kubectl get secret regcred -n $ns; done`
		v := c.humans[3] // dave, SRE, reads secrets cluster-wide
		dbg := pick(r, c.workers)
		b.a = attackActor(v, []string{c.newPodIP(dbg)}, "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819")
		b.reason = v.reason
		allowAll = true
		b.gapLo, b.gapHi = 250e3, 1200e3
		for _, ns := range c.nss {
			if len(ns.pods) == 0 && ns.name != "default" {
				continue
			}
			t := target{ns: ns.name, name: "regcred", outcome: errNotFound}
			for _, s := range ns.secrets {
				if s.name == "regcred" {
					t.sec, t.outcome = s, errNone
				}
			}
			b.targets = append(b.targets, t)
		}
		b.targets = append(b.targets, target{ns: "team-a", name: "app-secrets", sec: c.findSecret("team-a", "app-secrets")},
			target{ns: "team-b", name: "app-secrets", sec: c.findSecret("team-b", "app-secrets")})
		return fitBurst(b, budget)
	}

	// Namespaces: the identity's own first, then others at random.
	var nss []*namespace
	if own != "" {
		nss = append(nss, c.ns(own))
	}
	others := make([]*namespace, 0, len(c.nss))
	for _, ns := range c.nss {
		if ns.name != own && ns.name != "kube-public" && ns.name != "kube-node-lease" {
			others = append(others, ns)
		}
	}
	shuffle(r, others)
	want := r.between(1, 4)
	seenName := map[string]bool{}
	for idx := 0; len(b.targets) < n; idx++ {
		if idx >= len(nss) {
			if len(others) == 0 {
				break
			}
			nss = append(nss, others[0])
			others = others[1:]
		}
		ns := nss[idx]
		quota := n - len(b.targets)
		if rem := want - idx; rem > 1 {
			quota = (quota + rem - 1) / rem
		}
		// Existing secrets (mostly not Helm records) and guesses, shuffled.
		var cands []target
		for _, s := range ns.secrets {
			if s.typ == stHelm && !r.chance(0.1) {
				continue
			}
			cands = append(cands, target{ns: ns.name, name: s.name, sec: s})
		}
		for _, gname := range guessedNames {
			if r.chance(0.15) {
				cands = append(cands, target{ns: ns.name, name: gname})
			}
		}
		shuffle(r, cands)
		took := 0
		for _, t := range cands {
			if took >= quota {
				break
			}
			dup := false
			for _, x := range b.targets {
				if x.ns == t.ns && x.name == t.name {
					dup = true
				}
			}
			if dup || (seenName[t.name] && !r.chance(0.2)) {
				continue
			}
			if t.sec == nil {
				for _, s := range ns.secrets {
					if s.name == t.name {
						t.sec = s
					}
				}
			}
			seenName[t.name] = true
			b.targets = append(b.targets, t)
			took++
		}
	}
	if allowOnly != nil {
		// The attacker starts with what the stolen token is known to read.
		has := false
		for _, t := range b.targets {
			has = has || allowOnly[t.ns+"/"+t.name]
		}
		if !has {
			ns, name, _ := strings.Cut(sortedKeys(allowOnly)[0], "/")
			b.targets = append([]target{{ns: ns, name: name, sec: c.findSecret(ns, name)}}, b.targets...)
		}
	}
	for i := range b.targets {
		t := &b.targets[i]
		allowed := allowAll || (allowOnly == nil && t.ns == own) || (allowOnly != nil && allowOnly[t.ns+"/"+t.name])
		switch {
		case !allowed:
			t.outcome = errForbidden
		case t.sec == nil:
			t.outcome = errNotFound
		default:
			t.outcome = errNone
		}
	}
	return fitBurst(b, budget)
}

// fitBurst trims a burst to the event budget (2 events per request); nil if
// not even three secrets fit.
func fitBurst(b *burst, budget int) *burst {
	maxReq := budget / 2
	if len(b.recon)+len(b.targets) > maxReq {
		b.recon = nil
		if len(b.targets) > maxReq {
			b.targets = b.targets[:max(maxReq, 0)]
		}
	}
	names := map[string]bool{}
	for _, t := range b.targets {
		names[t.ns+"/"+t.name] = true
	}
	if len(names) < 3 {
		return nil
	}
	return b
}

func (g *Generator) decoyBurst(r *rng, kind string, budget int) *burst {
	c := g.c
	b := &burst{kind: kind, class: classDecoy, levelRR: g.cfg.RequestResponseShare}
	add := func(ns, name string) {
		b.targets = append(b.targets, target{ns: ns, name: name, sec: c.findSecret(ns, name)})
	}
	switch kind {
	case "kubelet":
		// A kubelet (node authorizer, no RBAC reason) fetching the secrets of
		// the pods it (re)starts.
		n := pick(r, c.workers)
		b.a, b.reason = n.kubelet, ""
		b.gapLo, b.gapHi = 3e3, 80e3
		var cands []target
		for _, ns := range c.nss {
			if len(ns.pods) == 0 {
				continue
			}
			for _, s := range ns.secrets {
				if s.typ != stHelm && s.typ != stSAToken {
					cands = append(cands, target{ns: ns.name, name: s.name, sec: s})
				}
			}
		}
		shuffle(r, cands)
		want := r.between(3, 6)
		names := map[string]bool{}
		for _, t := range cands {
			if len(names) >= want {
				break
			}
			if !names[t.name] {
				names[t.name] = true
				b.targets = append(b.targets, t)
			}
		}
	case "helm":
		// `helm rollback` from a laptop: reads old release records.
		b.a = &actor{}
		*b.a = *c.humans[0]
		b.a.ua = "Helm/3.14.2"
		b.a.finish()
		b.reason = c.humans[0].reason
		b.gapLo, b.gapHi = 20e3, 300e3
		ns := pick(r, []string{"payments", "checkout", "frontend", "orders"})
		for _, s := range c.ns(ns).secrets {
			if s.typ == stHelm {
				add(ns, s.name)
			}
		}
	case "argocd":
		// The second argocd-server replica listing repositories and clusters
		// in the UI.
		b.a = c.operators["argocd-server-2"]
		b.reason = b.a.reason
		b.gapLo, b.gapHi = 1e3, 30e3
		for _, s := range c.ns("argocd").secrets {
			if strings.HasPrefix(s.name, "repo-") || strings.HasPrefix(s.name, "cluster-") || s.name == "argocd-repo-creds-github" {
				add("argocd", s.name)
			}
		}
	case "flux":
		b.a = c.operators["flux-kustomize"]
		b.reason = b.a.reason
		b.gapLo, b.gapHi = 2e3, 50e3
		for _, n := range []string{"sops-age", "prod-kubeconfig", "gitlab-token", "flux-system"} {
			add("flux-system", n)
		}
	case "trivy":
		// Trivy scanning images with each workload's imagePullSecrets.
		b.a = c.operators["trivy"]
		b.reason = b.a.reason
		b.gapLo, b.gapHi = 50e3, 2000e3
		for _, ns := range []string{"payments", "checkout", "frontend", "orders", "team-a", "team-b"} {
			add(ns, "regcred")
		}
		add("team-a", "ecr-pull-secret")
		add("ci", "docker-config")
		add("ci", "ghcr-pull")
	case "controller-manager":
		// Legacy token controller over the node address (user excluded by
		// the rule).
		b.a = &actor{}
		*b.a = *c.cmTokens
		b.a.ips = []string{c.cpNodes[0].ip}
		b.a.finish()
		b.reason = b.a.reason
		b.gapLo, b.gapHi = 1e3, 20e3
		for _, ns := range c.nss {
			for _, s := range ns.secrets {
				if s.typ == stSAToken || s.typ == stBootstrap {
					add(ns.name, s.name)
				}
			}
		}
	case "loopback-admin":
		// An admin on a control-plane node with the admin kubeconfig
		// (https://127.0.0.1:6443): excluded by source IP.
		b.a = &actor{}
		*b.a = *c.localAdm
		b.a.ips = []string{"127.0.0.1"}
		b.a.finish()
		b.gapLo, b.gapHi = 400e3, 2500e3
		for _, ns := range []string{"kube-system", "cert-manager", "monitoring", "security"} {
			var cands []*secret
			for _, s := range c.ns(ns).secrets {
				if s.typ != stHelm {
					cands = append(cands, s)
				}
			}
			s := pick(r, cands)
			add(ns, s.name)
		}
		add("security", "vault-root-token")
		add("monitoring", "grafana-admin-credentials")
		b.targets = dedupTargets(b.targets)
	}
	return fitBurst(b, budget)
}

func dedupTargets(ts []target) []target {
	seen := map[string]bool{}
	out := ts[:0]
	for _, t := range ts {
		k := t.ns + "/" + t.name
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out
}

// schedule turns a burst into timed requests starting at at, and records it.
func (g *Generator) schedule(r *rng, b *burst, at int64) ([]*request, Harvest) {
	mk := func(t int64) *request {
		q := &request{recv: t, class: b.class, code: 200, rvNow: g.rvCounter}
		r.appendUUID(q.auditID[:0])
		q.objSeed = r.next()
		switch {
		case r.chance(b.levelRR):
			q.level = levelRequestResponse
		case r.chance(0.03):
			q.level = levelRequest
		}
		return q
	}
	// Gaps, scaled so the whole burst takes at most ~110 s.
	nreq := len(b.recon) + len(b.targets)
	gaps := make([]float64, nreq)
	total := 0.0
	for i := range gaps {
		gaps[i] = r.logUniform(b.gapLo, b.gapHi)
		total += gaps[i]
	}
	scale := 1.0
	if total > 110e6 {
		scale = 110e6 / total
	}
	a := b.a
	t := at
	var reqs []*request
	h := Harvest{Kind: b.kind, User: a.user, SourceIPs: append([]string(nil), a.ips...), SourceIP: a.ips[0], UserAgent: a.ua}
	step := func(q *request, i int) {
		q.rrAt = q.recv + int64(r.between(2, 45))
		var lat float64
		switch {
		case q.forbid:
			lat = r.logUniform(150, 1500)
		case q.verb == "list":
			lat = r.logUniform(3000, 90000)
		default:
			lat = r.logUniform(400, 9000)
		}
		q.done = q.rrAt + int64(lat)
		t = q.done + int64(gaps[i]*scale)
		reqs = append(reqs, q)
	}
	i := 0
	for _, f := range b.recon {
		q := mk(t)
		f(q)
		step(q, i)
		h.OtherEvents += q.events()
		i++
	}
	var names, nss, secs []string
	first, last := int64(1<<62), int64(0)
	for k, tg := range b.targets {
		// Scripts retry now and then; attackers re-read a hit.
		for rep := 0; rep < 1+boolInt(b.class == classHarvest && k > 0 && r.chance(0.05)); rep++ {
			q := mk(t)
			q.set(a, "get", resSecrets, tg.ns, tg.name, "", "")
			q.sec = tg.sec
			switch tg.outcome {
			case errForbidden:
				q.forbidden()
				h.Forbidden++
			case errNotFound:
				q.notFound()
				h.NotFound++
				h.Allowed++
			default:
				h.Allowed++
			}
			step(q, i)
			h.Requests++
			h.Events += q.events()
			first = min(first, q.rrAt)
			last = max(last, q.done)
		}
		names = append(names, tg.name)
		nss = append(nss, tg.ns)
		secs = append(secs, tg.ns+"/"+tg.name)
		i++
	}
	for _, q := range reqs {
		if !q.forbid {
			q.reasonOverride = b.reason
			q.hasReason = true
		}
	}
	h.Names = sortedUnique(names)
	h.Namespaces = sortedUnique(nss)
	h.Secrets = sortedUnique(secs)
	h.First = time.UnixMicro(first).UTC()
	h.Last = time.UnixMicro(last).UTC()
	h.ElasticV1, h.ElasticV2 = elasticFlags(h.User, h.SourceIPs, h.Names)
	return reqs, h
}

func elasticFlags(user string, ips, names []string) (v1, v2 bool) {
	n1, n2 := 0, 0
	for _, n := range names {
		if ElasticKeeps(1, user, ips, n) {
			n1++
		}
		if ElasticKeeps(2, user, ips, n) {
			n2++
		}
	}
	return n1 >= 3, n2 >= 3
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}
