package deliver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// logBuf collects log lines; the logger writes from several goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines counts log lines containing sub.
func (l *logBuf) lines(sub string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

func newLog(t *testing.T) (*logging.Logger, *logBuf) {
	t.Helper()
	buf := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sender log:\n%s", buf.String())
		}
	})
	return logging.New(buf, logging.Debug, "test"), buf
}

func alertBody(id string) []byte {
	return fmt.Appendf(nil, `{"@timestamp":"2026-01-02T03:04:05Z","alert":{"id":%q,"type":"new"},"user":{"name":"system:serviceaccount:x:y"}}`, id)
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// fault decides the fate of request n (0-based); returning true means it
// wrote the response (or broke the connection) itself.
type fault func(w http.ResponseWriter, r *http.Request, n int) bool

// receiver is an alert endpoint that records what it accepted.
type receiver struct {
	mu       sync.Mutex
	requests int
	got      map[string]int
	order    []string
	headers  []http.Header
	bodies   [][]byte
	fault    atomic.Pointer[fault]
}

func newReceiver() *receiver { return &receiver{got: map[string]int{}} }

func (rc *receiver) setFault(f fault) {
	if f == nil {
		rc.fault.Store(nil)
		return
	}
	rc.fault.Store(&f)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := rc.requests
	rc.requests++
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.mu.Unlock()
	if f := rc.fault.Load(); f != nil && (*f)(w, r, n) {
		return
	}
	got, err := parseAlerts(r.Header.Get("Content-Type"), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	for _, id := range got {
		rc.got[id]++
		rc.order = append(rc.order, id)
	}
	rc.bodies = append(rc.bodies, body)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func parseAlerts(contentType string, body []byte) ([]string, error) {
	type alert struct {
		Alert struct {
			ID string `json:"id"`
		} `json:"alert"`
	}
	var out []string
	switch contentType {
	case "application/json":
		var as []alert
		if err := json.Unmarshal(body, &as); err != nil {
			return nil, err
		}
		for _, a := range as {
			out = append(out, a.Alert.ID)
		}
	case "application/x-ndjson":
		if len(body) == 0 || body[len(body)-1] != '\n' {
			return nil, fmt.Errorf("json lines body not newline-terminated")
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var a alert
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				return nil, err
			}
			out = append(out, a.Alert.ID)
		}
	default:
		return nil, fmt.Errorf("unexpected content type %q", contentType)
	}
	for _, id := range out {
		if id == "" {
			return nil, fmt.Errorf("alert without id")
		}
	}
	return out, nil
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

func (rc *receiver) has(want []string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range want {
		if rc.got[id] == 0 {
			return false
		}
	}
	return true
}

func (rc *receiver) missing(want []string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var m []string
	for _, id := range want {
		if rc.got[id] == 0 {
			m = append(m, id)
		}
	}
	return m
}

// firstOrder lists ids in the order the receiver first saw them.
func (rc *receiver) firstOrder() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, id := range rc.order {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// serveOn starts h on a given address, for a receiver that comes back
// where it was.
func serveOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Listener.Close()
	var err error
	for range 100 {
		if srv.Listener, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// deadAddr is an address nothing listens on (connection refused).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fastOpts are options with short waits so fault tests finish quickly.
func fastOpts(url string) Options {
	return Options{
		URL:          url,
		TLSVerify:    true,
		RetryMax:     NoRetryLimit,
		Timeout:      2 * time.Second,
		QueueSize:    100,
		BatchMax:     10,
		BackoffBase:  5 * time.Millisecond,
		BackoffMax:   20 * time.Millisecond,
		DrainTimeout: 3 * time.Second,
	}
}

func mustNew(t *testing.T, o Options, l *logging.Logger) *Sender {
	t.Helper()
	s, err := New(o, l)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueueAll(t *testing.T, s *Sender, want []string) {
	t.Helper()
	for _, id := range want {
		if !s.Enqueue(id, alertBody(id)) {
			t.Fatalf("Enqueue(%s) refused; stats %+v", id, s.Stats())
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func waitDelivered(t *testing.T, rc *receiver, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !rc.has(want) {
		if time.Now().After(deadline) {
			t.Fatalf("receiver is missing %v", rc.missing(want))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkBalance asserts the Stats identities for a closed or idle sender
// that saw calls Enqueue calls.
func checkBalance(t *testing.T, st Stats, calls uint64) {
	t.Helper()
	if in := st.Enqueued + st.DroppedQueueFull + st.DroppedClosed + st.DroppedInvalid + st.SpoolDropped; in != calls {
		t.Errorf("Enqueue calls %d != accepted+refused %d: %+v", calls, in, st)
	}
	settled := int64(st.Sent+st.Rejected+st.DroppedRetriesExhausted+st.DroppedAtClose+st.DroppedUnencodable+st.SpoolCorrupt) + st.Pending
	if int64(st.Enqueued+st.Recovered) != settled {
		t.Errorf("accepted %d + recovered %d != settled+pending %d: %+v", st.Enqueued, st.Recovered, settled, st)
	}
}

// Fault builders.

func statusFor(first int, code int, header http.Header) fault {
	return func(w http.ResponseWriter, _ *http.Request, n int) bool {
		if n >= first {
			return false
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		return true
	}
}

// resetFor breaks the first requests with a TCP reset.
func resetFor(first int) fault {
	return func(w http.ResponseWriter, _ *http.Request, n int) bool {
		if n >= first {
			return false
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
		return true
	}
}

// slowFor answers the first requests after d, later than the client waits.
func slowFor(first int, d time.Duration) fault {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n >= first {
			return false
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
		return true
	}
}

// recordSleeps replaces backoff waits with short real ones and records what
// was asked for.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (sr *sleepRecorder) sleep(ctx context.Context, d time.Duration) bool {
	sr.mu.Lock()
	sr.waits = append(sr.waits, d)
	sr.mu.Unlock()
	select {
	case <-time.After(time.Millisecond):
		return true
	case <-ctx.Done():
		return false
	}
}

func (sr *sleepRecorder) all() []time.Duration {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return append([]time.Duration(nil), sr.waits...)
}
