package deliver

import (
	"context"
	"io"
	"net/http"
	"runtime/debug"
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
	body []byte
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
	token   *tokenFile
	spool   *spool // nil without SpoolDir

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
	carry       *item // taken from the queue, did not fit the last batch
	failures    int   // consecutive failed attempts, for the "back again" line
	panicStreak int
	drainSeen   bool // the backoff wait was already cut once for Close
}

// New validates opts, opens the spool (adopting what a previous process
// left) and starts the sender goroutine.
func New(opts Options, log *logging.Logger) (*Sender, error) {
	if log == nil {
		log = logging.New(io.Discard, logging.Off, "")
	}
	opts.withDefaults()
	u, err := opts.validate()
	if err != nil {
		return nil, err
	}
	s := &Sender{
		opts:    opts,
		log:     log,
		url:     u.String(),
		safeURL: safeURL(u),
		queue:   make(chan item, opts.QueueSize),
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if s.client, s.tr, err = newClient(&opts, log); err != nil {
		return nil, err
	}
	if opts.BearerTokenFile != "" {
		if s.token, err = newTokenFile(opts.BearerTokenFile, log); err != nil {
			return nil, err
		}
	}
	if opts.TLSSkipVerify && u.Scheme == "https" {
		log.Warnf("tls verification is off: the receiver's certificate is not checked, alerts and credentials can be intercepted")
	}
	if u.Scheme == "http" && (opts.BearerTokenFile != "" || opts.BasicUser != "") {
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
	log.Infof("sending alerts to %s (format %v, queue %d, batch %d)", s.safeURL, opts.Format, opts.QueueSize, opts.BatchMax)
	go s.run()
	return s, nil
}

// Enqueue hands one alert over without waiting on the network. With a spool
// it returns after the alert is durably on disk. It returns false when the
// alert was refused; the refusal is counted and logged. body is copied.
func (s *Sender) Enqueue(id string, body []byte) bool {
	body, err := prepare(body, s.opts.BatchMaxBytes)
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

// Close stops accepting alerts, keeps delivering for at most DrainTimeout,
// then stops and reports. Alerts still in memory are counted as dropped;
// spooled ones stay on disk for the next start. Close is idempotent.
func (s *Sender) Close() Stats {
	s.closeOnce.Do(s.close)
	return s.Stats()
}

func (s *Sender) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.closing)

	t := time.NewTimer(s.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(stopGrace):
			// Leave its state alone: it may still be using it.
			s.log.Errorf("the alert sender did not stop within %s of the drain timeout; %d alerts unaccounted", stopGrace, s.c.pending.Load())
			return
		}
	}
	s.cancel()
	s.tr.CloseIdleConnections()
	s.settleLeftovers()
	if s.spool != nil {
		s.spool.release()
	}
	st := s.Stats()
	s.log.Infof("sender stopped: %d alerts sent in %d requests, %d dropped or rejected", st.Sent, st.Requests, st.Dropped())
}

// settleLeftovers accounts for what the drain did not deliver. It runs
// after the sender goroutine exited and Enqueue was closed, so it owns
// everything.
func (s *Sender) settleLeftovers() {
	var left []item
	if s.hand != nil {
		left = append(left, s.hand.items...)
		s.hand = nil
	}
	if s.carry != nil {
		left = append(left, *s.carry)
		s.carry = nil
	}
	for {
		select {
		case it := <-s.queue:
			left = append(left, it)
			continue
		default:
		}
		break
	}
	var dropped, kept int
	for _, it := range left {
		if it.seq == 0 {
			dropped++
		} else {
			kept++
		}
	}
	if s.spool != nil {
		kept += s.spool.backlogLen()
	}
	if dropped > 0 {
		s.c.atClose.Add(uint64(dropped))
		s.c.pending.Add(-int64(dropped))
		s.log.Errorf("%d alerts dropped at shutdown: not delivered to %s within the drain timeout %s", dropped, s.safeURL, s.opts.DrainTimeout)
	}
	if kept > 0 {
		s.log.Warnf("%d alerts remain in the spool %s for the next sender of that directory (a reloaded output, or the next start)", kept, s.spool.dir)
	}
}

// kill stops the sender the way SIGKILL would: no drain, no accounting, the
// spool left as it is. Tests use it to simulate a crash.
func (s *Sender) kill() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	s.tr.CloseIdleConnections()
	if s.spool != nil {
		s.spool.release()
	}
}

func (s *Sender) every(key string) bool { return s.log.Every("deliver."+key, logInterval) }

func (s *Sender) run() {
	defer close(s.done)
	for !s.loop() {
	}
}

// loop delivers batches until there is nothing left to do after Close, or
// the context is cancelled. It returns false after a recovered panic so that
// run starts it again with the batch in hand.
func (s *Sender) loop() (finished bool) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		n := s.c.panics.Add(1)
		s.log.Errorf("panic in the alert sender (%d so far), restarting it; the batch in hand is retried: %v\n%s", n, r, debug.Stack())
		s.panicStreak++
		if s.hand != nil && s.hand.attempts > 0 {
			s.c.retries.Add(1)
		}
		// Back off so that a panic on every attempt does not spin.
		finished = !s.sleep(backoff(s.panicStreak, s.opts.BackoffBase, s.opts.BackoffMax))
	}()
	for {
		if (s.hand == nil || len(s.hand.items) == 0) && !s.next() {
			return true
		}
		if !s.deliver(s.hand) {
			return true
		}
		s.hand = nil
		s.panicStreak = 0
	}
}

