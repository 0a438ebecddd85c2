package model

import (
	"fmt"
	"math/rand"
	"time"
)

// TrafficParams shape the traffic of Generate. Zero values select defaults.
type TrafficParams struct {
	// Start is the earliest event time; default 2025-11-24T16:00:00Z.
	Start time.Time
	// Span is the event time covered; default one hour.
	Span time.Duration
	// Density scales the number of clients and requests; default 1
	// (about 15,000 lines and 2,000 fingerprints an hour).
	Density float64
	// Window and Suppress place the harvests' reads around the ends of
	// mute periods and past the window (defaults 6m and 5m).
	Window, Suppress time.Duration
	// Heavy makes operators re-read their secrets every 20 to 60 s: more
	// repeated reads than the engine keeps per fingerprint (for the tests
	// of its caps).
	Heavy bool
	// Clean leaves out what a Fluent Bit body cannot carry or what the
	// plugin reads differently from replay: lines that are not JSON
	// objects, and events without a usable time (the plugin gives those
	// the record's time).
	Clean bool
}

// req is one API request; each stage logged is one audit event.
type req struct {
	t, latency      int64
	verb, resource  string
	name, namespace string
	user            string
	ips             []string
	ua              string // "" for none
	imp, decision   string
	twoStages       bool
	seconds         bool // a clock with second precision: more identical times
}

type gen struct {
	r     *rand.Rand
	p     TrafficParams
	start int64
	span  int64
	reqs  []req
	ids   int
}

// Generate returns time-ordered audit log lines (JSON lines of the log
// backend, some of them EventLists as the webhook posts) with realistic
// secret reads and noise; the same seed and params give the same lines.
// Values are kept well under the engine's 1 KiB cut, and valid UTF-8.
func Generate(seed int64, p TrafficParams) [][]byte {
	if p.Start.IsZero() {
		p.Start = time.Date(2025, 11, 24, 16, 0, 0, 0, time.UTC)
	}
	if p.Span <= 0 {
		p.Span = time.Hour
	}
	if p.Density <= 0 {
		p.Density = 1
	}
	if p.Window <= 0 {
		p.Window = 6 * time.Minute
	}
	if p.Suppress <= 0 {
		p.Suppress = 5 * time.Minute
	}
	g := &gen{r: rand.New(rand.NewSource(seed)), p: p, start: p.Start.UnixNano(), span: int64(p.Span)}
	hours := p.Span.Hours() * p.Density
	g.kubelets(int(20 + 40*min(hours, 1)))
	g.workloads(int(1500 * hours))
	g.operators(3 + int(3*min(hours, 1)))
	g.humans(int(60 * hours))
	g.harvests(2 + int(4*min(hours, 2)))
	g.rotators(2 + int(4*min(hours, 2)))
	g.noise(int(5000 * hours))
	return g.render()
}

func (g *gen) at() int64 { return g.start + g.r.Int63n(g.span) }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

var (
	namespaces = []string{"default", "payments", "data", "web", "monitoring", "cert-manager", "kube-system",
		"ingress-nginx", "ci", "argocd", "team-a", "team-b"}
	secretNames = []string{"db-password", "api-token", "registry-creds", "tls-cert", "app-secret-0",
		"app-secret-1", "app-secret-2", "app-secret-7", "webhook-signing-key", "s3-credentials",
		"default-token-x7k2p", "builder-token-q9z4m", "grafana-admin", "redis-auth", "smtp-relay",
		"oauth-client", "ingress-tls", "etcd-client-cert", "secret-1", "secret-8", "secret-25", "secret-28",
		"my.dockerconfigjson", "ab", "q?", "literal*star", `back\slash-1`, "sécret-5", "ключ", "a<b>&c",
		"sh.helm.release.v1.web.v3", "sh.helm.release.v1.db.v12"}
	userAgents = []string{"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819", "Go-http-client/2.0",
		"python-requests/2.31.0", "curl/8.5.0", "argocd-application-controller/v2.10.1", "Helm/3.14.2",
		"cert-manager-controller/v1.14.4", "external-secrets/v0.9.13", "\"quoted\" agent <x>"}
)

