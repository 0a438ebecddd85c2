// Package receiver is an HTTP(S) endpoint that records what the plugin
// POSTs and can misbehave on demand: answer an error status (with
// Retry-After), answer slowly, reset connections, or go down (connections
// refused) and come back on the same address.
//
// Bodies are read as a JSON array of alerts, as JSON lines
// (application/x-ndjson), or as any sequence of JSON values; gzip
// Content-Encoding is undone first. Alerts() holds the alerts of requests
// that were answered 2xx; Requests() holds every request, whatever the
// answer. All methods are safe for concurrent use.
package receiver

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultIDPath is where an alert's id is looked up.
const DefaultIDPath = "alert.id"

// MaxBody is the largest body read; the rest is dropped (413).
const MaxBody = 64 << 20

// Options configures a Receiver.
type Options struct {
	// Addr to listen on; default "127.0.0.1:0" (a free port).
	Addr string
	// TLS serves HTTPS with a certificate for 127.0.0.1, ::1 and localhost
	// signed by a fresh CA (see CAFile).
	TLS bool
	// IDPath is the dotted path of an alert's id; default "alert.id",
	// matching {"alert":{"id":...}} as well as a flat {"alert.id":...}.
	IDPath string
	// SuccessStatus answers good requests; default 200.
	SuccessStatus int
	// OnAlert, if set, is called for every accepted alert (from the
	// handler goroutine, so calls may run concurrently).
	OnAlert func(Alert)
	// Logf, if set, gets one line per request.
	Logf func(format string, args ...any)
}

// Alert is one alert object found in a request body.
type Alert struct {
	Fields  map[string]any
	Raw     json.RawMessage
	ID      string // value at IDPath ("" if absent; numbers etc. formatted with %v)
	Request int    // index of the request that carried it
	Time    time.Time
}

// Get looks up a dotted path (see Lookup).
func (a Alert) Get(path string) (any, bool) { return Lookup(a.Fields, path) }

// Request is one HTTP request as received.
type Request struct {
	Index       int
	Time        time.Time // arrival (headers read)
	Method      string
	URI         string
	Proto       string
	Header      http.Header
	ContentType string
	RawBody     []byte // as sent
	Body        []byte // after undoing Content-Encoding: gzip
	Status      int    // status answered; 0 when the connection was reset or the client left
	Fault       string // "" (normal), "status", "reset", "auth", "client-gone", "too-large"
	Alerts      []Alert
	ParseError  string
	Done        time.Time // when the answer was written
}

// Accepted reports whether the request got a 2xx answer.
func (r Request) Accepted() bool { return r.Status >= 200 && r.Status < 300 }

// Receiver is the HTTP(S) endpoint.
type Receiver struct {
	opts   Options
	addr   string // fixed after the first listen
	scheme string

	cert   tls.Certificate
	caPEM  []byte
	caFile string
	tmpDir string

	mu        sync.Mutex
	srv       *http.Server
	down      bool
	closed    bool
	downCh    chan struct{} // closed when going down
	requests  []Request
	changed   chan struct{}
	status    int
	statusN   int // remaining requests for the status fault; < 0: until changed
	retryAft  string
	resetN    int // remaining connection resets; < 0: until changed
	delay     time.Duration
	reqHeader [2]string
	serving   sync.WaitGroup
	held      int // requests waiting out a Delay
}

// New starts a Receiver.
func New(o Options) (*Receiver, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.IDPath == "" {
		o.IDPath = DefaultIDPath
	}
	if o.SuccessStatus == 0 {
		o.SuccessStatus = http.StatusOK
	}
	r := &Receiver{opts: o, scheme: "http", changed: make(chan struct{}), downCh: make(chan struct{})}
	if o.TLS {
		r.scheme = "https"
		if err := r.makeCerts(); err != nil {
			return nil, err
		}
	}
	if err := r.listen(o.Addr); err != nil {
		r.cleanup()
		return nil, err
	}
	return r, nil
}

