package flb

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/metricscrape"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// The aggregator topology (deploy/aggregator): edges tail the audit log of
// their node and forward it to aggregators, which run the plugin on the
// merged stream. The tests run the shipped files, laid out for a test: host
// paths under temporary directories, the aggregators on free ports, the
// edges' forward outputs pointed at them.

const (
	shippedAggregators = "deploy/aggregator"
	shippedEdgeState   = "/var/lib/k8s-secret-enum-edge/"
	shippedForwardPort = "24224"
	shippedWebhookPort = "9880"
	// testFlush replaces the shipped Flush 1 of edges and aggregators: the
	// lockstep below waits for every batch to cross both.
	testFlush = "0.2"
)

// shipped reads a file of deploy/aggregator.
func shipped(t *testing.T, file string) string {
	t.Helper()
	return string(readFile(t, filepath.Join(repoRoot(t), shippedAggregators, file)))
}

// edit is a shipped configuration being laid out; every replacement must
// find what it replaces, so that a change of the shipped file that the
// test no longer follows fails here, not later.
type edit struct {
	t    *testing.T
	file string
	text string
	yaml bool
}

func newEdit(t *testing.T, file string) *edit {
	return &edit{t: t, file: file, text: shipped(t, file), yaml: strings.HasSuffix(file, ".yaml")}
}

// replace replaces every occurrence of old.
func (e *edit) replace(old, new string) {
	e.t.Helper()
	if !strings.Contains(e.text, old) {
		e.t.Fatalf("%s/%s no longer holds %q", shippedAggregators, e.file, old)
	}
	e.text = strings.ReplaceAll(e.text, old, new)
}

// setValue sets the value of a key that the file has exactly n times.
func (e *edit) setValue(key, old, new string, n int) {
	e.t.Helper()
	re := regexp.MustCompile(`(?mi)^(\s*` + regexp.QuoteMeta(key) + `:?\s+)` + regexp.QuoteMeta(old) + `\s*$`)
	if got := len(re.FindAllString(e.text, -1)); got != n {
		e.t.Fatalf("%s/%s: %d lines %s %s, want %d", shippedAggregators, e.file, got, key, old, n)
	}
	e.text = re.ReplaceAllString(e.text, "${1}"+new)
}

// target points the forward output whose Host is host at 127.0.0.1:port.
func (e *edit) target(host string, port int) {
	e.t.Helper()
	re := regexp.MustCompile(`(?mi)^(\s*host:?\s+)` + regexp.QuoteMeta(host) + `\s*\n(\s*port:?\s+)` + shippedForwardPort + `\s*$`)
	if len(re.FindAllString(e.text, -1)) != 1 {
		e.t.Fatalf("%s/%s: no output with Host %s followed by Port %s", shippedAggregators, e.file, host, shippedForwardPort)
	}
	e.text = re.ReplaceAllString(e.text, "${1}127.0.0.1\n${2}"+strconv.Itoa(port))
}

// dropOutput removes the output whose Host is host (a classic [OUTPUT]
// section, or an item of the YAML outputs list).
func (e *edit) dropOutput(host string) {
	e.t.Helper()
	lines := strings.Split(e.text, "\n")
	start := func(l string) bool {
		s := strings.TrimSpace(l)
		if e.yaml {
			return strings.HasPrefix(s, "- name:")
		}
		return strings.HasPrefix(s, "[")
	}
	var out []string
	found := 0
	for i := 0; i < len(lines); {
		if !start(lines[i]) {
			out = append(out, lines[i])
			i++
			continue
		}
		j := i + 1
		for j < len(lines) && !start(lines[j]) && !(e.yaml && strings.TrimSpace(lines[j]) != "" &&
			!strings.HasPrefix(lines[j], "    ")) {
			j++
		}
		block := strings.Join(lines[i:j], "\n")
		if regexp.MustCompile(`(?mi)^\s*host:?\s+` + regexp.QuoteMeta(host) + `\s*$`).MatchString(block) {
			found++
		} else {
			out = append(out, lines[i:j]...)
		}
		i = j
	}
	if found != 1 {
		e.t.Fatalf("%s/%s: %d outputs with Host %s", shippedAggregators, e.file, found, host)
	}
	e.text = strings.Join(out, "\n")
}

