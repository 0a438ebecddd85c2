package flb

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// shardRule is one rewrite_tag rule of deploy/aggregator/edge-sharded: a
// user name matching re goes to aggregator shard.
type shardRule struct {
	re    *regexp.Regexp
	shard int
}

func (r shardRule) String() string { return fmt.Sprintf("%s → %d", r.re, r.shard) }

// shardRules reads the rules of a shipped sharded edge, in their order (the
// first match wins, as in rewrite_tag). The patterns are plain enough
// (a character class, `.`, `$`) to mean the same to Go's regexp as to
// Fluent Bit's Onigmo.
func shardRules(t *testing.T, file string) []shardRule {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*(?:Rule|-)\s+\$user\['username'\]\s+(\S+)\s+kube\.audit\.shard-(\d+)\s+false\s*$`)
	var out []shardRule
	for _, m := range re.FindAllStringSubmatch(shipped(t, file), -1) {
		n, _ := strconv.Atoi(m[2])
		out = append(out, shardRule{re: regexp.MustCompile(m[1]), shard: n})
	}
	if len(out) < 2 {
		t.Fatalf("%s/%s: %d rewrite_tag rules on $user['username'], want one per shard", shippedAggregators, file, len(out))
	}
	return out
}

// shardOf is the aggregator that the rules send a user's events to; -1
// for none (no user name: the rule never counts such events).
func shardOf(rules []shardRule, user string) int {
	for _, r := range rules {
		if r.re.MatchString(user) {
			return r.shard
		}
	}
	return -1
}

// userOf is the user name of an audit event line: "" without one, or
// when it is not a string (rewrite_tag then matches no rule; the rule
// takes such an event for one without a user).
func userOf(t *testing.T, text []byte) string {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(text, &e); err != nil {
		t.Fatalf("an audit line is not a JSON object: %v", err)
	}
	u, _ := e["user"].(map[string]any)
	name, _ := u["username"].(string)
	return name
}

func alertUser(a map[string]any) string {
	u, _ := a["user"].(map[string]any)
	name, _ := u["name"].(string)
	return name
}

// A client of shard 0 (lbClient is of shard 1; checked below) reading
// through the load balancer too.
var lbClient0 = client{"system:serviceaccount:ci:builder-2", "10.244.6.12", "curl/8.5.0"}

// TestAggregatorsSharded: three edges (deploy/aggregator/edge-sharded.conf
// and .yaml) send each user's events to one of two aggregators
// (aggregator.conf and .yaml), chosen by rewrite_tag from the user name.
// Each aggregator reads exactly the events of its users, from every node;
// together their alerts are exactly the rule's on the merged log, and each
// user's alerts come from one aggregator, the user's shard. Two clients
// (one per shard) spread their harvests over the nodes, so that no node
// alone would see them.
func TestAggregatorsSharded(t *testing.T) {
	rules := shardRules(t, "edge-sharded.conf")
	if y := shardRules(t, "edge-sharded.yaml"); fmt.Sprint(y) != fmt.Sprint(rules) {
		t.Fatalf("edge-sharded.conf and .yaml shard differently: %v, %v", rules, y)
	}
	if shardOf(rules, lbClient.user) != 1 || shardOf(rules, lbClient0.user) != 0 {
		t.Fatalf("the spread harvests should be one per shard: %s → %d, %s → %d",
			lbClient.user, shardOf(rules, lbClient.user), lbClient0.user, shardOf(rules, lbClient0.user))
	}
	extra := spreadHarvest(3 * time.Minute)
	extra = append(extra, roundRobin(harvest(lbClient0, 5*time.Minute, 15*time.Second, "b-1", "b-2", "b-3", "b-4"), 910000)...)
	lines := clusterTraffic(5, t0, 12*time.Minute, extra)
	s := aggregatorSettings()
	want := modelAlerts(t, s, lines)
	checkSpread(t, s, lines, want)
	perShard := map[int]int{}
	for _, a := range want {
		perShard[shardOf(rules, alertUser(a))]++
	}
	if perShard[0] == 0 || perShard[1] == 0 {
		t.Fatalf("the model's alerts by shard: %v; each shard should have some", perShard)
	}
	shardOfLine := map[string]int{} // a line's shard, by its text
	for _, l := range lines {
		shardOfLine[string(l.text)] = shardOf(rules, userOf(t, l.text))
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcvs := []*receiver.Receiver{receiver.Start(t, receiver.Options{}), receiver.Start(t, receiver.Options{})}
		aggs := startAggregators(t, fb, rcvs, "aggregator-0", "aggregator-1")
		edges := startEdges(t, fb, [2]string{"edge-sharded.conf", "edge-sharded.yaml"}, map[string]int{
			"k8s-secret-enum-aggregator-0.k8s-secret-enum.svc": aggs[0].forward,
			"k8s-secret-enum-aggregator-1.k8s-secret-enum.svc": aggs[1].forward,
		})
		route := func(a int, l line) bool { return shardOfLine[string(l.text)] == a }
		for _, b := range batches(lines, t0, batchSpan) {
			feed(t, edges, b, aggs, route)
			for _, a := range aggs {
				a.waitRecords(t)
			}
		}
		stopAll(t, edges, aggs)
		var union []map[string]any
		from := map[string]map[int]bool{}
		for i, rcv := range rcvs {
			got := received(t, rcv.Alerts())
			for _, a := range got {
				u := alertUser(a)
				if from[u] == nil {
					from[u] = map[int]bool{}
				}
				from[u][i] = true
				if sh := shardOf(rules, u); sh != i {
					t.Errorf("%s (shard %d) alerts from aggregator-%d", u, sh, i)
				}
			}
			union = append(union, got...)
			t.Logf("aggregator-%d: %d alerts, %d records", i, len(got), aggs[i].records)
		}
		for u, aggs := range from {
			if len(aggs) != 1 {
				t.Errorf("%s alerts from %d aggregators", u, len(aggs))
			}
		}
		if d := model.Compare(byStampAndID(union), want); d != nil {
			t.Errorf("the alerts of the two aggregators differ from the rule's on the merged log:\n%s", d)
		}
	})
}
