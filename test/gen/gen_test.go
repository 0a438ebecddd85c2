package gen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// event mirrors audit.k8s.io/v1 Event; decoding is strict so any field the
// real type does not have fails the test.
type event struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string              `json:"username"`
		UID      string              `json:"uid"`
		Groups   []string            `json:"groups"`
		Extra    map[string][]string `json:"extra"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"impersonatedUser"`
	SourceIPs []string `json:"sourceIPs"`
	UserAgent *string  `json:"userAgent"`
	ObjectRef *struct {
		Resource        string `json:"resource"`
		Namespace       string `json:"namespace"`
		Name            string `json:"name"`
		UID             string `json:"uid"`
		APIGroup        string `json:"apiGroup"`
		APIVersion      string `json:"apiVersion"`
		ResourceVersion string `json:"resourceVersion"`
		Subresource     string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Metadata map[string]any `json:"metadata"`
		Status   string         `json:"status"`
		Message  string         `json:"message"`
		Reason   string         `json:"reason"`
		Details  *struct {
			Name  string `json:"name"`
			Group string `json:"group"`
			Kind  string `json:"kind"`
		} `json:"details"`
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject            json.RawMessage   `json:"requestObject"`
	ResponseObject           json.RawMessage   `json:"responseObject"`
	RequestReceivedTimestamp string            `json:"requestReceivedTimestamp"`
	StageTimestamp           string            `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`

	line []byte
	at   time.Time
	recv time.Time
}

func (e *event) isSecretGet() bool {
	return e.Verb == "get" && e.ObjectRef != nil && e.ObjectRef.Resource == "secrets" && e.ObjectRef.Subresource == ""
}

// fingerprint is user + all source IPs + user agent (absent != "").
func (e *event) fingerprint() string {
	ua := "<none>"
	if e.UserAgent != nil {
		ua = *e.UserAgent
	}
	return e.User.Username + "|" + strings.Join(e.SourceIPs, ",") + "|" + ua
}

func harvestFingerprint(h Harvest) string {
	ua := "<none>"
	if h.UserAgent != "" {
		ua = h.UserAgent
	}
	return h.User + "|" + strings.Join(h.SourceIPs, ",") + "|" + ua
}