// Start is New for tests: it fails t on error and closes the receiver when
// the test ends.
func Start(t testing.TB, o Options) *Receiver {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) listen(addr string) error {
	var l net.Listener
	var err error
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		l, err = net.Listen("tcp", addr)
		if err == nil || wait > time.Second {
			break
		}
		time.Sleep(wait) // the old socket may linger for a moment
	}
	if err != nil {
		return fmt.Errorf("receiver: listen %s: %w", addr, err)
	}
	if r.addr == "" {
		r.addr = l.Addr().String()
	}
	if r.opts.TLS {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{r.cert}, MinVersion: tls.VersionTLS12})
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	r.mu.Lock()
	r.srv = srv
	r.down = false
	r.downCh = make(chan struct{})
	r.mu.Unlock()
	r.serving.Add(1)
	go func() {
		defer r.serving.Done()
		_ = srv.Serve(l)
	}()
	return nil
}

// URL is the base URL, e.g. http://127.0.0.1:34567 (no trailing slash).
func (r *Receiver) URL() string { return r.scheme + "://" + r.addr }

// Addr is host:port.
func (r *Receiver) Addr() string { return r.addr }

// CAFile is the path of the CA certificate (PEM) the client must trust in
// TLS mode; "" otherwise.
func (r *Receiver) CAFile() string { return r.caFile }

// CAPEM is the CA certificate in PEM form (nil without TLS).
func (r *Receiver) CAPEM() []byte { return r.caPEM }

// Client returns an http.Client that trusts the receiver's CA.
func (r *Receiver) Client() *http.Client {
	tr := &http.Transport{}
	if r.caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(r.caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Close stops the receiver for good and removes the CA file.
func (r *Receiver) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	srv := r.srv
	if !r.down {
		r.down = true
		close(r.downCh)
	}
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	r.serving.Wait()
	r.cleanup()
	r.notify()
}

func (r *Receiver) cleanup() {
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
	}
}

// ---- faults ----

// Forever, as a count, keeps a fault on until it is changed or Heal is called.
const Forever = -1

// RespondStatus answers the next count requests with status (count < 0,
// e.g. Forever: every request until changed; count 0 or status 0: stop),
// adding a Retry-After header when retryAfter is not "".
func (r *Receiver) RespondStatus(status, count int, retryAfter string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if status == 0 || count == 0 {
		r.status, r.statusN, r.retryAft = 0, 0, ""
		return
	}
	r.status, r.statusN, r.retryAft = status, max(count, Forever), retryAfter
}

// ResetConnections closes the connection without an answer (SO_LINGER 0,
// so the client sees a reset) for the next count requests (count < 0, e.g.
// Forever: every request until changed; 0: stop). The request is read and
// recorded first, with Status 0 and Fault "reset".
func (r *Receiver) ResetConnections(count int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resetN = max(count, Forever)
}

// Delay holds every answer (and reset) back by d; 0 clears it.
func (r *Receiver) Delay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

// RequireHeader answers 401 to requests whose header key is not value;
// RequireHeader("", "") clears it.
func (r *Receiver) RequireHeader(key, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqHeader = [2]string{key, value}
}

// Heal clears every fault (status, reset, delay, required header); a down
// receiver stays down until Up.
func (r *Receiver) Heal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.statusN, r.retryAft, r.resetN, r.delay, r.reqHeader = 0, 0, "", 0, 0, [2]string{}
}

// Down closes the listener and every open connection: new connections are
// refused until Up.
func (r *Receiver) Down() {
	r.mu.Lock()
	if r.down || r.closed {
		r.mu.Unlock()
		return
	}
	r.down = true
	close(r.downCh)
	srv := r.srv
	r.mu.Unlock()
	_ = srv.Close()
	r.serving.Wait()
}

// Up listens again on the same address.
func (r *Receiver) Up() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return errors.New("receiver: closed")
	}
	if !r.down {
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	return r.listen(r.addr)
}

// IsDown reports whether the receiver is down.
func (r *Receiver) IsDown() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down
}

// ---- records ----

// Requests returns every request received so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Alerts returns the alerts of accepted (2xx) requests in arrival order.
func (r *Receiver) Alerts() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alertsLocked(true)
}

// AllAlerts also includes alerts of requests that were refused.
func (r *Receiver) AllAlerts() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.alertsLocked(false)
}

func (r *Receiver) alertsLocked(acceptedOnly bool) []Alert {
	var out []Alert
	for _, q := range r.requests {
		if acceptedOnly && !q.Accepted() {
			continue
		}
		out = append(out, q.Alerts...)
	}
	return out
}

// AlertIDs returns the ids of the accepted alerts (duplicates kept).
func (r *Receiver) AlertIDs() []string {
	var ids []string
	for _, a := range r.Alerts() {
		ids = append(ids, a.ID)
	}
	return ids
}