func (g *gen) name() string {
	if g.chance(0.3) {
		return fmt.Sprintf("%s-%d", pick(g.r, []string{"cfg", "token", "cred", "key"}), g.r.Intn(400))
	}
	return pick(g.r, secretNames)
}

func (g *gen) get(t int64, user string, ips []string, ua, name, ns string) req {
	rq := req{t: t, latency: int64(g.r.Intn(40_000_000)), verb: "get", resource: "secrets", name: name,
		namespace: ns, user: user, ips: ips, ua: ua, decision: "allow", twoStages: g.chance(0.5)}
	if g.chance(0.08) {
		rq.decision = "forbid"
	}
	return rq
}

// kubelets read the secrets of the pods they start, several at once, and
// re-read them now and then.
func (g *gen) kubelets(n int) {
	for i := 0; i < n; i++ {
		user := fmt.Sprintf("system:node:node-%d", i)
		ip := fmt.Sprintf("10.0.0.%d", 2+i)
		if i%7 == 3 {
			ip = "::ffff:" + ip // the same address, spelled IPv4-mapped
		}
		ua := "kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819"
		seconds := i%5 == 0
		var held [][2]string
		for s := 0; s < 1+g.r.Intn(6); s++ {
			t := g.at()
			for k := 0; k < 1+g.r.Intn(7); k++ {
				nm := [2]string{g.name(), pick(g.r, namespaces)}
				held = append(held, nm)
				rq := g.get(t+int64(k)*int64(g.r.Intn(300))*int64(time.Millisecond), user, []string{ip}, ua, nm[0], nm[1])
				rq.seconds = seconds
				g.reqs = append(g.reqs, rq)
			}
		}
		for k := 0; k < g.r.Intn(40); k++ {
			nm := pick(g.r, held)
			rq := g.get(g.at(), user, []string{ip}, ua, nm[0], nm[1])
			rq.seconds = seconds
			g.reqs = append(g.reqs, rq)
		}
	}
}

// workloads are short-lived pods: a new address each, one or two secrets.
func (g *gen) workloads(n int) {
	for i := 0; i < n; i++ {
		ns := pick(g.r, namespaces)
		user := fmt.Sprintf("system:serviceaccount:%s:sa-%d", ns, g.r.Intn(30))
		ip := fmt.Sprintf("10.244.%d.%d", g.r.Intn(8), 1+g.r.Intn(250))
		ua := pick(g.r, userAgents)
		if g.chance(0.1) {
			ua = ""
		}
		life := g.r.Int63n(int64(20 * time.Minute))
		t0 := g.at()
		names := []string{g.name()}
		if g.chance(0.4) {
			names = append(names, g.name())
		}
		for k := 0; k < 1+g.r.Intn(4); k++ {
			g.reqs = append(g.reqs, g.get(t0+g.r.Int63n(life+1), user, []string{ip}, ua, pick(g.r, names), ns))
		}
	}
}

// operators sweep over many secrets in every namespace, again and again:
// the same names across namespaces, names that leave the window and return.
func (g *gen) operators(n int) {
	for i := 0; i < n; i++ {
		user := pick(g.r, []string{"system:serviceaccount:argocd:argocd-application-controller",
			"system:serviceaccount:cert-manager:cert-manager", "system:serviceaccount:external-secrets:es"})
		ip := fmt.Sprintf("10.244.%d.%d", 9+i, 10+i)
		if i%2 == 1 {
			ip = fmt.Sprintf("2001:db8:0:1::%x", 0x10+i)
		}
		ua := pick(g.r, userAgents)
		var names [][2]string
		for k := 0; k < 5+g.r.Intn(30); k++ {
			names = append(names, [2]string{g.name(), pick(g.r, namespaces)})
		}
		// Every 8 minutes or more: more often, a 30-minute window would
		// hold more repeated reads than the engine keeps (see Clean).
		period := int64(8*time.Minute) + g.r.Int63n(int64(12*time.Minute))
		if g.p.Heavy {
			period = int64(20*time.Second) + g.r.Int63n(int64(40*time.Second))
		}
		for t := g.start + g.r.Int63n(period); t < g.start+g.span; t += period {
			at := t
			for _, nm := range names {
				if g.chance(0.7) {
					at += g.r.Int63n(int64(2 * time.Second))
					g.reqs = append(g.reqs, g.get(at, user, []string{ip}, ua, nm[0], nm[1]))
				}
			}
		}
	}
}