// addPluginKeys adds keys to the plugin's output, after alert_url.
func (e *edit) addPluginKeys(kv ...string) {
	e.t.Helper()
	re := regexp.MustCompile(`(?m)^(\s*)alert_url(:?)\s+.*$`)
	loc := re.FindStringSubmatchIndex(e.text)
	if loc == nil {
		e.t.Fatalf("%s/%s: no alert_url", shippedAggregators, e.file)
	}
	indent := e.text[loc[2]:loc[3]]
	var add strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if e.yaml {
			fmt.Fprintf(&add, "\n%s%s: %s", indent, kv[i], kv[i+1])
		} else {
			fmt.Fprintf(&add, "\n%s%s %s", indent, kv[i], kv[i+1])
		}
	}
	e.text = e.text[:loc[1]] + add.String() + e.text[loc[1]:]
}

func (e *edit) write(path string) {
	e.t.Helper()
	writeFile(e.t, path, []byte(e.text))
}

// edge is one node: its audit log and the edge Fluent Bit tailing it.
type edge struct {
	log    string
	config string
	dir    string
	run    *fluentBitRun
}

// layEdge lays out a shipped edge file: targets maps each forward output's
// shipped Host to the port of its aggregator; the outputs of other hosts
// named in drop are removed.
func layEdge(t *testing.T, file string, targets map[string]int, drop ...string) *edge {
	t.Helper()
	dir := t.TempDir()
	e := newEdit(t, file)
	e.replace(shippedAudit, filepath.Join(dir, "audit")+"/")
	e.replace(shippedEdgeState, filepath.Join(dir, "state")+"/")
	e.replace("/fluent-bit/etc/parsers.conf", configPath(t, "parsers.conf"))
	e.setValue("flush", "1", testFlush, 1)
	// Retries within 2 s: the restart test waits for the backlog.
	e.setValue("scheduler.cap", "30", "2", 1)
	for _, h := range drop {
		e.dropOutput(h)
	}
	for h, p := range targets {
		e.target(h, p)
	}
	n := &edge{log: filepath.Join(dir, "audit", "audit.log"), config: filepath.Join(dir, file), dir: dir}
	writeFile(t, n.log, nil)
	e.write(n.config)
	return n
}

// start runs the edge and waits until tail watches the log: tail starts a
// file it has no offset for at its end, so lines written before would be
// skipped.
func (e *edge) start(t *testing.T, fb fluentBit, name string) {
	t.Helper()
	e.run = &fluentBitRun{proc: start(t, name+"-fluent-bit-"+fb.Version, []string{fb.Path, "-c", e.config}, nil, ""), fb: fb}
	e.run.waitFor("inotify_fs_add(", 1)
}

// aggregator is one aggregator Fluent Bit laid out for a test.
type aggregator struct {
	name            string
	config          string
	dir             string
	forward         int
	webhook         int
	metrics         string
	state, storage  string
	fb              fluentBit
	run             *fluentBitRun
	runs            int
	records         int // records it must have read when the current batch is in
	recordsAtStart  int // records_total counts from 0 at each start
	previousOutputs []string
}

// layAggregator lays out a shipped aggregator file: alerts to alertURL,
// the inputs on free ports, the plugin's metrics on another (the lockstep
// reads records_total there), keys added to the plugin's output, and
// reorder_delay set.
func layAggregator(t *testing.T, file, name, alertURL, reorderDelay string, keys ...string) *aggregator {
	t.Helper()
	dir := t.TempDir()
	a := &aggregator{name: name, dir: dir, config: filepath.Join(dir, file), metrics: freeAddr(t),
		state: filepath.Join(dir, "state", "state.json"), storage: filepath.Join(dir, "state", "flb-storage")}
	a.forward, _ = strconv.Atoi(strings.TrimPrefix(freeAddr(t), "127.0.0.1:"))
	a.webhook, _ = strconv.Atoi(strings.TrimPrefix(freeAddr(t), "127.0.0.1:"))
	e := newEdit(t, file)
	if e.yaml {
		e.replace(shippedPlugin, plugin(t))
	} else {
		plugins := filepath.Join(dir, "plugins.conf")
		writeFile(t, plugins, []byte("[PLUGINS]\n    Path "+plugin(t)+"\n"))
		e.replace(shippedPlugFn, plugins)
	}
	e.replace(shippedState, filepath.Join(dir, "state")+"/")
	e.setValue("flush", "1", testFlush, 1)
	e.setValue("port", shippedForwardPort, strconv.Itoa(a.forward), 1)
	e.setValue("port", shippedWebhookPort, strconv.Itoa(a.webhook), 1)
	e.setValue("listen", "0.0.0.0", "127.0.0.1", 2)
	e.setValue("alert_url", "https://siem.example.com/api/alerts", alertURL, 1)
	e.setValue("reorder_delay", "10s", reorderDelay, 1)
	// No wall-clock time in the decisions: the lockstep may pause between
	// batches for longer than idle_timeout on a loaded machine.
	e.addPluginKeys(append([]string{"metrics_listen", a.metrics, "idle_timeout", "0", "max_clock_skew", "0",
		"stats_interval", "0", "state_save_interval", "1s", "alert_retry_backoff", "200ms",
		"alert_retry_backoff_max", "1s"}, keys...)...)
	e.write(a.config)
	return a
}

