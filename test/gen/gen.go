// Package gen generates realistic, deterministic Kubernetes API-server audit
// logs (audit.k8s.io/v1 Event JSON lines) for testing the secret-harvesting
// detector: background traffic from the API server itself, the
// controller-manager, the scheduler, kubelets, kube-system daemons,
// operators, workloads, CI and humans, plus planted secret-harvesting bursts
// (Truth) and benign bursts in which one client reads several secrets
// (Decoys: kubelet, Helm, Argo CD, Flux, Trivy, controller-manager, loopback
// admin).
//
// Every request is logged as RequestReceived + ResponseComplete with the same
// auditID; long-running requests (watch, pods/exec, pods/log) also log
// ResponseStarted. RequestReceived events carry no responseStatus, no
// objects and no annotations; request/response objects appear only on
// ResponseComplete at levels Request/RequestResponse, as the API server does.
//
// Determinism: the same Config always yields byte-identical output (checked
// on linux/amd64; the RNG is self-contained, but a few float computations go
// through math.Exp/Log, whose last bit may differ on other architectures).
// Nothing reads the wall clock.
//
// Notes for users:
//   - Truth and Decoys are fixed when New returns; they do not depend on how
//     much of the stream has been read, nor on Config.Disorder.
//   - Background fingerprints (user, sourceIPs, userAgent) GET at most two
//     distinct secrets over the whole stream unless Elastic's rule excludes
//     them (loopback, controller-manager, sh.helm.release.*), so a rule
//     applied to the whole stream flags exactly the bursts whose
//     ElasticV1/ElasticV2 is true.
//   - Open watches are closed by an API-server restart at the end of the
//     capture (Config.Events/Config.Rate after Start), so the last second
//     holds a burst of watch ResponseComplete events.
//   - Lines can be up to about 1 MB (RequestResponse objects); Fluent Bit's
//     tail input needs Buffer_Max_Size raised to read them.
//   - A Generator is not safe for concurrent use.
package gen

import (
	"bufio"
	"io"
	"math"
	"sort"
	"time"
)

// Config describes the log to generate. Zero values select defaults.
type Config struct {
	// Events is the exact number of audit events (lines) to write.
	// Default 10000.
	Events int
	// Seed selects the stream; everything is derived from it.
	Seed int64
	// Start is the event time (stageTimestamp) of the first event.
	// Default 2026-01-15T09:00:00Z.
	Start time.Time
	// Rate is the number of events per second of event time. Default 2000.
	Rate float64
	// SecretGetShare is the share of events that are `get` on `secrets`
	// (both stages, planted bursts included). Default 0.05; negative means
	// none in the background traffic.
	SecretGetShare float64
	// RequestResponseShare is the share of events logged at level
	// RequestResponse (their ResponseComplete stage carries requestObject
	// and/or responseObject, occasionally hundreds of KB). Default 0.05;
	// negative means none.
	RequestResponseShare float64
	// Harvests is the number of secret-harvesting bursts to plant.
	// Default 3; negative means none.
	Harvests int
	// Decoys is the number of benign multi-secret bursts to plant (kubelet,
	// Helm, Argo CD, Flux, Trivy, controller-manager, loopback admin).
	// Default 7 (one of each kind); negative means none.
	Decoys int
	// Marker, when set, is embedded verbatim in every Secret data/stringData
	// value and every other secret payload (service-account tokens in
	// TokenRequest responses) inside requestObject/responseObject, and
	// nowhere else. Use characters that need no JSON escaping, e.g.
	// "LEAKMARKER_7f3a".
	Marker string
	// Disorder is the maximum amount by which an event's time may precede
	// the time of an event written before it (several API servers whose
	// logs are merged with lag). 0 writes events in time order.
	Disorder time.Duration
}