// Unique returns the accepted alerts with duplicates removed (first one
// kept): same id, or for alerts without an id, the same JSON.
func (r *Receiver) Unique() []Alert { return Dedupe(r.Alerts()) }

// Dedupe removes alerts whose id (or, without an id, whose JSON) was seen.
func Dedupe(alerts []Alert) []Alert {
	seen := map[string]bool{}
	var out []Alert
	for _, a := range alerts {
		key := "id:" + a.ID
		if a.ID == "" {
			var b bytes.Buffer
			if json.Compact(&b, a.Raw) == nil {
				key = "raw:" + b.String()
			} else {
				key = "raw:" + string(a.Raw)
			}
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, a)
		}
	}
	return out
}

// Reset forgets the recorded requests (faults stay).
func (r *Receiver) Reset() {
	r.mu.Lock()
	r.requests = nil
	r.mu.Unlock()
	r.notify()
}

func (r *Receiver) notify() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// waitFor polls cond whenever something is recorded, until timeout.
func (r *Receiver) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond()
		}
	}
}

// WaitForAlerts waits until at least n accepted alerts arrived and
// returns all accepted alerts.
func (r *Receiver) WaitForAlerts(n int, timeout time.Duration) ([]Alert, error) {
	var got []Alert
	if r.waitFor(timeout, func() bool { got = r.Alerts(); return len(got) >= n }) {
		return got, nil
	}
	return got, fmt.Errorf("receiver: %d alerts after %v, want %d (%s)", len(got), timeout, n, r.summary())
}

// WaitForUnique waits until at least n distinct accepted alerts arrived.
func (r *Receiver) WaitForUnique(n int, timeout time.Duration) ([]Alert, error) {
	var got []Alert
	if r.waitFor(timeout, func() bool { got = r.Unique(); return len(got) >= n }) {
		return got, nil
	}
	return got, fmt.Errorf("receiver: %d unique alerts after %v, want %d (%s)", len(got), timeout, n, r.summary())
}

// WaitForRequests waits until at least n requests were answered (or reset).
// WaitForHeld waits until n requests are being held by Delay (they are in
// Requests() only once answered).
func (r *Receiver) WaitForHeld(n int, timeout time.Duration) error {
	if r.waitFor(timeout, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.held >= n }) {
		return nil
	}
	return fmt.Errorf("receiver: fewer than %d requests held after %v", n, timeout)
}

func (r *Receiver) WaitForRequests(n int, timeout time.Duration) ([]Request, error) {
	var got []Request
	if r.waitFor(timeout, func() bool { got = r.Requests(); return len(got) >= n }) {
		return got, nil
	}
	return got, fmt.Errorf("receiver: %d requests after %v, want %d (%s)", len(got), timeout, n, r.summary())
}

func (r *Receiver) summary() string {
	reqs := r.Requests()
	var parts []string
	for _, q := range reqs {
		s := strconv.Itoa(q.Status)
		if q.Fault != "" {
			s += "/" + q.Fault
		}
		if q.ParseError != "" {
			s += "/parse-error"
		}
		parts = append(parts, fmt.Sprintf("%s:%d alerts", s, len(q.Alerts)))
	}
	return fmt.Sprintf("%d requests [%s]", len(reqs), strings.Join(parts, ", "))
}

