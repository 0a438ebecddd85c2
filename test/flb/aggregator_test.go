package flb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// The three edges of every aggregator test: three API servers behind a
// load balancer, each logging the requests it served with its own clock.
//
// Their traffic is test/model's generator spread over the nodes (a
// request's stages on one node), plus a client reading six secrets through
// the load balancer: two on each node, so that no node-local detector
// would see three. It is fed in lockstep: batches of batchSpan of event
// time, the next one appended once every aggregator has read the last.
// The merged stream is then out of event-time order by at most batchSpan
// plus the clock skew between nodes (4 s), which aggregatorDelay covers: so
// the aggregators' alerts must be exactly those of the rule (test/model,
// an independent model) on the merged log, whatever the interleaving.
const (
	trafficSpan     = 20 * time.Minute
	batchSpan       = time.Minute
	aggregatorDelay = "90s"
)

var lbClient = client{"system:serviceaccount:ci:deployer", "10.244.5.8", "kubectl/v1.30.1 (linux/amd64)"}

func aggregatorSettings() model.Settings {
	s := model.Defaults()
	s.ReorderDelay, _ = time.ParseDuration(aggregatorDelay)
	return s
}

// spreadHarvest is lbClient's reads, 20 s apart, round robin over the nodes.
func spreadHarvest(at time.Duration) []placed {
	return roundRobin(harvest(lbClient, at, 20*time.Second, "lb-1", "lb-2", "lb-3", "lb-4", "lb-5", "lb-6"), 900000)
}

// TestAggregatorsHA: three edges (deploy/aggregator/edge.conf and .yaml),
// each forwarding to two aggregators (aggregator.conf and .yaml): each
// aggregator's alerts are the rule's on the merged log, so the two replicas
// name every alert with the same alert.id.
func TestAggregatorsHA(t *testing.T) {
	lines := clusterTraffic(3, t0, trafficSpan, spreadHarvest(7*time.Minute))
	want := modelAlerts(t, aggregatorSettings(), lines)
	if len(want) < 5 {
		t.Fatalf("the model finds %d alerts; the traffic should hold several harvests", len(want))
	}
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcvs := []*receiver.Receiver{receiver.Start(t, receiver.Options{}), receiver.Start(t, receiver.Options{})}
		aggs := startAggregators(t, fb, rcvs, "aggregator-a", "aggregator-b")
		edges := startEdges(t, fb, [2]string{"edge.conf", "edge.yaml"}, map[string]int{
			"k8s-secret-enum-aggregator-a.k8s-secret-enum.svc": aggs[0].forward,
			"k8s-secret-enum-aggregator-b.k8s-secret-enum.svc": aggs[1].forward,
		})
		for _, b := range batches(lines, t0, batchSpan) {
			feed(t, edges, b, aggs, nil)
			for _, a := range aggs {
				a.waitRecords(t)
			}
		}
		stopAll(t, edges, aggs)
		for i, rcv := range rcvs {
			if d := model.Compare(received(t, rcv.Alerts()), want); d != nil {
				t.Errorf("%s: the alerts differ from the rule's on the merged log:\n%s", aggs[i].name, d)
			}
		}
		if !t.Failed() {
			t.Logf("%d alerts from each aggregator, as the model; the ids are the same", len(want))
		}
	})
}

// seesLBClient reports whether alerts name lbClient.
func seesLBClient(alerts []map[string]any) bool {
	for _, a := range alerts {
		if u, _ := a["user"].(map[string]any); u != nil && u["name"] == lbClient.user {
			return true
		}
	}
	return false
}

// checkSpread: the rule sees lbClient's harvest on the merged log, and no
// node alone would.
func checkSpread(t *testing.T, s model.Settings, lines []line, merged []map[string]any) {
	t.Helper()
	if !seesLBClient(merged) {
		t.Fatalf("the rule does not see %s on the merged log", lbClient.user)
	}
	for n := range nodeSkew {
		var own []line
		for _, l := range lines {
			if l.node == n {
				own = append(own, l)
			}
		}
		if seesLBClient(model.Run(s, texts(own)).Alerts) {
			t.Fatalf("node %d alone sees %s: the harvest is not spread", n, lbClient.user)
		}
	}
}