// DefaultStart is the Start used when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// Harvest describes one planted burst of `get secrets` requests from a single
// client fingerprint (user name, source IPs, user agent).
type Harvest struct {
	// Kind is the scenario: for Truth() one of "sa-token-curl",
	// "stolen-token-python", "kubeconfig-kubectl", "proxied-go-client",
	// "no-user-agent-ipv6", "ipv4-mapped-python", "same-name-sweep"; for
	// Decoys() one of "kubelet", "helm", "argocd", "flux", "trivy",
	// "controller-manager", "loopback-admin".
	Kind string `json:"kind"`
	// User is user.username (the authenticated caller).
	User string `json:"user"`
	// SourceIPs is the sourceIPs array exactly as logged.
	SourceIPs []string `json:"sourceIPs"`
	// SourceIP is SourceIPs[0], the client.
	SourceIP string `json:"sourceIP"`
	// UserAgent is userAgent; "" means the field is absent from the events.
	UserAgent string `json:"userAgent"`
	// Names are the distinct objectRef.name values read, sorted.
	Names []string `json:"names"`
	// Namespaces are the distinct namespaces read, sorted.
	Namespaces []string `json:"namespaces"`
	// Secrets are the distinct "namespace/name" pairs read, sorted.
	Secrets []string `json:"secrets"`
	// First and Last are the earliest and latest stageTimestamp among the
	// burst's get-secret events.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Events is the number of get-secret audit events (lines) of the burst,
	// all stages; Requests the number of get requests (auditIDs).
	Events   int `json:"events"`
	Requests int `json:"requests"`
	// Allowed, Forbidden and NotFound count the requests by outcome
	// (NotFound requests are also Allowed by authorization).
	Allowed   int `json:"allowed"`
	Forbidden int `json:"forbidden"`
	NotFound  int `json:"notFound"`
	// OtherEvents counts audit events of other requests the same client made
	// just before the burst (reconnaissance: rules reviews, list secrets).
	OtherEvents int `json:"otherEvents"`
	// ElasticV1 and ElasticV2 tell whether Elastic's rule (version 1, the
	// published query; version 2 adds Flux/Trivy exclusions) would flag the
	// burst when one run's window covers all of it: at least 3 distinct
	// names after the rule's exclusions (loopback IPs, controller-manager and
	// scheduler users, sh.helm.release.* names) and a single-valued source IP.
	ElasticV1 bool `json:"elasticV1"`
	ElasticV2 bool `json:"elasticV2"`
}

// Stats summarizes what has been generated so far.
type Stats struct {
	Events          int            // lines written
	Bytes           int64          // bytes of JSON, without newlines
	MaxLine         int            // longest line
	ByClass         map[string]int // events per actor class (see ClassNames)
	SecretGets      int            // events with verb get on resource secrets
	RequestResponse int            // events at level RequestResponse
	WithObjects     int            // events carrying requestObject or responseObject
	ObjectLineBytes int64          // bytes of the lines carrying objects
	Watches         int            // events of long-running requests (watch, exec, log)
}

const (
	levelMetadata uint8 = iota
	levelRequest
	levelRequestResponse
)

var levelNames = [...]string{"Metadata", "Request", "RequestResponse"}

type stage uint8

const (
	stageRequestReceived stage = iota
	stageResponseStarted
	stageResponseComplete
)

var stageNames = [...]string{"RequestReceived", "ResponseStarted", "ResponseComplete"}

// request is one API request; its audit events (stages) are rendered from it.
type request struct {
	a        *actor
	imp      *actor // impersonated user
	verb     string
	uri      string
	res      *resource // nil for non-resource requests
	ns, name string
	sub      string
	nameOnRC bool // create: the name comes from the decoded body
	refUID   string
	refRV    int64
	sec      *secret
	level    uint8
	class    uint8
	lr       bool // long-running: has a ResponseStarted stage
	rrOnly   bool
	recv     int64 // requestReceivedTimestamp, unix micros
	rrAt     int64
	started  int64
	done     int64
	lag      int64
	code     int
	forbid   bool
	errKind  uint8
	body     uint8 // request body kind (see bodies.go)
	listN    int
	objSeed  uint64
	rvNow    int64  // the cluster's resourceVersion when the request arrived
	podSec   string // pod-security enforce-policy annotation
	auditID  [36]byte

	reasonOverride string // authorization reason, when hasReason
	hasReason      bool
}

const (
	errNone uint8 = iota
	errForbidden
	errNotFound
	errConflict
	errTooManyRequests
)

func (q *request) events() int {
	switch {
	case q.rrOnly:
		return 1
	case q.lr:
		return 3
	}
	return 2
}

type pending struct {
	key int64
	seq uint64
	req *request
	st  stage
}