// ---- handler ----

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	arrival := time.Now()
	raw, readErr := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	q := Request{
		Time: arrival, Method: req.Method, URI: req.RequestURI, Proto: req.Proto,
		Header: req.Header.Clone(), ContentType: req.Header.Get("Content-Type"), RawBody: raw, Body: raw,
	}
	if strings.EqualFold(req.Header.Get("Content-Encoding"), "gzip") {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				q.Body = b
			} else {
				q.ParseError = "gzip: " + err.Error()
			}
		} else {
			q.ParseError = "gzip: " + err.Error()
		}
	}
	if readErr != nil && q.ParseError == "" {
		q.ParseError = "read: " + readErr.Error()
	}
	if q.ParseError == "" {
		q.Alerts, q.ParseError = parseAlerts(q.Body, r.opts.IDPath, arrival)
	}

	// decide the answer
	r.mu.Lock()
	delay, downCh := r.delay, r.downCh
	reset := r.resetN != 0
	if r.resetN > 0 {
		r.resetN--
	}
	status, retryAfter, fault := r.opts.SuccessStatus, "", ""
	switch {
	case reset:
		fault = "reset"
	case len(raw) > MaxBody:
		status, fault = http.StatusRequestEntityTooLarge, "too-large"
	case r.reqHeader[0] != "" && req.Header.Get(r.reqHeader[0]) != r.reqHeader[1]:
		status, fault = http.StatusUnauthorized, "auth"
	case r.statusN != 0:
		status, retryAfter, fault = r.status, r.retryAft, "status"
		if r.statusN > 0 {
			r.statusN--
		}
	case q.ParseError != "":
		status, fault = http.StatusBadRequest, "bad-body"
	}
	r.mu.Unlock()

	if delay > 0 {
		r.mu.Lock()
		r.held++
		r.mu.Unlock()
		r.notify()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
		case <-downCh:
		}
		t.Stop()
		r.mu.Lock()
		r.held--
		r.mu.Unlock()
	}
	if req.Context().Err() != nil || isClosed(downCh) {
		status, fault = 0, "client-gone"
		if isClosed(downCh) {
			fault = "down"
		}
	} else if fault == "reset" {
		status = 0
	}
	// record before answering: a client that got its answer finds the
	// request in Requests()/Alerts() already
	q.Status, q.Fault, q.Done = status, fault, time.Now()
	r.mu.Lock()
	q.Index = len(r.requests)
	for i := range q.Alerts {
		q.Alerts[i].Request = q.Index
	}
	r.requests = append(r.requests, q)
	r.mu.Unlock()
	r.notify()
	if r.opts.Logf != nil {
		r.opts.Logf("receiver: %s %s %d bytes %d alerts -> %d %s", q.Method, q.URI, len(q.RawBody), len(q.Alerts), q.Status, q.Fault)
	}
	if r.opts.OnAlert != nil && q.Accepted() {
		for _, a := range q.Alerts {
			r.opts.OnAlert(a)
		}
	}

	switch {
	case fault == "reset":
		resetConn(w)
		return
	case status == 0:
		panic(http.ErrAbortHandler) // no answer at all
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if q.Accepted() {
		fmt.Fprintf(w, `{"accepted":%d}`, len(q.Alerts))
	} else {
		fmt.Fprintf(w, `{"error":%q}`, fault)
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// resetConn hijacks the connection and closes it with SO_LINGER 0, so the
// client sees a reset rather than an answer.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	nc := conn
	if tc, ok := conn.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = nc.Close()
}

// parseAlerts reads a JSON array of objects, JSON lines, or any sequence
// of JSON objects/arrays.
func parseAlerts(body []byte, idPath string, at time.Time) ([]Alert, string) {
	var out []Alert
	dec := json.NewDecoder(bytes.NewReader(body))
	add := func(raw json.RawMessage) string {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return fmt.Sprintf("alert is not a JSON object: %.100s", raw)
		}
		a := Alert{Fields: m, Raw: append(json.RawMessage(nil), raw...), Time: at}
		if v, ok := Lookup(m, idPath); ok && v != nil {
			if s, ok := v.(string); ok {
				a.ID = s
			} else {
				a.ID = fmt.Sprint(v)
			}
		}
		out = append(out, a)
		return ""
	}
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return out, ""
		}
		if err != nil {
			return out, "json: " + err.Error()
		}
		t := bytes.TrimSpace(raw)
		if len(t) > 0 && t[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(t, &items); err != nil {
				return out, "json: " + err.Error()
			}
			for _, it := range items {
				if msg := add(it); msg != "" {
					return out, msg
				}
			}
			continue
		}
		if msg := add(raw); msg != "" {
			return out, msg
		}
	}
}

// Lookup finds a dotted path in decoded JSON: "alert.id" matches
// m["alert"]["id"], m["alert.id"], or any split of the dots in between.
func Lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v, ok := Lookup(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// ---- certificates ----

func (r *Receiver) makeCerts() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "k8s-secret-enum test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	r.cert = tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}
	r.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if r.tmpDir, err = os.MkdirTemp("", "receiver-ca-"); err != nil {
		return err
	}
	r.caFile = filepath.Join(r.tmpDir, "ca.pem")
	return os.WriteFile(r.caFile, r.caPEM, 0o644)
}
