package deliver

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

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
			s.carry = append(s.carry, it)
		case <-s.wake:
		case <-s.closing:
			return s.fill()
		case <-s.ctx.Done():
			return false
		}
	}
}

// fill builds s.hand from what is ready without blocking, oldest first: the
// alerts that did not fit last time, the memory queue, then the spool
// backlog (which only holds alerts newer than anything in the queue). Each
// alert is rendered in the format as it joins, so that the byte bound
// applies to what is sent. It fills s.hand in place so that a panic midway
// loses nothing already taken.
func (s *Sender) fill() bool {
	b := &batch{bytes: 2}
	s.hand = b
	limit := s.opts.batchMax()
	full := false
	// take adds it, or carries it (and everything after it, to keep the
	// order) over to the next batch once this one is full.
	take := func(it item) {
		if full {
			s.carry = append(s.carry, it)
			return
		}
		if it.out == nil && !s.render(&it) {
			return
		}
		if len(b.items) > 0 && (len(b.items) >= limit || b.bytes+framedSize(it) > s.opts.maxBatchBytes()) {
			full = true
			s.carry = append(s.carry, it)
			return
		}
		b.items = append(b.items, it)
		b.bytes += framedSize(it)
	}
	carried := s.carry
	s.carry = nil
	for _, it := range carried {
		take(it)
	}
	for !full && len(b.items) < limit {
		select {
		case it := <-s.queue:
			take(it)
			continue
		default:
		}
		break
	}
	for s.spool != nil && !full && len(b.items) < limit {
		items, consumed := s.spool.take(limit-len(b.items), s.opts.maxBatchBytes()-b.bytes, len(b.items) == 0)
		for _, it := range items {
			take(it)
		}
		if consumed == 0 {
			break
		}
	}
	if len(b.items) == 0 {
		s.hand = nil
		return false
	}
	return true
}

// render sets it.out, the alert in the format. An alert that does not
// render (a spool file that is JSON but not an alert) is settled as
// unencodable: retrying cannot fix it, and it must not hold up the rest.
func (s *Sender) render(it *item) bool {
	out, err := func() (out []byte, err error) {
		// fill holds taken alerts outside s.hand while it renders: a panic
		// here must not lose them.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return s.opts.Format.Item(it.body)
	}()
	if err == nil {
		it.out = out
		return true
	}
	if s.spool != nil && it.seq != 0 {
		s.spool.discard(*it, "cannot be rendered as "+s.opts.Format.Name.String()+": "+err.Error())
	}
	s.c.pending.Add(-1)
	n := s.c.unencodable.Add(1)
	if s.every("unencodable") {
		s.log.Errorf("dropping alert %s: cannot render it as %v: %v (%d so far)", it.id, s.opts.Format.Name, err, n)
	}
	return false
}

// deliver sends b until it is settled (true) or the sender is stopping
// (false, b stays in hand for Close to account for).
func (s *Sender) deliver(b *batch) bool {
	for {
		if s.ctx.Err() != nil {
			return false
		}
		if s.opts.RetryMax != NoRetryLimit && b.attempts > s.opts.RetryMax {
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
		if s.opts.RetryMax != NoRetryLimit && b.attempts > s.opts.RetryMax {
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
