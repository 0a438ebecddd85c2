package deliver

import (
	"time"
)

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
	left = append(left, s.carry...)
	s.carry = nil
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
