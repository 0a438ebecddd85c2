package deliver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

// rawReceiver keeps every request as sent and answers with the statuses
// given, then 200.
type rawReceiver struct {
	mu       sync.Mutex
	headers  []http.Header
	bodies   [][]byte
	statuses []int
}

func (rr *rawReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rr.mu.Lock()
	n := len(rr.bodies)
	rr.headers = append(rr.headers, r.Header.Clone())
	rr.bodies = append(rr.bodies, body)
	status := http.StatusOK
	if n < len(rr.statuses) {
		status = rr.statuses[n]
	}
	rr.mu.Unlock()
	w.WriteHeader(status)
}

func (rr *rawReceiver) requests() ([]http.Header, [][]byte) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]http.Header(nil), rr.headers...), append([][]byte(nil), rr.bodies...)
}

func (rr *rawReceiver) count() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return len(rr.bodies)
}

// The README's worked example (section "Signed deliveries"), checked with
// openssl when it was written:
//
//	printf '%s.%s' 1735689600 "$BODY" | openssl dgst -sha256 -hmac 's3cr3t-k8s-secret-enum'
func TestSignWorkedExample(t *testing.T) {
	body := `{"alert":"secret_enumeration","user":"system:serviceaccount:ci:builder","count":42}`
	ts, sig := sign([]byte("s3cr3t-k8s-secret-enum"), time.Unix(1735689600, 0), []byte(body))
	if ts != "1735689600" || sig != "sha256=300d19126d43278bb733ea82c2bdc43fbb1c4942207f8190bbf4c0d0b380ad1e" {
		t.Errorf("got %s %s", ts, sig)
	}
}

func verify(key, ts, sig string, body []byte) bool {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(sig), []byte(want))
}

// Every attempt is signed at its own time; the key file is trimmed and
// re-read when it changes.
func TestSignedRetriesAndKeyRotation(t *testing.T) {
	rr := &rawReceiver{statuses: []int{503, 503}}
	srv := serve(t, rr)
	l, logs := newLog(t)
	key := filepath.Join(t.TempDir(), "hmac")
	writeFile(t, key, []byte("first-key\n"))
	var mu sync.Mutex
	clock := time.Unix(1735689600, 0)
	o := fastOpts(srv.URL)
	o.HMACSecretFile = key
	o.hooks = &testHooks{now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(7 * time.Second)
		return clock
	}}
	s := mustNew(t, o, l)
	s.Enqueue("a-1", alertBody("a-1"))
	waitFor(t, "three attempts", func() bool { return rr.count() == 3 })
	writeFile(t, key, []byte("  second-key-longer  "))
	s.Enqueue("a-2", alertBody("a-2"))
	waitFor(t, "the second alert", func() bool { return rr.count() == 4 })
	s.Close()

	hs, bodies := rr.requests()
	seen := map[string]bool{}
	for i, h := range hs {
		ts, sig := h.Get(TimestampHeader), h.Get(SignatureHeader)
		k := "first-key"
		if i == 3 {
			k = "second-key-longer"
		}
		if !verify(k, ts, sig, bodies[i]) {
			t.Errorf("request %d: signature %q of timestamp %q does not verify with %q", i, sig, ts, k)
		}
		if seen[ts] {
			t.Errorf("request %d: timestamp %s reused by a retry", i, ts)
		}
		seen[ts] = true
		if want := strconv.FormatInt(1735689600+7*int64(i+1), 10); ts != want {
			t.Errorf("request %d: timestamp %s, want %s", i, ts, want)
		}
	}
	if strings.Contains(logs.String(), "first-key") || strings.Contains(logs.String(), "second-key") {
		t.Error("key logged")
	}
}

func TestSplunkTokenAndFraming(t *testing.T) {
	rr := &rawReceiver{}
	srv := serve(t, rr)
	l, _ := newLog(t)
	tok := filepath.Join(t.TempDir(), "hec")
	writeFile(t, tok, []byte("0f3c-hec-token\n"))
	o := fastOpts(srv.URL + "/services/collector/event")
	o.Format = format.Format{Name: format.SplunkHEC, Host: "cp-1", Source: "k8s-secret-enum", Sourcetype: "_json"}
	o.SplunkTokenFile = tok
	s := mustNew(t, o, l)
	// Enqueued while the sender is busy with nothing: they may go in one
	// request or several, but every body is events back to back.
	want := ids("hec", 5)
	enqueueAll(t, s, want)
	waitFor(t, "5 events", func() bool {
		_, bodies := rr.requests()
		n := 0
		for _, b := range bodies {
			n += strings.Count(string(b), `"event":`)
		}
		return n == 5
	})
	s.Close()
	hs, bodies := rr.requests()
	for i, h := range hs {
		if h.Get("Authorization") != "Splunk 0f3c-hec-token" {
			t.Errorf("authorization %q", h.Get("Authorization"))
		}
		dec := json.NewDecoder(strings.NewReader(string(bodies[i])))
		for dec.More() {
			var ev struct {
				Time  float64         `json:"time"`
				Host  string          `json:"host"`
				Event json.RawMessage `json:"event"`
			}
			if err := dec.Decode(&ev); err != nil || ev.Time == 0 || ev.Host != "cp-1" || len(ev.Event) == 0 {
				t.Errorf("event %+v: %v in %s", ev, err, bodies[i])
			}
		}
	}
}