// Generator produces the audit log one line at a time.
type Generator struct {
	cfg      Config
	seed     uint64
	r        rng
	c        *cluster
	startUS  int64
	endUS    int64
	disorder int64

	gapMean   float64 // microseconds between background requests
	nextBG    int64
	bgLeft    int
	pSG       float64
	qRR, qReq float64

	sched    []*request
	schedIdx int
	heap     []pending
	seq      uint64
	emitted  int

	truth  []Harvest
	decoys []Harvest

	general mix
	sgMix   mix

	blob64    []byte
	text      []byte
	marker    string
	markerEsc []byte

	rvCounter     int64
	lastHadObject bool
	tmp           []byte
	vals          []valueSpec

	buf   []byte
	stats Stats
	class [numClasses]int
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	if cfg.Events <= 0 {
		cfg.Events = 10000
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Rate <= 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		cfg.Rate = 2000
	}
	switch {
	case cfg.SecretGetShare == 0 || math.IsNaN(cfg.SecretGetShare):
		cfg.SecretGetShare = 0.05
	case cfg.SecretGetShare < 0:
		cfg.SecretGetShare = 0
	case cfg.SecretGetShare > 0.9:
		cfg.SecretGetShare = 0.9
	}
	switch {
	case cfg.RequestResponseShare == 0 || math.IsNaN(cfg.RequestResponseShare):
		cfg.RequestResponseShare = 0.05
	case cfg.RequestResponseShare < 0:
		cfg.RequestResponseShare = 0
	case cfg.RequestResponseShare > 1:
		cfg.RequestResponseShare = 1
	}
	switch {
	case cfg.Harvests == 0:
		cfg.Harvests = 3
	case cfg.Harvests < 0:
		cfg.Harvests = 0
	}
	switch {
	case cfg.Decoys == 0:
		cfg.Decoys = len(decoyKinds)
	case cfg.Decoys < 0:
		cfg.Decoys = 0
	}
	if cfg.Disorder < 0 {
		cfg.Disorder = 0
	}
	g := &Generator{cfg: cfg, seed: uint64(cfg.Seed), marker: cfg.Marker}
	if m := appendStr(nil, cfg.Marker); len(m) > 2 {
		g.markerEsc = m[1 : len(m)-1]
	}
	g.startUS = cfg.Start.UnixMicro()
	g.endUS = g.startUS + int64(float64(cfg.Events)/cfg.Rate*1e6)
	g.disorder = cfg.Disorder.Microseconds()
	g.r = newRNG(mix64(g.seed, 1))
	tr := newRNG(mix64(g.seed, 2))
	g.c = newCluster(&tr, g.startUS)
	g.initBlobs()
	g.rvCounter = int64(120_000_000 + g.r.intn(400_000_000))
	g.general = buildMix(generalTemplates)
	g.sgMix = buildMix(secretGetTemplates)
	g.plan()
	g.calibrate()
	g.nextBG = g.startUS
	g.buf = make([]byte, 0, 64<<10)
	g.stats.ByClass = map[string]int{}
	return g
}

// calibrate sets the background probabilities so that, with the planted
// bursts, the configured shares come out overall.
func (g *Generator) calibrate() {
	schedEvents, schedSG, schedRR := 0, 0, 0
	for _, q := range g.sched {
		n := q.events()
		schedEvents += n
		if q.verb == "get" && q.res == resSecrets && q.sub == "" {
			schedSG += n
		}
		if q.level == levelRequestResponse {
			schedRR += n
		}
	}
	g.bgLeft = g.cfg.Events - schedEvents
	b := float64(max(g.bgLeft, 1))
	s := (g.cfg.SecretGetShare*float64(g.cfg.Events) - float64(schedSG)) / b
	s = min(max(s, 0), 0.9)
	m := 2 + g.general.lrShare
	g.pSG = s * m / (2 - 2*s + s*m)
	avg := 2*g.pSG + m*(1-g.pSG)
	bgRate := g.cfg.Rate * b / float64(g.cfg.Events) // background events per second
	g.gapMean = 1e6 * avg / bgRate
	q := (g.cfg.RequestResponseShare*float64(g.cfg.Events) - float64(schedRR)) / b
	g.qRR = min(max(q, 0), 1)
	g.qReq = min(0.03, 1-g.qRR)
}

// Truth returns the planted secret-harvesting bursts. It is known as soon as
// the generator is created and does not change while generating.
func (g *Generator) Truth() []Harvest { return cloneHarvests(g.truth) }

// Decoys returns the planted benign bursts in which one client reads several
// secrets (see Config.Decoys); each carries ElasticV1/ElasticV2 so tests can
// tell which ones a faithful implementation of Elastic's rule flags.
func (g *Generator) Decoys() []Harvest { return cloneHarvests(g.decoys) }