func (a *aggregator) start(t *testing.T, fb fluentBit) {
	t.Helper()
	a.fb = fb
	a.runs++
	a.run = &fluentBitRun{proc: start(t, fmt.Sprintf("%s-%d-fluent-bit-%s", a.name, a.runs, fb.Version),
		[]string{fb.Path, "-c", a.config}, nil, ""), fb: fb}
	a.run.started(0)
}

// kill ends the aggregator with SIGKILL once it has read everything sent
// to it: a restart counts records_total from there.
func (a *aggregator) kill(t *testing.T) {
	t.Helper()
	a.run.kill()
	a.recordsAtStart = a.records
}

// recordsRead is the plugin's records_total since this start (-1 when the
// endpoint does not answer).
func (a *aggregator) recordsRead() int {
	s, err := metricscrape.Scrape(a.metrics)
	if err != nil {
		return -1
	}
	n, ok := s["0"]["k8s_secret_enum_records_total"]
	if !ok {
		return -1
	}
	return int(n)
}

// waitRecords waits until the plugin has read every record sent to it.
func (a *aggregator) waitRecords(t *testing.T) {
	t.Helper()
	want := a.records - a.recordsAtStart
	deadline := time.Now().Add(waitLimit)
	for {
		got := a.recordsRead()
		if got == want {
			return
		}
		if got > want {
			t.Fatalf("%s read %d records since its start, more than the %d sent", a.name, got, want)
		}
		select {
		case <-a.run.done:
			t.Fatalf("%s exited: %v", a.name, a.run.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s read %d of %d records in %v", a.name, got, want, waitLimit)
		}
	}
}

// startAggregators lays out and starts one aggregator per receiver, on
// aggregator.conf and aggregator.yaml in turn, named names[i] and alerting
// to rcvs[i].
func startAggregators(t *testing.T, fb fluentBit, rcvs []*receiver.Receiver, names ...string) []*aggregator {
	t.Helper()
	var aggs []*aggregator
	for i, rcv := range rcvs {
		file := []string{"aggregator.conf", "aggregator.yaml"}[i%2]
		aggs = append(aggs, layAggregator(t, file, names[i], rcv.URL()+"/alerts", aggregatorDelay))
	}
	for _, a := range aggs {
		a.start(t, fb)
	}
	return aggs
}

// startEdges lays out and starts one edge per node, on files[0] and
// files[1] in turn (as layEdge: targets, drop).
func startEdges(t *testing.T, fb fluentBit, files [2]string, targets map[string]int, drop ...string) []*edge {
	t.Helper()
	var edges []*edge
	for i := range nodeSkew {
		e := layEdge(t, files[i%2], targets, drop...)
		e.start(t, fb, fmt.Sprintf("edge-%d", i))
		edges = append(edges, e)
	}
	return edges
}

// stopAll stops the edges, whose logs may hold only the allowed problems,
// then the aggregators, cleanly.
func stopAll(t *testing.T, edges []*edge, aggs []*aggregator, allowed ...string) {
	t.Helper()
	for _, e := range edges {
		e.run.stop()
		noProblems(t, e.run.name, e.run.Output(), allowed...)
	}
	for _, a := range aggs {
		a.run.stopClean()
	}
}

// --- traffic -------------------------------------------------------------

// nodeSkew is each node's clock error: the API servers stamp their events
// with their own clocks, within allowed_lateness of each other.
var nodeSkew = []time.Duration{0, 1500 * time.Millisecond, -2500 * time.Millisecond}

// line is one audit log line of a node.
type line struct {
	node int
	at   time.Time // its first timestamp, on the node's clock
	text []byte
}

var timestampRE = regexp.MustCompile(`"(requestReceivedTimestamp|stageTimestamp|timestamp)":"([^"]*)"`)
var auditIDRE = regexp.MustCompile(`"auditID":"([^"]*)"`)

// skewed shifts every timestamp of a line by d. Inside a JSON string a
// quote is escaped, so the pattern only finds the keys themselves.
func skewed(text []byte, d time.Duration) ([]byte, time.Time) {
	var first time.Time
	out := timestampRE.ReplaceAllFunc(text, func(m []byte) []byte {
		sub := timestampRE.FindSubmatch(m)
		ts, err := time.Parse(time.RFC3339Nano, string(sub[2]))
		if err != nil {
			return m
		}
		ts = ts.Add(d).UTC()
		if first.IsZero() {
			first = ts
		}
		return []byte(fmt.Sprintf(`"%s":"%s"`, sub[1], ts.Format(time.RFC3339Nano)))
	})
	return out, first
}

// nodeOf places an event on a node: both stages of a request are logged by
// the API server that served it, so the auditID decides.
func nodeOf(text []byte, i, nodes int) int {
	if m := auditIDRE.FindSubmatch(text); m != nil {
		h := fnv.New32a()
		h.Write(m[1])
		return int(h.Sum32() % uint32(nodes))
	}
	return i % nodes
}

// events splits the generator's EventList lines (which the webhook posts)
// into their items, as the log backend writes them, keeping their bytes.
func events(lines [][]byte) [][]byte {
	var out [][]byte
	for _, l := range lines {
		var list struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if json.Unmarshal(l, &list) != nil || list.Kind != "EventList" {
			out = append(out, l)
			continue
		}
		for _, it := range list.Items {
			out = append(out, []byte(it))
		}
	}
	return out
}

// clusterTraffic is span of generated traffic (test/model's generator:
// workloads, operators, people, harvests and noise) spread over three API
// servers with skewed clocks, plus extra, each of whose events goes to
// the node it names. Lines are in time order per node.
func clusterTraffic(seed int64, start time.Time, span time.Duration, extra []placed) []line {
	var out []line
	for i, l := range events(model.Generate(seed, model.TrafficParams{Start: start, Span: span, Clean: true, Density: 1})) {
		n := nodeOf(l, i, len(nodeSkew))
		text, at := skewed(l, nodeSkew[n])
		out = append(out, line{node: n, at: at, text: text})
	}
	for _, p := range extra {
		text, at := skewed(p.ev.json(), nodeSkew[p.node])
		out = append(out, line{node: p.node, at: at, text: text})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// placed is a crafted event and the node whose API server logs it.
type placed struct {
	node int
	ev   ev
}

// roundRobin places a stream's events on the nodes in turn, as a load
// balancer spreads one client's requests.
func roundRobin(s stream, firstID int) []placed {
	var out []placed
	for i, e := range s {
		e.id = firstID + i
		out = append(out, placed{node: i % len(nodeSkew), ev: e})
	}
	return out
}

func texts(lines []line) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// batch is the lines of one span of event time, from its start (after t0).
type batch struct {
	from  time.Duration
	lines []line
}

// batches cuts lines into consecutive spans of event time (some may be
// empty).
func batches(lines []line, start time.Time, span time.Duration) []batch {
	var out []batch
	for _, l := range lines {
		k := max(0, int(l.at.Sub(start)/span))
		for len(out) <= k {
			out = append(out, batch{from: time.Duration(len(out)) * span})
		}
		out[k].lines = append(out[k].lines, l)
	}
	return out
}

// feed appends a batch to the nodes' logs and counts, for each aggregator,
// the records routed to it (all of them, or those route accepts).
func feed(t *testing.T, edges []*edge, b batch, aggs []*aggregator, route func(a int, l line) bool) {
	t.Helper()
	per := make([][][]byte, len(edges))
	for _, l := range b.lines {
		per[l.node] = append(per[l.node], l.text)
		for i, a := range aggs {
			if route == nil || route(i, l) {
				a.records++
			}
		}
	}
	for i, e := range edges {
		if len(per[i]) > 0 {
			appendFile(t, e.log, joinLines(per[i]))
		}
	}
}

// modelAlerts is what the rule gives on the merged log.
func modelAlerts(t *testing.T, s model.Settings, lines []line) []map[string]any {
	t.Helper()
	r := model.Run(s, texts(lines))
	if r.Cut > 0 {
		t.Fatalf("the model cut %d alerts: max_alerts would make the aggregators' alerts depend on which shard has which", r.Cut)
	}
	return byStampAndID(r.Alerts)
}

// received decodes the alerts a receiver got, one per alert.id (delivery
// is at least once), ordered as modelAlerts.
func received(t *testing.T, alerts []receiver.Alert) []map[string]any {
	t.Helper()
	seen := map[string]bool{}
	var out []map[string]any
	for _, a := range alerts {
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		out = append(out, a.Fields)
	}
	return byStampAndID(out)
}
