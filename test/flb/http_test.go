package flb

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// eventList wraps audit events the way the API server's webhook backend
// posts them.
func eventList(items [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// d. The http input receiving the API server's audit webhook: EventList
// POSTs of 1 to 400 events (the API server's default largest batch), one of
// them over Fluent Bit's default 4M buffer, to / (the input's Tag) and to
// /kube.audit (the path as the tag).
//
//   - ciRunner reads 3 names at 2s, 2.5s, 3s: `new` at 3s.
//   - mallory reads 4 names at 5s, 6s, 7s, 8s: `new` at 7s, `update` at
//     7s+5m (all four names) at exit.
//   - intruder reads 3 names at 15s, 15.1s, 15.2s, 1.4 MB RequestResponse
//     events each: `new` at 15.2s.
//   - scanner reads 2 names: nothing.
func TestHTTPWebhook(t *testing.T) {
	const mb = 1 << 20
	s := noise(5, 1200, 0, 20*time.Millisecond)
	s = append(s, harvest(ciRunner, 2*time.Second, 500*time.Millisecond, "db-password", "api-token", "registry-creds")...)
	s = append(s, harvest(mallory, 5*time.Second, time.Second, "m-a", "m-b", "m-c", "m-d")...)
	for _, e := range harvest(intruder, 15*time.Second, 100*time.Millisecond, "i-a", "i-b", "i-c") {
		e.payload = 1400 << 10
		s = append(s, e)
	}
	s = append(s, harvest(scanner, 20*time.Second, time.Second, "cache-a", "cache-b")...)
	wants := []want{
		{typ: "new", c: ciRunner, at: 3 * time.Second, names: []string{"db-password", "api-token", "registry-creds"}},
		{typ: "new", c: mallory, at: 7 * time.Second, names: []string{"m-a", "m-b", "m-c"}},
		{typ: "update", c: mallory, at: 7*time.Second + 5*time.Minute, names: []string{"m-a", "m-b", "m-c", "m-d"}},
		{typ: "new", c: intruder, at: 15200 * time.Millisecond, names: []string{"i-a", "i-b", "i-c"}},
	}
	lines := s.lines()
	sizes := []int{1, 7, 50, 400, 3, 120, 2, 400, 33}
	var batches [][]byte
	largest := 0
	for i, j := 0, 0; i < len(lines); j++ {
		n := min(sizes[j%len(sizes)], len(lines)-i)
		batches = append(batches, eventList(lines[i:i+n]))
		largest = max(largest, len(batches[len(batches)-1]))
		i += n
	}
	if largest <= 4*mb {
		t.Fatalf("the largest batch is %d bytes: want one over Fluent Bit's default 4M buffer", largest)
	}

	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcv := receiver.Start(t, receiver.Options{})
		addr := freeAddr(t)
		_, port, _ := net.SplitHostPort(addr)
		run := runFluentBit(t, fb, configPath(t, "http.conf"), "HTTP_PORT="+port, "ALERT_URL="+rcv.URL()+"/alerts")
		run.started(0)
		client := &http.Client{Timeout: 30 * time.Second}
		for i, body := range batches {
			path := "/"
			if i%2 == 1 {
				path = "/kube.audit"
			}
			postWhenUp(t, client, "http://"+addr+path, body, run)
		}
		if _, err := rcv.WaitForAlerts(len(wants)-1, waitLimit); err != nil {
			t.Fatal(err)
		}
		run.stopClean()
		exactly(t, rcv.Alerts(), wants...)
		logHasNoMarker(t, run.name, run.Output())
		if !strings.Contains(run.Output(), fmt.Sprintf("records=%d ", len(batches))) {
			t.Errorf("want %d records (one EventList each) in the stats line", len(batches))
		}
	})
}

// postWhenUp posts body as the API server does and wants 2xx; until the
// input listens (it starts with Fluent Bit's engine, after the plugin), a
// refused connection is tried again.
func postWhenUp(t *testing.T, c *http.Client, url string, body []byte, run *fluentBitRun) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		resp, err := c.Post(url, "application/json", bytes.NewReader(body))
		if err == nil {
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("POST %s (%d bytes): %s %s", url, len(body), resp.Status, msg)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST %s: %v", url, err)
		}
		select {
		case <-run.done:
			t.Fatalf("Fluent Bit exited: %v", run.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
