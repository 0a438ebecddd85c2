package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// Source is one plugin instance as the endpoint sees it.
type Source interface {
	// Metrics returns the instance's counters. It is called from the
	// scrape's goroutine and must not wait on the network or the disk.
	Metrics() Snapshot
	// Healthy returns nil while the instance works, else what is wrong.
	Healthy() error
}

// Member is an instance's place on a server; Leave gives it up.
type Member struct {
	srv    *server
	output string
	src    Source
	once   sync.Once
}

// Addr is the address the server listens on (the configured one, with
// the port the system chose when it was 0).
func (m *Member) Addr() string { return m.srv.ln.Addr().String() }

// servers holds the process's servers by configured address.
var servers = struct {
	sync.Mutex
	byAddr map[string]*server
}{byAddr: map[string]*server{}}

type server struct {
	addr string
	ln   net.Listener
	http *http.Server
	log  *logging.Logger
	done chan struct{} // Serve returned

	mu      sync.Mutex
	current map[string]*Member // by output label
	joined  int                // members that have not left, replaced ones included
}

// Join adds src, labelled output, to the server on addr, starting one
// when this process has none there yet. A listen error (bad address, port
// in use) is returned as is, for the caller to report with the setting's
// name. log is the first member's logger: it reports the server's own
// problems.
func Join(addr, output string, src Source, lg *logging.Logger) (*Member, error) {
	servers.Lock()
	defer servers.Unlock()
	s := servers.byAddr[addr]
	if s == nil {
		var err error
		if s, err = start(addr, lg); err != nil {
			return nil, err
		}
		servers.byAddr[addr] = s
	}
	m := &Member{srv: s, output: output, src: src}
	s.mu.Lock()
	if _, taken := s.current[output]; taken {
		lg.Infof("metrics on %s: output %q is taken over by this instance (hot reload)", addr, output)
	}
	s.current[output] = m
	s.joined++
	s.mu.Unlock()
	return m, nil
}

// Leave removes the member; the last one to leave a server closes it.
// Calling it again does nothing.
func (m *Member) Leave() {
	if m == nil {
		return
	}
	m.once.Do(func() {
		s := m.srv
		servers.Lock()
		defer servers.Unlock()
		s.mu.Lock()
		if s.current[m.output] == m {
			delete(s.current, m.output)
		}
		s.joined--
		last := s.joined == 0
		s.mu.Unlock()
		if last {
			delete(servers.byAddr, s.addr)
			// Close, not Shutdown: a scrape in flight must not hold up
			// Fluent Bit's exit.
			s.http.Close()
			<-s.done
		}
	})
}

func start(addr string, lg *logging.Logger) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &server{addr: addr, ln: ln, log: lg, done: make(chan struct{}), current: map[string]*Member{}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s}, collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            errorLog{lg},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("/healthz", s.healthz)
	s.http = &http.Server{
		Handler:           recoverer(lg, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(errorLog{lg}, "", 0),
	}
	go func() {
		defer close(s.done)
		defer func() {
			if r := recover(); r != nil {
				lg.Errorf("metrics on %s: panic in the server: %v\n%s", addr, r, debug.Stack())
			}
		}()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			lg.Errorf("metrics on %s: server stopped: %v", addr, err)
		}
	}()
	lg.Infof("metrics: serving http://%s/metrics and /healthz", ln.Addr())
	return s, nil
}

// members returns the current members, sorted by label.
func (s *server) members() []*Member {
	s.mu.Lock()
	out := make([]*Member, 0, len(s.current))
	for _, m := range s.current {
		out = append(out, m)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].output < out[j].output })
	return out
}

// healthz answers 200 when every instance on this server is healthy, 503
// otherwise; the body has one line per instance.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var b bytes.Buffer
	status := http.StatusOK
	ms := s.members()
	if len(ms) == 0 {
		status = http.StatusServiceUnavailable
		b.WriteString("no output running\n")
	}
	for _, m := range ms {
		if err := healthOf(m); err != nil {
			status = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "output %s: %v\n", m.output, err)
		} else {
			fmt.Fprintf(&b, "output %s: ok\n", m.output)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func healthOf(m *Member) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("health check panicked: %v", r)
		}
	}()
	return m.src.Healthy()
}

// collector turns the members' snapshots into metrics at each scrape.
type collector struct{ s *server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, mt := range table {
		ch <- mt.desc
	}
	ch <- watermark
}

// Collect runs in a goroutine of the registry's: a panic here would not be
// caught by the HTTP server and would take Fluent Bit down.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.s.members() {
		c.collectOne(m, ch)
	}
}

func (c collector) collectOne(m *Member, ch chan<- prometheus.Metric) {
	defer func() {
		if r := recover(); r != nil {
			if c.s.log.Every("metrics.panic", time.Minute) {
				c.s.log.Errorf("metrics: panic while reading output %s: %v\n%s", m.output, r, debug.Stack())
			}
			ch <- prometheus.NewInvalidMetric(watermark, fmt.Errorf("output %s: %v", m.output, r))
		}
	}()
	snap := m.src.Metrics()
	for _, mt := range table {
		for i, v := range mt.value(&snap) {
			labels := []string{m.output}
			if mt.label != nil {
				labels = append(labels, mt.label[i])
			}
			ch <- prometheus.MustNewConstMetric(mt.desc, mt.kind, v, labels...)
		}
	}
	if snap.Watermark != 0 {
		ch <- prometheus.MustNewConstMetric(watermark, prometheus.GaugeValue, float64(snap.Watermark)/1e9, m.output)
	}
}

// recoverer answers 500 instead of letting a handler's panic reach
// net/http (which would log it and drop the connection).
func recoverer(lg *logging.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				if lg.Every("metrics.handler", time.Minute) {
					lg.Errorf("metrics: panic serving %s: %v\n%s", r.URL.Path, v, debug.Stack())
				}
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// errorLog passes promhttp's and net/http's complaints (a client that
// went away, a malformed request) to the plugin's log, at most once a
// minute.
type errorLog struct{ lg *logging.Logger }

func (e errorLog) Println(v ...any) { e.print(fmt.Sprint(v...)) }

func (e errorLog) Write(p []byte) (int, error) {
	e.print(string(p))
	return len(p), nil
}

func (e errorLog) print(s string) {
	if e.lg.Every("metrics.http", time.Minute) {
		e.lg.Warnf("metrics: %s", strings.TrimSpace(s))
	}
}
