package deliver

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReceiverDownAtStart(t *testing.T) {
	addr := deadAddr(t)
	l, logs := newLog(t)
	s := mustNew(t, fastOpts("http://"+addr+"/ingest"), l)
	want := ids("down", 30)
	enqueueAll(t, s, want)
	waitFor(t, "several failed attempts", func() bool { return s.Stats().Requests >= 5 })

	rc := newReceiver()
	serveOn(t, addr, rc)
	waitDelivered(t, rc, want)
	st := s.Close()
	checkBalance(t, st, 30)
	if st.Sent != 30 || st.Retries < 4 {
		t.Errorf("stats %+v", st)
	}
	if n := logs.lines("unreachable"); n != 1 {
		t.Errorf("receiver down logged %d times, want once per interval", n)
	}
	if !strings.Contains(logs.String(), "accepts alerts again") {
		t.Error("recovery not logged")
	}
}

func TestReceiverDownMidRun(t *testing.T) {
	addr := deadAddr(t)
	rc := newReceiver()
	srv := serveOn(t, addr, rc)
	l, _ := newLog(t)
	s := mustNew(t, fastOpts("http://"+addr), l)
	before := ids("before", 10)
	enqueueAll(t, s, before)
	waitDelivered(t, rc, before)

	srv.Close()
	during := ids("during", 40)
	enqueueAll(t, s, during)
	sent := s.Stats().Requests
	waitFor(t, "failed attempts while down", func() bool { return s.Stats().Requests >= sent+5 })

	serveOn(t, addr, rc)
	after := ids("after", 10)
	enqueueAll(t, s, after)
	all := append(append(before, during...), after...)
	waitDelivered(t, rc, all)
	st := s.Close()
	checkBalance(t, st, 60)
	if st.Sent != 60 {
		t.Errorf("stats %+v", st)
	}
}

func TestReceiverSlowerThanTimeout(t *testing.T) {
	rc := newReceiver()
	rc.setFault(slowFor(2, 2*time.Second))
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.Timeout = 50 * time.Millisecond
	s := mustNew(t, o, l)
	want := ids("slow", 5)
	enqueueAll(t, s, want)
	waitDelivered(t, rc, want)
	st := s.Close()
	checkBalance(t, st, 5)
	if st.Sent != 5 || st.Retries < 2 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "not answering within 50ms") {
		t.Error("timeout not named in the log")
	}
}

func TestServerErrorsRetried(t *testing.T) {
	rc := newReceiver()
	rc.setFault(statusFor(4, http.StatusInternalServerError, nil))
	srv := serve(t, rc)
	l, logs := newLog(t)
	s := mustNew(t, fastOpts(srv.URL), l)
	want := ids("e500", 15)
	enqueueAll(t, s, want)
	waitDelivered(t, rc, want)
	st := s.Close()
	checkBalance(t, st, 15)
	if st.Sent != 15 || st.Retries < 4 || st.Rejected != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := logs.lines("answered 500 Internal Server Error"); n != 1 {
		t.Errorf("500 logged %d times", n)
	}
}

func TestConnectionResetRetried(t *testing.T) {
	rc := newReceiver()
	rc.setFault(resetFor(3))
	srv := serve(t, rc)
	l, _ := newLog(t)
	s := mustNew(t, fastOpts(srv.URL), l)
	want := ids("reset", 12)
	enqueueAll(t, s, want)
	waitDelivered(t, rc, want)
	st := s.Close()
	checkBalance(t, st, 12)
	if st.Sent != 12 || st.Retries < 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	now := time.Now()
	cases := map[string]struct {
		header   string
		min, max time.Duration
	}{
		"seconds":   {"7", 7 * time.Second, 7 * time.Second},
		"http-date": {now.Add(30 * time.Second).UTC().Format(http.TimeFormat), 25 * time.Second, 30 * time.Second},
		"capped":    {"86400", time.Minute, time.Minute},
		"zero":      {"0", 5 * time.Millisecond, 5 * time.Millisecond}, // floored at BackoffBase
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver()
			rc.setFault(statusFor(1, http.StatusTooManyRequests, http.Header{"Retry-After": {c.header}}))
			srv := serve(t, rc)
			l, logs := newLog(t)
			o := fastOpts(srv.URL)
			sr := &sleepRecorder{}
			o.hooks = &testHooks{sleep: sr.sleep}
			s := mustNew(t, o, l)
			enqueueAll(t, s, []string{"ra-1"})
			waitDelivered(t, rc, []string{"ra-1"})
			st := s.Close()
			checkBalance(t, st, 1)
			w := sr.all()
			if len(w) != 1 || w[0] < c.min || w[0] > c.max {
				t.Errorf("waits %v, want one in [%v,%v]", w, c.min, c.max)
			}
			if !strings.Contains(logs.String(), "throttles us") {
				t.Error("429 not logged")
			}
		})
	}
}