var (
	reMicro = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$`)
	reUUID  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func generate(t testing.TB, cfg Config) ([]*event, *Generator) {
	t.Helper()
	g := New(cfg)
	var evs []*event
	for {
		line, ok := g.Next()
		if !ok {
			break
		}
		e := &event{line: append([]byte(nil), line...)}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(e); err != nil {
			t.Fatalf("line %d: %v\n%.2000s", len(evs)+1, err, line)
		}
		var err error
		if e.at, err = time.Parse(time.RFC3339Nano, e.StageTimestamp); err != nil {
			t.Fatalf("line %d: stageTimestamp: %v", len(evs)+1, err)
		}
		if e.recv, err = time.Parse(time.RFC3339Nano, e.RequestReceivedTimestamp); err != nil {
			t.Fatalf("line %d: requestReceivedTimestamp: %v", len(evs)+1, err)
		}
		evs = append(evs, e)
	}
	return evs, g
}

// seeds returns how many seeds the heavier tests use: fewer with -short.
func seeds(n int64) int64 {
	if testing.Short() {
		return 1
	}
	return n
}

func generateBytes(cfg Config) []byte {
	var buf bytes.Buffer
	if _, err := New(cfg).WriteTo(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Events: 20000, Seed: 42, Marker: "LEAKMARKER_7f3a", Disorder: 2 * time.Second, Harvests: 5}
	a, b := generateBytes(cfg), generateBytes(cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("same config produced different output")
	}
	if !slices.EqualFunc(New(cfg).Truth(), New(cfg).Truth(), func(x, y Harvest) bool { return fmt.Sprint(x) == fmt.Sprint(y) }) {
		t.Fatal("same config produced different truth")
	}
	cfg.Seed = 43
	if c := generateBytes(cfg); bytes.Equal(a, c) {
		t.Fatal("different seeds produced the same output")
	}
}

func TestWriteToMatchesNext(t *testing.T) {
	cfg := Config{Events: 5000, Seed: 3}
	var want bytes.Buffer
	g := New(cfg)
	for {
		line, ok := g.Next()
		if !ok {
			break
		}
		want.Write(line)
		want.WriteByte('\n')
	}
	if got := generateBytes(cfg); !bytes.Equal(got, want.Bytes()) {
		t.Fatal("WriteTo output differs from Next lines")
	}
}

func TestExactEventCount(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 17, 100, 1001, 9999} {
		evs, _ := generate(t, Config{Events: n, Seed: int64(n)})
		if len(evs) != n {
			t.Fatalf("Events=%d: got %d lines", n, len(evs))
		}
		if n >= 2 {
			checkStages(t, evs)
		}
	}
}

func TestEventShape(t *testing.T) {
	evs, g := generate(t, Config{Events: 40000, Seed: 7, Marker: "LEAKMARKER_7f3a"})
	levels := map[string]int{}
	var impersonated, twoIPs, ipv6, mapped, noUA, nonResource, forbid int
	for i, e := range evs {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("line %d: %s\n%.1500s", i+1, fmt.Sprintf(format, args...), e.line)
		}
		if e.Kind != "Event" || e.APIVersion != "audit.k8s.io/v1" {
			fail("kind/apiVersion %q %q", e.Kind, e.APIVersion)
		}
		levels[e.Level]++
		switch e.Level {
		case "Metadata", "Request", "RequestResponse":
		default:
			fail("level %q", e.Level)
		}
		if !reUUID.MatchString(e.AuditID) {
			fail("auditID %q", e.AuditID)
		}
		if e.RequestURI == "" || e.Verb == "" || e.User.Username == "" {
			fail("missing requestURI/verb/user")
		}
		if !reMicro.MatchString(e.StageTimestamp) || !reMicro.MatchString(e.RequestReceivedTimestamp) {
			fail("timestamps %q %q", e.RequestReceivedTimestamp, e.StageTimestamp)
		}
		if e.at.Before(e.recv) {
			fail("stageTimestamp before requestReceivedTimestamp")
		}
		if len(e.SourceIPs) == 0 || len(e.SourceIPs) > 2 {
			fail("sourceIPs %v", e.SourceIPs)
		}
		for _, ip := range e.SourceIPs {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				fail("sourceIP %q: %v", ip, err)
			}
			if a.Is6() && !a.Is4In6() {
				ipv6++
			}
			if a.Is4In6() {
				mapped++
			}
		}
		if len(e.SourceIPs) == 2 {
			twoIPs++
		}
		if e.UserAgent == nil {
			noUA++
		}
		if e.ImpersonatedUser != nil {
			impersonated++
		}
		if e.ObjectRef == nil {
			nonResource++
			if !strings.HasPrefix(e.RequestURI, "/") || strings.HasPrefix(e.RequestURI, "/api/v1/") {
				fail("non-resource request without objectRef: %s", e.RequestURI)
			}
		} else if e.ObjectRef.Resource == "" || e.ObjectRef.APIVersion == "" {
			fail("objectRef incomplete")
		}
		switch e.Stage {
		case "RequestReceived":
			if e.Annotations != nil || e.ResponseStatus != nil || e.ResponseObject != nil || e.RequestObject != nil {
				fail("RequestReceived with annotations/responseStatus/objects")
			}
			if e.StageTimestamp != e.RequestReceivedTimestamp && e.at.Sub(e.recv) > time.Millisecond {
				fail("RequestReceived stage long after the request")
			}
		case "ResponseStarted", "ResponseComplete":
			if e.ResponseStatus == nil || e.ResponseStatus.Code == 0 {
				fail("no responseStatus")
			}
			d := e.Annotations["authorization.k8s.io/decision"]
			if _, ok := e.Annotations["authorization.k8s.io/reason"]; !ok || (d != "allow" && d != "forbid") {
				fail("authorization annotations %v", e.Annotations)
			}
			if d == "forbid" {
				forbid++
				if e.ResponseStatus.Code != 403 || e.ResponseStatus.Reason != "Forbidden" || !strings.Contains(e.ResponseStatus.Message, "is forbidden: User") {
					fail("forbid without a 403 Forbidden status")
				}
			}
			if e.ResponseStatus.Code == 403 && d != "forbid" {
				fail("403 with decision %q", d)
			}
		default:
			fail("stage %q", e.Stage)
		}
		if e.ResponseObject != nil && (e.Level != "RequestResponse" || e.Stage != "ResponseComplete") {
			fail("responseObject at %s/%s", e.Level, e.Stage)
		}
		if e.RequestObject != nil && (e.Level == "Metadata" || e.Stage != "ResponseComplete") {
			fail("requestObject at %s/%s", e.Level, e.Stage)
		}
		for _, raw := range []json.RawMessage{e.RequestObject, e.ResponseObject} {
			if raw == nil {
				continue
			}
			var obj map[string]any
			if err := json.Unmarshal(raw, &obj); err != nil {
				fail("object: %v", err)
			}
		}
	}
	t.Logf("levels %v; impersonated %d, two sourceIPs %d, IPv6 %d, IPv4-mapped %d, no userAgent %d, non-resource %d, forbid %d",
		levels, impersonated, twoIPs, ipv6, mapped, noUA, nonResource, forbid)
	for name, n := range map[string]int{"impersonated": impersonated, "two sourceIPs": twoIPs, "IPv6": ipv6,
		"IPv4-mapped": mapped, "no userAgent": noUA, "non-resource": nonResource, "forbid": forbid} {
		if n == 0 {
			t.Errorf("no %s events", name)
		}
	}
	st := g.Stats()
	for _, c := range ClassNames {
		if st.ByClass[c] == 0 {
			t.Errorf("no events from class %s", c)
		}
	}
	checkStages(t, evs)
}

// checkStages: every request has RequestReceived first, then (for
// long-running requests) ResponseStarted, then ResponseComplete, with
// consistent fields.
func checkStages(t *testing.T, evs []*event) {
	t.Helper()
	type seen struct {
		stages []string
		first  *event
	}
	byID := map[string]*seen{}
	var order, forbidden []string
	for _, e := range evs {
		if e.Annotations["authorization.k8s.io/decision"] == "forbid" {
			forbidden = append(forbidden, e.AuditID)
		}
		s := byID[e.AuditID]
		if s == nil {
			s = &seen{first: e}
			byID[e.AuditID] = s
			order = append(order, e.AuditID)
		}
		s.stages = append(s.stages, e.Stage)
		f := s.first
		if e.RequestURI != f.RequestURI || e.Verb != f.Verb || e.User.Username != f.User.Username || e.Level != f.Level ||
			e.RequestReceivedTimestamp != f.RequestReceivedTimestamp || strings.Join(e.SourceIPs, ",") != strings.Join(f.SourceIPs, ",") {
			t.Fatalf("auditID %s: stages disagree:\n%.800s\n%.800s", e.AuditID, f.line, e.line)
		}
	}
	for _, id := range order {
		s := byID[id]
		e := s.first
		lr := e.Verb == "watch" || (e.ObjectRef != nil && (e.ObjectRef.Subresource == "exec" || e.ObjectRef.Subresource == "log"))
		want := []string{"RequestReceived", "ResponseComplete"}
		if lr && !slices.Contains(forbidden, id) {
			want = []string{"RequestReceived", "ResponseStarted", "ResponseComplete"}
		}
		if !slices.Equal(s.stages, want) {
			t.Fatalf("auditID %s (%s %s): stages %v, want %v", id, e.Verb, e.RequestURI, s.stages, want)
		}
	}
}

func TestShares(t *testing.T) {
	for _, tc := range []struct {
		cfg        Config
		sg, rr     float64
		wantBursts bool
	}{
		{Config{Events: 60000, Seed: 1}, 0.05, 0.05, true},
		{Config{Events: 60000, Seed: 2, SecretGetShare: 0.2, RequestResponseShare: 0.15}, 0.2, 0.15, true},
		{Config{Events: 60000, Seed: 3, SecretGetShare: 0.01, RequestResponseShare: 0.01}, 0.01, 0.01, true},
		{Config{Events: 60000, Seed: 4, SecretGetShare: -1, RequestResponseShare: -1, Harvests: -1, Decoys: -1}, 0, 0, false},
	} {
		evs, g := generate(t, tc.cfg)
		sg, rr := 0, 0
		for _, e := range evs {
			if e.isSecretGet() {
				sg++
			}
			if e.Level == "RequestResponse" {
				rr++
			}
		}
		n := float64(len(evs))
		gotSG, gotRR := float64(sg)/n, float64(rr)/n
		t.Logf("cfg sg=%.3f rr=%.3f: got sg=%.4f rr=%.4f (truth %d, decoys %d)", tc.sg, tc.rr, gotSG, gotRR, len(g.Truth()), len(g.Decoys()))
		if math.Abs(gotSG-tc.sg) > 0.15*tc.sg+0.002 {
			t.Errorf("secret get share %.4f, want ~%.3f", gotSG, tc.sg)
		}
		if math.Abs(gotRR-tc.rr) > 0.15*tc.rr+0.002 {
			t.Errorf("RequestResponse share %.4f, want ~%.3f", gotRR, tc.rr)
		}
		if !tc.wantBursts && (len(g.Truth()) != 0 || len(g.Decoys()) != 0) {
			t.Errorf("bursts planted although disabled")
		}
		if tc.wantBursts && (len(g.Truth()) != 3 || len(g.Decoys()) != len(decoyKinds)) {
			t.Errorf("got %d harvests, %d decoys; want 3, %d", len(g.Truth()), len(g.Decoys()), len(decoyKinds))
		}
	}
}

// burstFromStream recomputes a Harvest record from the stream.
func burstFromStream(evs []*event) (h Harvest, other int) {
	ids := map[string]bool{}
	var names, nss, secs []string
	first, last := time.Time{}, time.Time{}
	for _, e := range evs {
		if !e.isSecretGet() {
			other++
			continue
		}
		h.Events++
		ids[e.AuditID] = true
		names = append(names, e.ObjectRef.Name)
		nss = append(nss, e.ObjectRef.Namespace)
		secs = append(secs, e.ObjectRef.Namespace+"/"+e.ObjectRef.Name)
		if first.IsZero() || e.at.Before(first) {
			first = e.at
		}
		if e.at.After(last) {
			last = e.at
		}
		if e.Stage == "ResponseComplete" {
			switch e.Annotations["authorization.k8s.io/decision"] {
			case "allow":
				h.Allowed++
			case "forbid":
				h.Forbidden++
			}
			if e.ResponseStatus.Code == 404 {
				h.NotFound++
			}
		}
	}
	h.Requests = len(ids)
	h.Names, h.Namespaces, h.Secrets = sortedUnique(names), sortedUnique(nss), sortedUnique(secs)
	h.First, h.Last = first, last
	return h, other
}

func TestTruthMatchesStream(t *testing.T) {
	for seed := int64(1); seed <= seeds(4); seed++ {
		cfg := Config{Events: 80000, Seed: seed, Harvests: 7, Disorder: time.Duration(seed-1) * time.Second}
		evs, g := generate(t, cfg)
		byFP := map[string][]*event{}
		for _, e := range evs {
			fp := e.fingerprint()
			byFP[fp] = append(byFP[fp], e)
		}
		truth := g.Truth()
		if len(truth) != 7 {
			t.Fatalf("seed %d: %d harvests planted, want 7", seed, len(truth))
		}
		kinds := map[string]bool{}
		all := append(truth, g.Decoys()...)
		fps := map[string]bool{}
		for i, h := range all {
			fp := harvestFingerprint(h)
			if fps[fp] {
				t.Fatalf("seed %d: two bursts share fingerprint %s", seed, fp)
			}
			fps[fp] = true
			kinds[h.Kind] = true
			got, other := burstFromStream(byFP[fp])
			want := h
			if want.SourceIP != want.SourceIPs[0] {
				t.Errorf("%s: SourceIP %q != SourceIPs[0]", h.Kind, h.SourceIP)
			}
			if len(want.Secrets) < 3 || len(want.Secrets) > 60 {
				t.Errorf("%s: %d secrets", h.Kind, len(want.Secrets))
			}
			if h.Kind != sweepKind && len(want.Names) < 3 {
				t.Errorf("%s: only %d distinct names", h.Kind, len(want.Names))
			}
			if span := h.Last.Sub(h.First); span > 2*time.Minute+10*time.Second {
				t.Errorf("%s: span %v", h.Kind, span)
			}
			// Decoy clients also have ordinary traffic; attackers only recon.
			if i < len(truth) && other != h.OtherEvents {
				t.Errorf("seed %d %s: other events %d in stream, truth %d", seed, h.Kind, other, h.OtherEvents)
			}
			want.Kind, want.User, want.SourceIPs, want.SourceIP, want.UserAgent, want.OtherEvents, want.ElasticV1, want.ElasticV2 = "", "", nil, "", "", 0, false, false
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("seed %d %s (%s):\nstream %+v\ntruth  %+v", seed, h.Kind, fp, got, want)
			}
			if h.Events != 2*h.Requests {
				t.Errorf("%s: events %d, requests %d", h.Kind, h.Events, h.Requests)
			}
		}
		for _, k := range append(append([]string{}, harvestKinds...), append(decoyKinds, sweepKind)...) {
			if !kinds[k] {
				t.Errorf("seed %d: no %s burst", seed, k)
			}
		}
		// Harvests mix outcomes overall.
		var allowed, forbidden int
		for _, h := range truth {
			allowed += h.Allowed
			forbidden += h.Forbidden
		}
		if allowed == 0 || forbidden == 0 {
			t.Errorf("seed %d: harvests allowed %d forbidden %d", seed, allowed, forbidden)
		}
	}
}

// TestElasticRuleOverWholeStream applies Elastic's rule to the whole stream
// as one window: only the planted bursts flagged ElasticV1/V2 may alert, so
// background traffic never looks like a harvest by itself.
func TestElasticRuleOverWholeStream(t *testing.T) {
	for seed := int64(1); seed <= seeds(3); seed++ {
		evs, g := generate(t, Config{Events: 100000, Seed: seed, Harvests: 7, SecretGetShare: 0.08})
		for _, version := range []int{1, 2} {
			names := map[string]map[string]bool{}
			for _, e := range evs {
				if !e.isSecretGet() || !ElasticKeeps(version, e.User.Username, e.SourceIPs, e.ObjectRef.Name) {
					continue
				}
				fp := e.fingerprint()
				if names[fp] == nil {
					names[fp] = map[string]bool{}
				}
				names[fp][e.ObjectRef.Name] = true
			}
			var got, want []string
			for fp, ns := range names {
				if len(ns) >= 3 {
					got = append(got, fp)
				}
			}
			for _, h := range append(g.Truth(), g.Decoys()...) {
				if (version == 1 && h.ElasticV1) || (version == 2 && h.ElasticV2) {
					want = append(want, harvestFingerprint(h))
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("seed %d v%d: rule alerts on\n%s\nwant\n%s", seed, version, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

func TestElasticKeeps(t *testing.T) {
	for _, tc := range []struct {
		v    int
		user string
		ips  []string
		name string
		want bool
	}{
		{1, "u", []string{"10.0.0.1"}, "db", true},
		{1, "u", []string{"127.0.0.1"}, "db", false},
		{1, "u", []string{"::1"}, "db", false},
		{1, "u", []string{"::ffff:127.0.0.1"}, "db", false},
		{1, "u", []string{"127.0.0.2"}, "db", true},
		{1, "u", []string{"198.51.100.1", "10.0.0.5"}, "db", false},
		{1, "system:kube-scheduler", []string{"10.0.0.1"}, "db", false},
		{1, "u", []string{"10.0.0.1"}, "sh.helm.release.v1.x.v1", false},
		{1, "system:serviceaccount:security:trivy-operator", []string{"10.0.0.1"}, "db", true},
		{2, "system:serviceaccount:security:trivy-operator", []string{"10.0.0.1"}, "db", false},
	} {
		if got := ElasticKeeps(tc.v, tc.user, tc.ips, tc.name); got != tc.want {
			t.Errorf("ElasticKeeps(%d, %q, %v, %q) = %v", tc.v, tc.user, tc.ips, tc.name, got)
		}
	}
}

// TestMarker: with a marker, it appears in every secret payload and only
// inside requestObject/responseObject.
func TestMarker(t *testing.T) {
	const marker = "LEAKMARKER_7f3a"
	evs, _ := generate(t, Config{Events: 60000, Seed: 11, Marker: marker, RequestResponseShare: 0.1, SecretGetShare: 0.1})
	withMarker, secretsSeen, tokens := 0, 0, 0
	for i, e := range evs {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(e.line, &top); err != nil {
			t.Fatal(err)
		}
		for k, v := range top {
			if k != "requestObject" && k != "responseObject" && bytes.Contains(v, []byte(marker)) {
				t.Fatalf("line %d: marker in %q", i+1, k)
			}
		}
		if bytes.Contains(e.line, []byte(marker)) {
			withMarker++
		}
		for _, raw := range []json.RawMessage{e.RequestObject, e.ResponseObject} {
			if raw == nil {
				continue
			}
			var obj any
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatal(err)
			}
			walkSecrets(obj, false, func(kind string, values map[string]any) {
				secretsSeen++
				for k, v := range values {
					if s, _ := v.(string); !strings.Contains(s, marker) {
						t.Fatalf("line %d: %s value %q lacks the marker", i+1, k, s)
					}
				}
			})
			if m, ok := obj.(map[string]any); ok && m["kind"] == "TokenRequest" {
				st, _ := m["status"].(map[string]any)
				if tok, _ := st["token"].(string); tok != "" {
					tokens++
					if !strings.Contains(tok, marker) {
						t.Fatalf("line %d: token without marker", i+1)
					}
				}
			}
		}
	}
	t.Logf("%d lines carry the marker, %d secret payloads, %d tokens", withMarker, secretsSeen, tokens)
	if withMarker == 0 || secretsSeen == 0 {
		t.Fatal("no secret payloads generated")
	}
	// Without a marker the same stream has no trace of it.
	out := generateBytes(Config{Events: 20000, Seed: 11})
	if bytes.Contains(out, []byte(marker)) {
		t.Fatal("marker present without Config.Marker")
	}
}

// walkSecrets calls f with the data/stringData maps of every Secret found in
// obj (including SecretList items and patches of secrets' data).
func walkSecrets(obj any, inSecretList bool, f func(kind string, values map[string]any)) {
	m, ok := obj.(map[string]any)
	if !ok {
		return
	}
	kind, _ := m["kind"].(string)
	if kind == "Secret" || inSecretList {
		for _, k := range []string{"data", "stringData"} {
			if d, ok := m[k].(map[string]any); ok {
				f(k, d)
			}
		}
	}
	if items, ok := m["items"].([]any); ok {
		for _, it := range items {
			walkSecrets(it, kind == "SecretList", f)
		}
	}
}

func TestLineSize(t *testing.T) {
	for seed := int64(1); seed <= seeds(3); seed++ {
		g := New(Config{Events: 100000, Seed: seed})
		var objSizes []int
		for {
			line, ok := g.Next()
			if !ok {
				break
			}
			if bytes.Contains(line, []byte(`,"requestObject":`)) || bytes.Contains(line, []byte(`,"responseObject":`)) {
				objSizes = append(objSizes, len(line))
			}
		}
		st := g.Stats()
		avg := float64(st.Bytes) / float64(st.Events)
		if len(objSizes) != st.WithObjects {
			t.Fatalf("seed %d: %d lines with objects, stats say %d", seed, len(objSizes), st.WithObjects)
		}
		sort.Ints(objSizes)
		p := func(q float64) int { return objSizes[int(q*float64(len(objSizes)-1))] }
		t.Logf("seed %d: avg line %.0f B, max %d B; %d lines with objects: median %d B, p90 %d B, p99 %d B, mean %.0f B",
			seed, avg, st.MaxLine, len(objSizes), p(0.5), p(0.9), p(0.99), float64(st.ObjectLineBytes)/float64(st.WithObjects))
		if avg < 700 || avg > 1500 {
			t.Errorf("seed %d: average line %.0f B, want 700..1500", seed, avg)
		}
		if st.MaxLine < 100_000 {
			t.Errorf("seed %d: no large objects (max line %d)", seed, st.MaxLine)
		}
	}
}

func TestDisorder(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	base := Config{Events: 30000, Seed: 5, Start: start, Rate: 500}
	evs, _ := generate(t, base)
	if !evs[0].at.Equal(start) {
		t.Errorf("first event at %v, want %v", evs[0].at, start)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].at.Before(evs[i-1].at) {
			t.Fatalf("Disorder 0: line %d goes back in time", i+1)
		}
	}
	d := 3 * time.Second
	cfg := base
	cfg.Disorder = d
	dis, g := generate(t, cfg)
	var maxSeen time.Time
	worst := time.Duration(0)
	for _, e := range dis {
		if back := maxSeen.Sub(e.at); back > worst {
			worst = back
		}
		if e.at.After(maxSeen) {
			maxSeen = e.at
		}
	}
	t.Logf("Disorder %v: worst step back %v", d, worst)
	if worst > d || worst < d/4 {
		t.Errorf("worst step back %v, want <= %v and clearly > 0", worst, d)
	}
	// Same events, only reordered; same truth.
	sortLines := func(es []*event) []string {
		var out []string
		for _, e := range es {
			out = append(out, string(e.line))
		}
		sort.Strings(out)
		return out
	}
	if !slices.Equal(sortLines(evs), sortLines(dis)) {
		t.Error("Disorder changed the events, not only their order")
	}
	if fmt.Sprint(New(base).Truth()) != fmt.Sprint(g.Truth()) {
		t.Error("Disorder changed the truth")
	}
	// Rate: events per second of event time.
	span := evs[len(evs)-1].at.Sub(evs[0].at).Seconds()
	if rate := float64(len(evs)) / span; rate < 400 || rate > 600 {
		t.Errorf("rate %.0f events/s, want ~500", rate)
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Events: b.N + 1, Seed: 1})
	var n int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		line, _ := g.Next()
		n += int64(len(line)) + 1
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkWriteTo100k(b *testing.B) {
	var n int64
	for i := 0; i < b.N; i++ {
		w, err := New(Config{Events: 100000, Seed: int64(i)}).WriteTo(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		n += w
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds(), "events/s")
}