// TestAggregatorRestart: one aggregator, killed with SIGKILL in the middle
// of lbClient's harvest and restarted on the same storage.path, spool and
// state file; meanwhile the edges keep reading their logs and hold what
// they cannot deliver (filesystem buffering, Require_ack_response). Nothing
// is lost or counted twice: after deduplication by alert.id (an alert sent
// just before the kill may be sent again from the spool), the alerts are
// exactly the rule's on the merged log.
//
// The kill comes once the aggregator has read everything sent so far and
// saved its state after that: what a crash loses otherwise is what the
// plugin read after its last save (README), which no buffering upstream
// can give back.
func TestAggregatorRestart(t *testing.T) {
	// lbClient reads lb-1 … lb-6 from 6m30s to 8m10s; the aggregator is down
	// from 7m to 8m of event time: lb-3 … lb-5 reach it only after the
	// restart, from the edges' buffers, and the crossing read (lb-3) needs
	// lb-1 and lb-2 from the saved state. The edges deliver their backlogs
	// in any order: the outage's span of event time (plus the skew) must
	// stay under reorder_delay, as the README says.
	const downFrom, downTo = 7 * time.Minute, 8 * time.Minute
	extra := spreadHarvest(6*time.Minute + 30*time.Second)
	// A RequestResponse read while the aggregator is down: its Secret's
	// data must not leave the node (the edge strips it before buffering).
	extra = append(extra, placed{node: 1, ev: ev{at: 7*time.Minute + 30*time.Second, c: developer, name: "app-db",
		payload: 4096, id: 990000}})
	lines := clusterTraffic(4, t0, 12*time.Minute, extra)
	s := aggregatorSettings()
	want := modelAlerts(t, s, lines)
	checkSpread(t, s, lines, want)

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcv := receiver.Start(t, receiver.Options{})
		a := layAggregator(t, "aggregator.conf", "aggregator", rcv.URL()+"/alerts", aggregatorDelay)
		aggs := []*aggregator{a}
		a.start(t, fb)
		edges := startEdges(t, fb, [2]string{"edge.conf", "edge.yaml"},
			map[string]int{"k8s-secret-enum-aggregator-a.k8s-secret-enum.svc": a.forward},
			"k8s-secret-enum-aggregator-b.k8s-secret-enum.svc")
		killed, failed := false, []int(nil)
		for _, b := range batches(lines, t0, batchSpan) {
			at := b.from
			if !killed && at >= downFrom {
				waitChunksReleased(t, a)
				waitSavedAfter(t, a.state, time.Now(), a.run)
				a.kill(t)
				killed, failed = true, failedFlushes(edges)
				t.Logf("aggregator killed at %v of event time", at)
			}
			if killed && a.run.proc.cmd.ProcessState != nil && at >= downTo {
				waitFailedFlushes(t, edges, failed)
				checkBuffered(t, edges, "lb-3")
				a.start(t, fb)
				a.waitRecords(t) // the backlog, before anything newer
				t.Logf("aggregator restarted at %v of event time", at)
			}
			feed(t, edges, b, aggs, nil)
			if a.run.proc.cmd.ProcessState == nil {
				a.waitRecords(t)
			}
		}
		stopAll(t, edges, aggs, forwardRefused...)
		logHasNoMarker(t, a.run.name, a.run.Output())
		if d := model.Compare(received(t, rcv.Alerts()), want); d != nil {
			t.Errorf("the alerts differ from the rule's on the merged log:\n%s", d)
		} else {
			t.Logf("%d alerts, as the model (%d deliveries)", len(want), len(rcv.Alerts()))
		}
	})
}

// waitChunksReleased waits until Fluent Bit has dropped from the
// aggregator's storage.path every chunk the plugin has read: it drops one
// only once the flush returned, and a chunk still there at a kill is read
// again after the restart (README, Restarts), which this test does not
// exercise (TestAggregatorReplaysAcknowledged does).
func waitChunksReleased(t *testing.T, a *aggregator) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for countFiles(a.storage, ".flb") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d chunk(s) still in %s", a.name, countFiles(a.storage, ".flb"), a.storage)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forwardRefused are the edges' complaints while an aggregator is down.
var forwardRefused = []string{"[output:forward:", "[net]", "failed to flush chunk"}

// failedFlushes counts, per edge, the chunks it could not deliver so far.
func failedFlushes(edges []*edge) []int {
	n := make([]int, len(edges))
	for i, e := range edges {
		n[i] = strings.Count(e.run.Output(), "failed to flush chunk")
	}
	return n
}

// waitFailedFlushes waits until every edge has failed to deliver since
// before: each has read lines while the aggregator was down.
func waitFailedFlushes(t *testing.T, edges []*edge, before []int) {
	t.Helper()
	for i, e := range edges {
		e.run.waitFor("failed to flush chunk", before[i]+1)
	}
}

// checkBuffered: the edges hold, in their storage.path, what the
// aggregator has not taken (some of it names name), and never a Secret's
// data.
func checkBuffered(t *testing.T, edges []*edge, name string) {
	t.Helper()
	found := false
	for _, e := range edges {
		filepath.WalkDir(filepath.Join(e.dir, "state", "flb-storage"), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			if strings.Contains(string(b), marker) {
				t.Errorf("%s holds a Secret's data: it would leave the node", path)
			}
			if strings.Contains(string(b), name) {
				found = true
			}
			return nil
		})
	}
	if !found {
		t.Errorf("no edge holds %s in its storage.path while the aggregator is down", name)
	}
}