// TestRetryAfterRealWait checks with the real clock that the next attempt
// comes no sooner than the receiver asked.
func TestRetryAfterRealWait(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	rc := newReceiver()
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	srv := serve(t, rc)
	l, _ := newLog(t)
	s := mustNew(t, fastOpts(srv.URL), l)
	enqueueAll(t, s, []string{"real-1"})
	waitDelivered(t, rc, []string{"real-1"})
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	if gap := at[1].Sub(at[0]); gap < 950*time.Millisecond {
		t.Errorf("retried after %v despite Retry-After: 1", gap)
	}
}

func TestBadRequestRejectedNotRetried(t *testing.T) {
	rc := newReceiver()
	rc.setFault(statusFor(1000, http.StatusBadRequest, nil))
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.BatchMax = 1
	s := mustNew(t, o, l)
	enqueueAll(t, s, ids("bad", 3))
	waitFor(t, "rejections", func() bool { return s.Stats().Rejected == 3 })
	st := s.Close()
	checkBalance(t, st, 3)
	if st.Requests != 3 || st.Retries != 0 || rc.count() != 3 {
		t.Errorf("stats %+v, receiver saw %d requests", st, rc.count())
	}
	if n := logs.lines("rejected 1 alerts with 400 Bad Request, not retrying"); n != 1 {
		t.Errorf("rejection logged %d times", n)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	other := newReceiver()
	otherSrv := serve(t, other)
	rc := newReceiver()
	rc.setFault(statusFor(1000, http.StatusTemporaryRedirect, http.Header{"Location": {otherSrv.URL + "/steal?token=x"}}))
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.Headers = http.Header{"Authorization": {"Bearer do-not-forward"}}
	o.BatchMax = 1
	s := mustNew(t, o, l)
	enqueueAll(t, s, ids("redir", 2))
	waitFor(t, "rejection", func() bool { return s.Stats().Rejected == 2 })
	st := s.Close()
	checkBalance(t, st, 2)
	if other.count() != 0 || st.Requests != 2 || st.Retries != 0 {
		t.Errorf("redirect followed: target saw %d requests; stats %+v", other.count(), st)
	}
	out := logs.String()
	if !strings.Contains(out, "redirects are not followed") || strings.Contains(out, "token=x") {
		t.Errorf("redirect log line wrong")
	}
}

func TestRetriesExhausted(t *testing.T) {
	rc := newReceiver()
	rc.setFault(statusFor(1000, http.StatusBadGateway, nil))
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.BatchMax, o.RetryMax = 1, 2
	s := mustNew(t, o, l)
	enqueueAll(t, s, ids("ex", 2))
	waitFor(t, "giving up", func() bool { return s.Stats().DroppedRetriesExhausted == 2 })
	st := s.Close()
	checkBalance(t, st, 2)
	if st.Requests != 6 || st.Retries != 4 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "dropping 1 alerts after 3 attempts") {
		t.Error("give-up not logged")
	}
}

func TestCloseDrainsThenDrops(t *testing.T) {
	// A receiver that answers only after Close started: the backoff wait
	// is cut short and the drain delivers.
	rc := newReceiver()
	closing := make(chan struct{})
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		select {
		case <-closing:
			return false
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
	})
	srv := serve(t, rc)
	l, _ := newLog(t)
	o := fastOpts(srv.URL)
	o.BackoffBase, o.BackoffMax = time.Hour, time.Hour // only Close can end the wait
	s := mustNew(t, o, l)
	want := ids("drain", 5)
	enqueueAll(t, s, want)
	waitFor(t, "first failure", func() bool { return s.Stats().Retries >= 1 })
	close(closing)
	st := s.Close()
	checkBalance(t, st, 5)
	if st.Sent != 5 || !rc.has(want) {
		t.Errorf("drain did not deliver: %+v", st)
	}

	// A receiver that stays down: Close gives up at DrainTimeout and counts
	// what it had as dropped.
	l2, logs := newLog(t)
	o = fastOpts("http://" + deadAddr(t))
	o.DrainTimeout = 100 * time.Millisecond
	s2 := mustNew(t, o, l2)
	enqueueAll(t, s2, ids("lost", 7))
	st = s2.Close()
	checkBalance(t, st, 7)
	if st.DroppedAtClose != 7 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "7 alerts dropped at shutdown") {
		t.Error("drop at close not logged")
	}
}