// next blocks until s.hand holds a batch. It returns false when the sender
// should stop: after Close once everything was taken, or when cancelled.
func (s *Sender) next() bool {
	for {
		if s.fill() {
			return true
		}
		select {
		case it := <-s.queue:
			s.carry = &it
		case <-s.wake:
		case <-s.closing:
			return s.fill()
		case <-s.ctx.Done():
			return false
		}
	}
}

// fill builds s.hand from what is ready without blocking, oldest first: the
// alert that did not fit last time, the memory queue, then the spool backlog
// (which only holds alerts newer than anything in the queue). It fills
// s.hand in place so that a panic midway loses nothing already taken.
func (s *Sender) fill() bool {
	b := &batch{bytes: 2}
	s.hand = b
	fits := func(it item) bool {
		return len(b.items) == 0 ||
			(len(b.items) < s.opts.BatchMax && b.bytes+framedSize(it.body) <= s.opts.BatchMaxBytes)
	}
	add := func(it item) {
		b.items = append(b.items, it)
		b.bytes += framedSize(it.body)
	}
	if s.carry != nil {
		add(*s.carry)
		s.carry = nil
	}
	for len(b.items) < s.opts.BatchMax && s.carry == nil {
		select {
		case it := <-s.queue:
			if fits(it) {
				add(it)
			} else {
				s.carry = &it
			}
			continue
		default:
		}
		break
	}
	for s.spool != nil && s.carry == nil && len(b.items) < s.opts.BatchMax {
		items, consumed := s.spool.take(s.opts.BatchMax-len(b.items), s.opts.BatchMaxBytes-b.bytes, len(b.items) == 0)
		for _, it := range items {
			add(it)
		}
		if consumed == 0 || len(items) > 0 {
			break
		}
	}
	if len(b.items) == 0 {
		s.hand = nil
		return false
	}
	return true
}

// deliver sends b until it is settled (true) or the sender is stopping
// (false, b stays in hand for Close to account for).
func (s *Sender) deliver(b *batch) bool {
	for {
		if s.ctx.Err() != nil {
			return false
		}
		if s.opts.RetryMax > 0 && b.attempts >= s.opts.RetryMax {
			s.giveUp(b, nil)
			return true
		}
		b.attempts++
		res := s.send(b)
		switch res.outcome {
		case outcomeSent:
			s.settleSent(b)
			return true
		case outcomeReject:
			s.settleRejected(b, res)
			return true
		case outcomeCanceled:
			return false
		}
		s.failures++
		wait := s.waitAfter(b.attempts, res)
		s.logFailure(b, res, wait)
		if s.opts.RetryMax > 0 && b.attempts >= s.opts.RetryMax {
			s.giveUp(b, &res)
			return true
		}
		s.c.retries.Add(1)
		if !s.sleep(wait) {
			return false
		}
	}
}

// waitAfter is the pause before the next attempt: what the receiver asked
// for when it said (but at least BackoffBase, so "Retry-After: 0" cannot
// make a busy loop), else backoff with full jitter.
func (s *Sender) waitAfter(attempts int, res result) time.Duration {
	if res.hasRetryAfter {
		return min(max(res.retryAfter, s.opts.BackoffBase), retryAfterCap(s.opts.BackoffMax))
	}
	return backoff(attempts, s.opts.BackoffBase, s.opts.BackoffMax)
}

// sleep waits d, cut short by the drain deadline; false means stop. When
// Close starts, the wait in progress ends at once: a receiver that came back
// meanwhile gets one prompt attempt instead of a drain spent sleeping.
func (s *Sender) sleep(d time.Duration) bool {
	if h := s.opts.hooks; h != nil && h.sleep != nil {
		return h.sleep(s.ctx, d)
	}
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	closing := s.closing
	if s.drainSeen {
		closing = nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-closing:
		s.drainSeen = true
		return s.ctx.Err() == nil
	case <-s.ctx.Done():
		return false
	}
}

func (s *Sender) settle(b *batch) {
	if s.spool != nil {
		s.spool.remove(b.items)
	}
	s.c.pending.Add(-int64(len(b.items)))
}

// The settle functions free the spool before counting, so that a caller
// who sees the count also finds the room.
func (s *Sender) settleSent(b *batch) {
	s.settle(b)
	s.c.sent.Add(uint64(len(b.items)))
	if s.failures > 0 {
		s.log.Infof("receiver %s accepts alerts again after %d failed attempts", s.safeURL, s.failures)
		s.failures = 0
	}
	if s.log.Enabled(logging.Debug) {
		s.log.Debugf("sent %d alerts to %s (attempt %d)", len(b.items), s.safeURL, b.attempts)
	}
}

func (s *Sender) settleRejected(b *batch, res result) {
	s.settle(b)
	n := s.c.rejected.Add(uint64(len(b.items)))
	s.failures = 0
	if !s.every("rejected") {
		return
	}
	if res.status >= 300 && res.status <= 399 {
		s.log.Errorf("receiver %s answered %s redirecting to %s: redirects are not followed so credentials only go to the configured url; %d alerts rejected (%d so far)",
			s.safeURL, res.statusText, res.location, len(b.items), n)
		return
	}
	s.log.Errorf("receiver %s rejected %d alerts with %s, not retrying (%d rejected so far)", s.safeURL, len(b.items), res.statusText, n)
}

func (s *Sender) giveUp(b *batch, last *result) {
	s.settle(b)
	n := s.c.exhausted.Add(uint64(len(b.items)))
	if s.every("exhausted") {
		why := "repeated failures"
		if last != nil {
			why = last.describe()
		}
		s.log.Errorf("dropping %d alerts after %d attempts to %s, last: %s (%d dropped after retries so far)",
			len(b.items), b.attempts, s.safeURL, why, n)
	}
}
