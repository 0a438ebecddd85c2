package flb

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// webhookBatches are the sizes of the EventLists an API server posts in
// turn (its webhook's batch mode sends up to 400 events per POST).
var webhookBatches = []int{1, 17, 400, 3, 60}

// TestAggregatorWebhook: three API servers post their events as EventLists
// (the audit webhook backend) to the aggregator's http input
// (deploy/aggregator/aggregator.yaml, path /kube.audit), their POSTs
// interleaved. lbClient's reads are spread over them, so that no API
// server alone sees three; the aggregator's alerts are exactly the rule's
// on the merged log.
func TestAggregatorWebhook(t *testing.T) {
	lines := clusterTraffic(6, t0, 12*time.Minute, spreadHarvest(4*time.Minute))
	s := aggregatorSettings()
	want := modelAlerts(t, s, lines)
	checkSpread(t, s, lines, want)

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcv := receiver.Start(t, receiver.Options{})
		a := layAggregator(t, "aggregator.yaml", "aggregator", rcv.URL()+"/alerts", aggregatorDelay)
		a.start(t, fb)
		url := fmt.Sprintf("http://127.0.0.1:%d/kube.audit", a.webhook)
		c := &http.Client{Timeout: 30 * time.Second}
		posts := 0
		for _, b := range batches(lines, t0, batchSpan) {
			per := make([][][]byte, len(nodeSkew))
			for _, l := range b.lines {
				per[l.node] = append(per[l.node], l.text)
			}
			// One EventList of each API server in turn, until all are sent.
			for left := true; left; {
				left = false
				for n := range per {
					if len(per[n]) == 0 {
						continue
					}
					k := min(webhookBatches[posts%len(webhookBatches)], len(per[n]))
					postWhenUp(t, c, url, eventList(per[n][:k]), a.run)
					per[n] = per[n][k:]
					posts++
					a.records++ // one record per POST
					left = true
				}
			}
			a.waitRecords(t)
		}
		a.run.stopClean()
		logHasNoMarker(t, a.run.name, a.run.Output())
		if d := model.Compare(received(t, rcv.Alerts()), want); d != nil {
			t.Errorf("the alerts differ from the rule's on the merged log:\n%s", d)
		} else {
			t.Logf("%d alerts from %d EventLists of %d events, as the model", len(want), posts, len(lines))
		}
	})
}
