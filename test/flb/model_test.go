package flb

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/model"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// Generated traffic (test/model's generator: an hour of realistic secret
// reads, noise and harvests, some lines EventLists) through a real Fluent
// Bit (tail + parser json, the rule's defaults), compared alert by alert,
// field by field, with the independent model of the rule on the same
// lines. A sentinel harvest an hour after the traffic tells when Fluent Bit
// has read everything; the model sees it too.
func TestGeneratedTrafficAgainstModel(t *testing.T) {
	const seed = 1
	s := model.Defaults()
	params := model.TrafficParams{Clean: true}
	lines := model.Generate(seed, params)
	start := params.Start
	if start.IsZero() {
		start = time.Date(2025, 11, 24, 16, 0, 0, 0, time.UTC)
	}
	end, _ := sentinel(start.Add(2 * time.Hour).Sub(t0))
	lines = append(lines, end.lines()...)
	want := model.Run(s, lines).Alerts
	if len(want) < 5 {
		t.Fatalf("seed %d: the model finds %d alerts; the traffic should hold several harvests", seed, len(want))
	}

	var conf strings.Builder
	fmt.Fprintf(&conf, `[SERVICE]
    Flush            1
    Grace            10
    Parsers_File     %s
    Coro_Stack_Size  65536
[INPUT]
    Name             tail
    Path             ${AUDIT_LOG}
    Tag              kube.audit
    Parser           json
    Read_from_Head   On
    Buffer_Max_Size  2M
    Skip_Long_Lines  On
[OUTPUT]
    Name             k8s_secret_enum
    Match            kube.audit
    alert_url        ${ALERT_URL}
    idle_timeout     0
    max_clock_skew   0
    stats_interval   0
`, configPath(t, "parsers.conf"))
	props := s.Props()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&conf, "    %s %s\n", k, props[k])
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		dir := t.TempDir()
		log, cfg := filepath.Join(dir, "audit.log"), filepath.Join(dir, "fluent-bit.conf")
		writeFile(t, log, joinLines(lines))
		writeFile(t, cfg, []byte(conf.String()))
		rcv := receiver.Start(t, receiver.Options{})
		run := runFluentBit(t, fb, cfg, "AUDIT_LOG="+log, "ALERT_URL="+rcv.URL()+"/alerts")
		waitForSentinel(t, rcv)
		run.stopClean()
		var got []map[string]any
		for _, a := range rcv.Alerts() {
			var m map[string]any
			if err := json.Unmarshal(a.Raw, &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
		if d := model.Compare(byStampAndID(got), byStampAndID(want)); d != nil {
			t.Errorf("seed %d (%s): Fluent Bit's alerts differ from the model's:\n%s", seed, s, d)
		}
		t.Logf("seed %d: %d alerts, as the model", seed, len(got))
	})
}

// byStampAndID orders alerts by @timestamp, then alert.id: the receiver
// gets them in the order they were sent, the model lists them in the order
// decided, and the two orders may differ between fingerprints.
func byStampAndID(alerts []map[string]any) []map[string]any {
	out := append([]map[string]any(nil), alerts...)
	key := func(a map[string]any) string {
		id, _ := a["alert"].(map[string]any)["id"].(string)
		return fmt.Sprint(a["@timestamp"]) + " " + id
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}