func TestOneAlertPerRequest(t *testing.T) {
	for _, name := range []format.Name{format.Slack, format.Falco} {
		t.Run(name.String(), func(t *testing.T) {
			rr := &rawReceiver{}
			srv := serve(t, rr)
			l, logs := newLog(t)
			o := fastOpts(srv.URL + "/services/T000/B000/XXXXsecretXXXX")
			o.Format = format.Format{Name: name}
			s := mustNew(t, o, l)
			enqueueAll(t, s, ids("one", 7))
			waitFor(t, "7 requests", func() bool { return rr.count() == 7 })
			st := s.Close()
			checkBalance(t, st, 7)
			_, bodies := rr.requests()
			for _, b := range bodies {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Errorf("body is not one JSON object: %v: %s", err, b)
				}
			}
			if name == format.Slack && strings.Contains(logs.String(), "XXXXsecretXXXX") {
				t.Error("the Slack webhook path (its credential) was logged")
			}
		})
	}
}

// A spool file a format cannot render is set aside and counted, and the
// alerts behind it still go out.
func TestUnrenderableSpoolFile(t *testing.T) {
	rr := &rawReceiver{}
	srv := serve(t, rr)
	l, _ := newLog(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, spoolName(1, "odd")), []byte(`{"not":"an alert"}`))
	writeFile(t, filepath.Join(dir, spoolName(2, "good")), alertBody("good"))
	o := fastOpts(srv.URL)
	o.Format = format.Format{Name: format.Alertmanager}
	o.SpoolDir, o.SpoolMaxBytes = dir, 1<<20
	s := mustNew(t, o, l)
	waitFor(t, "the good alert", func() bool { return rr.count() == 1 })
	st := s.Close()
	checkBalance(t, st, 0)
	if st.DroppedUnencodable != 1 || st.Sent != 1 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, corruptDir, spoolName(1, "odd"))); err != nil {
		t.Errorf("not set aside: %v", err)
	}
	_, bodies := rr.requests()
	if !strings.Contains(string(bodies[0]), `"alert_id":"good"`) {
		t.Errorf("body %s", bodies[0])
	}
}

// Alerts spooled by a run with one format are sent in the format of the
// next run: the spool keeps the ECS alert, rendered when it is sent.
func TestSpoolAcrossFormatChange(t *testing.T) {
	dir := t.TempDir()
	l, _ := newLog(t)
	o := fastOpts("http://" + deadAddr(t))
	o.SpoolDir, o.SpoolMaxBytes = dir, 1<<20
	s := mustNew(t, o, l)
	want := ids("carry", 3)
	enqueueAll(t, s, want)
	s.kill()

	rr := &rawReceiver{}
	srv := serve(t, rr)
	o.URL = srv.URL
	o.Format = format.Format{Name: format.Alertmanager, Suppress: time.Minute}
	s = mustNew(t, o, l)
	waitFor(t, "the spooled alerts", func() bool {
		_, bodies := rr.requests()
		n := 0
		for _, b := range bodies {
			n += strings.Count(string(b), `"labels":`)
		}
		return n == 3
	})
	st := s.Close()
	if st.Recovered != 3 || st.Sent != 3 {
		t.Errorf("stats %+v", st)
	}
	hs, bodies := rr.requests()
	for i, b := range bodies {
		var am []struct {
			Labels   map[string]string `json:"labels"`
			StartsAt string            `json:"startsAt"`
			EndsAt   string            `json:"endsAt"`
		}
		if err := json.Unmarshal(b, &am); err != nil || hs[i].Get("Content-Type") != "application/json" {
			t.Fatalf("not Alertmanager's array: %v: %s", err, b)
		}
		for _, a := range am {
			if a.Labels["alertname"] != format.AlertName || a.StartsAt != "2026-01-02T03:04:05.000Z" || a.EndsAt != "2026-01-02T03:05:05.000Z" {
				t.Errorf("alert %+v", a)
			}
		}
	}
}