// humans read a few secrets, sometimes impersonating, sometimes through a
// proxy that adds to sourceIPs.
func (g *gen) humans(n int) {
	users := []string{"admin@example.com", "alice", "bob", "carol@example.com", "mallory"}
	for i := 0; i < n; i++ {
		user := pick(g.r, users)
		ips := []string{fmt.Sprintf("192.0.2.%d", 1+g.r.Intn(200))}
		switch g.r.Intn(6) {
		case 0:
			ips = append([]string{"203.0.113.7"}, ips...)
		case 1:
			ips = append([]string{"::ffff:198.51.100.23", "unknown", "2001:db8::17"}, ips...)
		case 2:
			ips = []string{ips[0], "not-an-ip"}
		case 3:
			for k := 0; k < 18; k++ {
				ips = append([]string{fmt.Sprintf("198.51.100.%d", k)}, ips...)
			}
		}
		ua := pick(g.r, userAgents[:4])
		t := g.at()
		imp := ""
		if g.chance(0.2) {
			imp = pick(g.r, []string{"system:serviceaccount:ci:runner", "bob", "system:admin"})
		}
		for k := 0; k < 1+g.r.Intn(5); k++ {
			t += g.r.Int63n(int64(40 * time.Second))
			rq := g.get(t, user, ips, ua, g.name(), pick(g.r, namespaces))
			rq.imp = imp
			g.reqs = append(g.reqs, rq)
		}
	}
}

// harvests: a burst, reads at exactly each burst read's time plus suppress
// and twice suppress (where mute periods end), reads just around those, and
// the old names again once they have left the window.
func (g *gen) harvests(n int) {
	for i := 0; i < n; i++ {
		user := pick(g.r, []string{"system:serviceaccount:ci:runner", "mallory", "system:node:node-3",
			"system:serviceaccount:default:default"})
		ip := pick(g.r, []string{"2001:db8::17", "198.51.100.23", "10.244.3.17", "::ffff:10.0.0.7"})
		ips := []string{ip}
		if g.chance(0.3) {
			ips = []string{"203.0.113.50", ip}
		}
		ua := pick(g.r, []string{"curl/8.5.0", "", "python-requests/2.31.0"})
		t0 := g.at()
		var burst []int64
		var names [][2]string
		for k := 0; k < 2+g.r.Intn(12); k++ {
			if k == 0 || !g.chance(0.2) { // else the same instant as the previous read
				t0 += g.r.Int63n(int64(800 * time.Millisecond))
			}
			nm := [2]string{g.name(), pick(g.r, namespaces)}
			if g.chance(0.2) && len(names) > 0 {
				nm[1] = pick(g.r, namespaces) // the same name in another namespace
				nm[0] = names[len(names)-1][0]
			}
			names = append(names, nm)
			burst = append(burst, t0)
			g.reqs = append(g.reqs, g.get(t0, user, ips, ua, nm[0], nm[1]))
		}
		sup, win := int64(g.p.Suppress), int64(g.p.Window)
		for _, t := range burst {
			for _, at := range []int64{t + sup, t + 2*sup, t + sup + int64(time.Millisecond), t + sup - 1} {
				if g.chance(0.5) {
					nm := [2]string{g.name(), pick(g.r, namespaces)}
					if g.chance(0.5) {
						nm = pick(g.r, names)
					}
					g.reqs = append(g.reqs, g.get(at, user, ips, ua, nm[0], nm[1]))
				}
			}
		}
		back := burst[len(burst)-1] + win + g.r.Int63n(int64(time.Minute))
		for _, nm := range names {
			if g.chance(0.6) {
				back += g.r.Int63n(int64(3 * time.Second))
				g.reqs = append(g.reqs, g.get(back, user, ips, ua, nm[0], nm[1]))
			}
		}
	}
}