func cloneHarvests(hs []Harvest) []Harvest {
	out := make([]Harvest, len(hs))
	for i, h := range hs {
		h.SourceIPs = append([]string(nil), h.SourceIPs...)
		h.Names = append([]string(nil), h.Names...)
		h.Namespaces = append([]string(nil), h.Namespaces...)
		h.Secrets = append([]string(nil), h.Secrets...)
		out[i] = h
	}
	return out
}

// Config returns the effective configuration (defaults filled in).
func (g *Generator) Config() Config { return g.cfg }

// Stats returns statistics about the events generated so far.
func (g *Generator) Stats() Stats {
	s := g.stats
	s.ByClass = map[string]int{}
	for i, n := range g.class {
		if n > 0 {
			s.ByClass[ClassNames[i]] = n
		}
	}
	return s
}

// Next returns the next audit event as one JSON line without a trailing
// newline, or false when Config.Events lines have been produced. The slice
// is reused: it is valid only until the next call.
func (g *Generator) Next() ([]byte, bool) {
	for {
		lb := int64(math.MaxInt64)
		if g.bgLeft > 0 {
			lb = g.nextBG
		}
		if g.schedIdx < len(g.sched) && g.sched[g.schedIdx].recv < lb {
			lb = g.sched[g.schedIdx].recv
		}
		if len(g.heap) > 0 && g.heap[0].key <= lb {
			p := g.pop()
			line := g.render(p.req, p.st)
			g.count(p.req, line)
			return line, true
		}
		if lb == math.MaxInt64 {
			return nil, false
		}
		if g.schedIdx < len(g.sched) && g.sched[g.schedIdx].recv == lb {
			q := g.sched[g.schedIdx]
			g.sched[g.schedIdx] = nil
			g.schedIdx++
			q.rvNow = g.rvCounter
			g.admit(q)
			continue
		}
		q := g.background(g.nextBG)
		g.bgLeft -= q.events()
		g.admit(q)
		g.nextBG += 1 + int64(g.r.expo(g.gapMean))
	}
}

// WriteTo writes the remaining events as JSON lines.
func (g *Generator) WriteTo(w io.Writer) (int64, error) {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 1<<20)
	}
	var n int64
	for {
		line, more := g.Next()
		if !more {
			break
		}
		k, err := bw.Write(line)
		n += int64(k)
		if err != nil {
			return n, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

func (g *Generator) count(q *request, line []byte) {
	g.emitted++
	s := &g.stats
	s.Events++
	s.Bytes += int64(len(line))
	if len(line) > s.MaxLine {
		s.MaxLine = len(line)
	}
	g.class[q.class]++
	if q.verb == "get" && q.res == resSecrets && q.sub == "" {
		s.SecretGets++
	}
	if q.level == levelRequestResponse {
		s.RequestResponse++
	}
	if q.lr {
		s.Watches++
	}
	if g.lastHadObject {
		s.WithObjects++
		s.ObjectLineBytes += int64(len(line))
	}
}

// admit assigns a request's stage times in write order and queues its events.
func (g *Generator) admit(q *request) {
	if g.disorder > 0 {
		// Three API servers; each flushes its log with its own, slowly
		// changing lag. All stages of a request come from one server.
		api := uint64(q.objSeed % 3)
		q.lag = int64(mix64(g.seed^api<<32, uint64(q.recv/1_000_000)) % uint64(g.disorder+1))
	}
	g.push(q.rrAt+q.lag, q, stageRequestReceived)
	if q.rrOnly {
		return
	}
	if q.lr {
		g.push(q.started+q.lag, q, stageResponseStarted)
	}
	g.push(q.done+q.lag, q, stageResponseComplete)
}

func (g *Generator) push(key int64, q *request, st stage) {
	g.seq++
	h := append(g.heap, pending{key: key, seq: g.seq, req: q, st: st})
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	g.heap = h
}

func (g *Generator) pop() pending {
	h := g.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = pending{}
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && less(h[r], h[l]) {
			m = r
		}
		if !less(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	g.heap = h
	return top
}

func less(a, b pending) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.seq < b.seq
}

// stageTime returns the stageTimestamp of a stage.
func (q *request) stageTime(st stage) int64 {
	switch st {
	case stageRequestReceived:
		return q.rrAt
	case stageResponseStarted:
		return q.started
	}
	return q.done
}

func sortedUnique(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
