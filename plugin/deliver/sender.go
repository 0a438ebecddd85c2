package deliver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// logInterval is how often a repeating condition (receiver down, queue
// full, ...) is logged; each line carries the running count.
const logInterval = 10 * time.Second

// stopGrace bounds how long Close waits for the sender goroutine once the
// drain deadline cancelled everything it can block on.
const stopGrace = 2 * time.Second

type item struct {
	id   string
	body []byte // the alert as enqueued (ECS JSON): what the spool keeps
	out  []byte // the alert rendered in the format, set when it joins a batch
	seq  uint64 // spool sequence; 0 when the alert exists in memory only
}

// batch is one request's worth of alerts; it outlives failed attempts and
// panics so that nothing in it is lost while retrying.
type batch struct {
	items    []item
	bytes    int
	attempts int
	payload  []byte // encoded once, resent as is
}

// Sender delivers alerts asynchronously; see the package documentation for
// the contract. Enqueue, Stats and Close are safe for concurrent use.
type Sender struct {
	opts    Options
	log     *logging.Logger
	url     string
	safeURL string
	client  *http.Client
	tr      *http.Transport
	token   *tokenFile // bearer or Splunk token
	scheme  string     // the token's Authorization scheme
	hmacKey *tokenFile // nil without HMACSecretFile
	spool   *spool     // nil without SpoolDir

	c counters

	// mu orders Enqueue against Close: once closed is set under the write
	// lock no alert can enter the queue, so the drain sees a final queue.
	mu     sync.RWMutex
	closed bool

	queue   chan item
	wake    chan struct{} // an alert went to the spool backlog
	closing chan struct{} // closed by Close: drain, then stop
	ctx     context.Context
	cancel  context.CancelFunc // drain deadline or kill: abort everything
	done    chan struct{}

	closeOnce sync.Once

	// Owned by the sender goroutine (read by Close after it exited).
	hand        *batch
	carry       []item // taken, did not fit the last batch: the next one starts with them
	failures    int    // consecutive failed attempts, for the "back again" line
	panicStreak int
	drainSeen   bool // the backoff wait was already cut once for Close
}

// New validates opts, opens the spool (adopting what a previous process
// left) and starts the sender goroutine.
func New(opts Options, log *logging.Logger) (*Sender, error) {
	if log == nil {
		log = logging.New(io.Discard, logging.Off, "")
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	s := &Sender{
		opts:    opts,
		log:     log,
		url:     u.String(),
		safeURL: safeURL(u, &opts.Format),
		queue:   make(chan item, opts.QueueSize),
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if s.client, s.tr, err = newClient(&opts, log); err != nil {
		return nil, err
	}
	switch {
	case opts.BearerTokenFile != "":
		s.token, err = newTokenFile("bearer token file", opts.BearerTokenFile, log)
		s.scheme = "Bearer"
	case opts.SplunkTokenFile != "":
		s.token, err = newTokenFile("splunk token file", opts.SplunkTokenFile, log)
		s.scheme = "Splunk"
	}
	if err != nil {
		return nil, err
	}
	if opts.HMACSecretFile != "" {
		if s.hmacKey, err = newTokenFile("hmac secret file", opts.HMACSecretFile, log); err != nil {
			return nil, err
		}
	}
	if !opts.TLSVerify && u.Scheme == "https" {
		log.Warnf("tls verification is off: the receiver's certificate is not checked, alerts and credentials can be intercepted")
	}
	if u.Scheme == "http" && (s.token != nil || opts.BasicUser != "") {
		log.Warnf("credentials are sent to %s over plain http", s.safeURL)
	}
	if opts.SpoolDir != "" {
		if s.spool, err = openSpool(opts.SpoolDir, opts.SpoolMaxBytes, log, &s.c, s.adopted); err != nil {
			return nil, err
		}
		if n := len(s.spool.backlog); n > 0 {
			s.c.recovered.Add(uint64(n))
			s.c.pending.Add(int64(n))
			log.Infof("spool %s: %d alerts (%d bytes) left by a previous run are sent first", s.spool.dir, n, s.spool.bytes)
			if s.spool.bytes > s.spool.max {
				log.Warnf("spool %s holds %d bytes, above its limit of %d: new alerts are refused until it drains", s.spool.dir, s.spool.bytes, s.spool.max)
			}
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	signed := ""
	if s.hmacKey != nil {
		signed = ", signed"
	}
	log.Infof("sending alerts to %s (format %v, queue %d, batch %d%s)", s.safeURL, opts.Format.Name, opts.QueueSize, opts.batchMax(), signed)
	go s.run()
	return s, nil
}

// Enqueue hands one alert over without waiting on the network. With a spool
// it returns after the alert is durably on disk. It returns false when the
// alert was refused; the refusal is counted and logged. body is copied.
func (s *Sender) Enqueue(id string, body []byte) bool {
	body, err := prepare(body, s.opts.maxBatchBytes())
	if err != nil {
		n := s.c.invalid.Add(1)
		if s.every("invalid") {
			s.log.Errorf("dropping alert %s: %v (%d invalid so far)", id, err, n)
		}
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		n := s.c.closed.Add(1)
		if s.every("closed") {
			s.log.Errorf("dropping alert %s: the sender is closed (%d dropped after close so far)", id, n)
		}
		return false
	}
	it := item{id: id, body: body}
	if s.spool != nil {
		return s.enqueueSpooled(it)
	}
	return s.enqueueMemory(it)
}

func (s *Sender) enqueueMemory(it item) bool {
	select {
	case s.queue <- it:
		s.c.enqueued.Add(1)
		s.c.pending.Add(1)
		return true
	default:
		n := s.c.queueFull.Add(1)
		if s.every("queuefull") {
			s.log.Errorf("alert queue full (%d alerts): dropping alert %s, the receiver is not keeping up (%d dropped so far)", s.opts.QueueSize, it.id, n)
		}
		return false
	}
}

func (s *Sender) enqueueSpooled(it item) bool {
	sp := s.spool
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.bytes+int64(len(it.body)) > sp.max {
		n := s.c.spoolDropped.Add(1)
		if s.every("spoolfull") {
			s.log.Errorf("spool %s full (%d of %d bytes): dropping alert %s (%d dropped so far)", sp.dir, sp.bytes, sp.max, it.id, n)
		}
		return false
	}
	seq, err := sp.writeLocked(it.id, it.body)
	if err != nil {
		// A broken disk should not cost the alert while memory has room.
		n := s.c.spoolErrors.Add(1)
		if s.every("spoolwrite") {
			s.log.Errorf("spool %s: cannot write alert %s: %v; keeping it in memory only (%d spool errors so far)", sp.dir, it.id, err, n)
		}
		return s.enqueueMemory(it)
	}
	it.seq = seq
	s.c.spooled.Add(1)
	s.c.enqueued.Add(1)
	s.c.pending.Add(1)
	if !sp.hasBacklogLocked() {
		select {
		case s.queue <- it:
			return true
		default:
		}
	}
	sp.pushBacklogLocked(spoolEntry{seq: seq, id: sanitizeID(it.id), size: int64(len(it.body))})
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// Stats returns a snapshot of the counters.
func (s *Sender) Stats() Stats { return s.c.snapshot() }

// adopted counts and announces the files another Sender of this process
// left in the spool when it stopped (a hot reload).
func (s *Sender) adopted(n int) {
	s.c.recovered.Add(uint64(n))
	s.c.pending.Add(int64(n))
	s.log.Infof("spool %s: took over %d alerts left by a stopped output", s.spool.dir, n)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