// rotators are harvests by clients that dodge the rule's fingerprint: a new
// User-Agent on every request (curl -A, a script), a new address on every
// request (one stolen token used from several pods or egress addresses), or
// both. Under the rule's grouping each value is a fingerprint of its own;
// group_by brings the reads together. Some go through a proxy that appends
// its own address, so that the source_ip mode decides which side rotates.
// Like harvests, they read again where mute periods end and once the first
// reads have left the window.
func (g *gen) rotators(n int) {
	agents := []string{"curl/8.5.0", "curl/7.88.1", "python-requests/2.31.0", "Go-http-client/1.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "kubectl/v1.28.4", ""}
	for i := 0; i < n; i++ {
		user := pick(g.r, []string{"system:serviceaccount:ci:runner", "mallory", "eve@example.com",
			"system:serviceaccount:default:default", "system:serviceaccount:payments:api"})
		rotateUA, rotateIP := true, true
		switch g.r.Intn(3) {
		case 0:
			rotateIP = false
		case 1:
			rotateUA = false
		}
		var pool []string
		for k := 0; k < 2+g.r.Intn(5); k++ {
			switch g.r.Intn(4) {
			case 0:
				pool = append(pool, fmt.Sprintf("2001:db8:0:2::%x", 1+g.r.Intn(200)))
			case 1:
				pool = append(pool, fmt.Sprintf("::ffff:10.244.5.%d", 1+g.r.Intn(250)))
			default:
				pool = append(pool, fmt.Sprintf("10.244.%d.%d", 4+g.r.Intn(3), 1+g.r.Intn(250)))
			}
		}
		proxy := ""
		if g.chance(0.3) {
			proxy = pick(g.r, []string{"198.51.100.7", "2001:db8::7", "192.0.2.254"})
		}
		fixedIP, fixedUA := pick(g.r, pool), pick(g.r, agents)
		address := func() []string {
			ip := fixedIP
			if rotateIP {
				ip = pick(g.r, pool)
			}
			if proxy != "" {
				return []string{ip, proxy}
			}
			return []string{ip}
		}
		agent := func() string {
			if !rotateUA {
				return fixedUA
			}
			if g.chance(0.3) {
				return fmt.Sprintf("harvest/%d.%d", g.r.Intn(1000), g.r.Intn(10)) // never seen again
			}
			return pick(g.r, agents)
		}
		read := func(at int64, nm [2]string) {
			g.reqs = append(g.reqs, g.get(at, user, address(), agent(), nm[0], nm[1]))
		}
		// Fast (a script) or slow (a few reads a minute, across the window).
		step := int64(2 * time.Second)
		if g.chance(0.3) {
			step = int64(g.p.Window) / 8
		}
		t := g.at()
		var names [][2]string
		var times []int64
		for k := 0; k < 2+g.r.Intn(12); k++ {
			if k > 0 && !g.chance(0.15) { // else the same instant as the previous read
				t += 1 + g.r.Int63n(step)
			}
			nm := [2]string{g.name(), pick(g.r, namespaces)}
			if g.chance(0.2) && len(names) > 0 {
				nm = pick(g.r, names) // again, from another address or user agent
			}
			names = append(names, nm)
			times = append(times, t)
			read(t, nm)
		}
		sup, win := int64(g.p.Suppress), int64(g.p.Window)
		for _, at := range times {
			for _, u := range []int64{at + sup, at + sup - 1, at + sup + int64(time.Millisecond)} {
				if g.chance(0.3) {
					nm := [2]string{g.name(), pick(g.r, namespaces)}
					if g.chance(0.5) {
						nm = pick(g.r, names)
					}
					read(u, nm)
				}
			}
		}
		back := times[len(times)-1] + win + g.r.Int63n(int64(time.Minute))
		for _, nm := range names {
			if g.chance(0.5) {
				back += g.r.Int63n(int64(3 * time.Second))
				read(back, nm)
			}
		}
	}
}
