package flb

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// TestAggregatorReplaysAcknowledged: the aggregator's forward input
// acknowledges a chunk once it holds it, before the plugin reads it; the
// edges then forget it. With the shipped storage.path and storage.type
// filesystem, what the aggregator holds survives a SIGKILL: here every
// event reaches the aggregator and is acknowledged (the edges' buffers are
// empty) while its flush is held back (Flush 60), it is killed before the
// plugin has read one record, and restarted; the records come back from
// its storage.path and the alerts are exactly the rule's on the merged
// log.
func TestAggregatorReplaysAcknowledged(t *testing.T) {
	// The backlog comes back as the edges sent it, one node's events after
	// another's: reorder_delay covers its whole span of event time (the
	// generator's harvests run past the span it is given), as it must
	// cover an outage's (README "Aggregator topology").
	lines := clusterTraffic(7, t0, time.Minute, roundRobin(harvest(lbClient, 10*time.Second, 5*time.Second,
		"lb-1", "lb-2", "lb-3", "lb-4", "lb-5", "lb-6"), 900000))
	span := lines[len(lines)-1].at.Sub(lines[0].at)
	delay := (span + time.Minute).Truncate(time.Minute)
	s := model.Defaults()
	s.ReorderDelay = delay
	want := modelAlerts(t, s, lines)
	checkSpread(t, s, lines, want)
	// The last auditID each node logs: once it is in the aggregator's
	// storage, so is the rest of that node's log (one worker per output,
	// chunks acknowledged in order).
	last := map[int]string{}
	for _, l := range lines {
		if m := auditIDRE.FindSubmatch(l.text); m != nil {
			last[l.node] = string(m[1])
		}
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcv := receiver.Start(t, receiver.Options{})
		a := layAggregator(t, "aggregator.conf", "aggregator", rcv.URL()+"/alerts", delay.String())
		flush := regexp.MustCompile(`(?mi)^(\s*flush\s+)` + regexp.QuoteMeta(testFlush) + `\s*$`)
		conf := string(readFile(t, a.config))
		if !flush.MatchString(conf) {
			t.Fatalf("%s: no Flush %s", a.config, testFlush)
		}
		writeFile(t, a.config, []byte(flush.ReplaceAllString(conf, "${1}60")))
		a.start(t, fb)
		edges := startEdges(t, fb, [2]string{"edge.conf", "edge.yaml"},
			map[string]int{"k8s-secret-enum-aggregator-a.k8s-secret-enum.svc": a.forward},
			"k8s-secret-enum-aggregator-b.k8s-secret-enum.svc")
		feed(t, edges, batch{lines: lines}, []*aggregator{a}, nil)
		deadline := time.Now().Add(waitLimit)
		for !holdsAll(a.storage, last) {
			if time.Now().After(deadline) {
				t.Fatalf("the aggregator's storage.path does not hold every node's last event after %v", waitLimit)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := a.recordsRead(); n != 0 {
			t.Fatalf("the plugin read %d records before the kill: Flush 60 did not hold the flush back", n)
		}
		a.kill(t)
		a.recordsAtStart = 0 // nothing was read: every record is still to come
		writeFile(t, a.config, []byte(conf))
		a.start(t, fb)
		a.waitRecords(t)
		stopAll(t, edges, []*aggregator{a})
		if d := model.Compare(received(t, rcv.Alerts()), want); d != nil {
			t.Errorf("the alerts differ from the rule's on the merged log:\n%s", d)
		} else {
			t.Logf("%d records over %v of event time replayed from the aggregator's storage.path (reorder_delay %v); %d alerts, as the model",
				a.records, span.Round(time.Second), delay, len(want))
		}
	})
}

// holdsAll reports whether the files under dir hold every id.
func holdsAll(dir string, ids map[int]string) bool {
	var all strings.Builder
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(path); err == nil {
				all.Write(b)
			}
		}
		return nil
	})
	for _, id := range ids {
		if !strings.Contains(all.String(), id) {
			return false
		}
	}
	return true
}
