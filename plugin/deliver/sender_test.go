package deliver

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

func TestFormatsAndHeaders(t *testing.T) {
	for _, name := range []format.Name{format.JSON, format.JSONLines} {
		f := format.Format{Name: name}
		t.Run(name.String(), func(t *testing.T) {
			rc := newReceiver()
			srv := serve(t, rc)
			l, _ := newLog(t)
			o := fastOpts(srv.URL + "/alerts?tenant=a")
			o.Format = f
			o.Headers = http.Header{"X-Tenant": {"t1"}, "Content-Type": {"text/plain"}}
			s := mustNew(t, o, l)
			want := ids("fmt", 25)
			enqueueAll(t, s, want)
			waitDelivered(t, rc, want)
			st := s.Close()
			checkBalance(t, st, 25)
			if st.Sent != 25 || st.Pending != 0 {
				t.Errorf("stats %+v", st)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			h := rc.headers[0]
			if h.Get("X-Tenant") != "t1" || h.Get("User-Agent") != "k8s-secret-enum" || h.Get("Content-Type") != f.ContentType() {
				t.Errorf("headers %v", h)
			}
			for _, b := range rc.bodies {
				if name == format.JSON && (b[0] != '[' || b[len(b)-1] != ']') {
					t.Errorf("json body %q", b)
				}
				if name == format.JSONLines && (b[0] != '{' || b[len(b)-1] != '\n') {
					t.Errorf("json lines body %q", b)
				}
				if n := strings.Count(string(b), `"id"`); n > o.BatchMax {
					t.Errorf("batch of %d above BatchMax", n)
				}
			}
		})
	}
}

func TestBatchByteBound(t *testing.T) {
	rc := newReceiver()
	srv := serve(t, rc)
	l, _ := newLog(t)
	one := len(alertBody("bytes-000"))
	o := fastOpts(srv.URL)
	o.BatchMax = 100
	o.hooks = &testHooks{maxBatchBytes: 3*one + 5} // three alerts with framing, not four
	// Hold the first request so the rest pile up and get batched.
	release := make(chan struct{})
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 0 {
			<-release
		}
		return false
	})
	s := mustNew(t, o, l)
	want := ids("bytes", 10)
	enqueueAll(t, s, want[:1])
	waitFor(t, "first request", func() bool { return rc.count() == 1 })
	enqueueAll(t, s, want[1:])
	close(release)
	waitDelivered(t, rc, want)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, b := range rc.bodies {
		if len(b) > o.hooks.maxBatchBytes {
			t.Errorf("body of %d bytes above bound %d", len(b), o.hooks.maxBatchBytes)
		}
	}
	if len(rc.bodies) < 4 {
		t.Errorf("9 alerts in %d requests: byte bound not applied", len(rc.bodies)-1)
	}
}

func TestQueueFullExactDrops(t *testing.T) {
	rc := newReceiver()
	release := make(chan struct{})
	rc.setFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 0 {
			<-release
		}
		return false
	})
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.QueueSize, o.BatchMax = 5, 1
	s := mustNew(t, o, l)

	enqueueAll(t, s, []string{"q-000"})
	waitFor(t, "the sender to hold the first alert", func() bool { return rc.count() == 1 })
	var accepted []string
	for _, id := range ids("q", 13)[1:] {
		if s.Enqueue(id, alertBody(id)) {
			accepted = append(accepted, id)
		}
	}
	close(release)
	want := append([]string{"q-000"}, accepted...)
	waitDelivered(t, rc, want)
	st := s.Close()
	if len(accepted) != 5 || st.DroppedQueueFull != 7 || st.Enqueued != 6 || st.Sent != 6 {
		t.Errorf("accepted %v, stats %+v", accepted, st)
	}
	checkBalance(t, st, 13)
	if n := logs.lines("alert queue full"); n != 1 {
		t.Errorf("queue full logged %d times, want once per interval", n)
	}
	if !strings.Contains(logs.String(), "(1 dropped so far)") {
		t.Error("queue full line lacks the running count")
	}
}

func TestAuthBearerRotationAndBasic(t *testing.T) {
	dir := t.TempDir()
	tokPath := filepath.Join(dir, "token")
	// Written the way kubelet swaps projected tokens: a new file renamed
	// over the old one.
	writeToken := func(tok string) {
		tmp := filepath.Join(dir, "token.tmp")
		if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokPath); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("tok-1")
	rc := newReceiver()
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.BearerTokenFile = tokPath
	s := mustNew(t, o, l)
	enqueueAll(t, s, []string{"bearer-1"})
	waitDelivered(t, rc, []string{"bearer-1"})
	writeToken("tok-2")
	enqueueAll(t, s, []string{"bearer-2"})
	waitDelivered(t, rc, []string{"bearer-2"})
	s.Close()
	rc.mu.Lock()
	first, last := rc.headers[0].Get("Authorization"), rc.headers[len(rc.headers)-1].Get("Authorization")
	rc.mu.Unlock()
	if first != "Bearer tok-1" || last != "Bearer tok-2" {
		t.Errorf("authorization %q then %q", first, last)
	}
	if strings.Contains(logs.String(), "tok-") {
		t.Error("a token appeared in the log")
	}

	rc2 := newReceiver()
	srv2 := serve(t, rc2)
	o = fastOpts(srv2.URL)
	o.BasicUser, o.BasicPassword = "alice", "s3cret-pw"
	s2 := mustNew(t, o, l)
	enqueueAll(t, s2, []string{"basic-1"})
	waitDelivered(t, rc2, []string{"basic-1"})
	s2.Close()
	rc2.mu.Lock()
	req := &http.Request{Header: rc2.headers[0]}
	rc2.mu.Unlock()
	if u, p, ok := req.BasicAuth(); !ok || u != "alice" || p != "s3cret-pw" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the password appeared in the log")
	}
}

func TestInvalidAndClosedRefused(t *testing.T) {
	rc := newReceiver()
	srv := serve(t, rc)
	l, _ := newLog(t)
	s := mustNew(t, fastOpts(srv.URL), l)
	if s.Enqueue("bad", []byte(`{"alert":`)) {
		t.Error("truncated JSON accepted")
	}
	enqueueAll(t, s, []string{"ok-1"})
	waitDelivered(t, rc, []string{"ok-1"})
	s.Close()
	if s.Enqueue("late", alertBody("late")) {
		t.Error("Enqueue after Close accepted")
	}
	st := s.Stats()
	if st.DroppedInvalid != 1 || st.DroppedClosed != 1 || st.Sent != 1 {
		t.Errorf("stats %+v", st)
	}
	checkBalance(t, st, 3)
}

func TestPanicContained(t *testing.T) {
	rc := newReceiver()
	srv := serve(t, rc)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.BatchMax = 1
	var attempts atomic.Int32
	o.hooks = &testHooks{beforeSend: func() {
		switch attempts.Add(1) {
		case 1, 3, 4:
			panic("boom in send")
		}
	}}
	s := mustNew(t, o, l)
	want := ids("panic", 5)
	enqueueAll(t, s, want)
	waitDelivered(t, rc, want)
	st := s.Close()
	if st.Panics != 3 || st.Sent != 5 {
		t.Errorf("stats %+v", st)
	}
	checkBalance(t, st, 5)
	out := logs.String()
	if !strings.Contains(out, "panic in the alert sender") || !strings.Contains(out, "boom in send") || !strings.Contains(out, "goroutine ") {
		t.Error("panic not logged with its stack")
	}
}

func TestPanicCountsAgainstRetryMax(t *testing.T) {
	rc := newReceiver()
	srv := serve(t, rc)
	l, _ := newLog(t)
	o := fastOpts(srv.URL)
	o.BatchMax, o.RetryMax = 1, 1
	o.hooks = &testHooks{beforeSend: func() { panic("always") }}
	s := mustNew(t, o, l)
	enqueueAll(t, s, []string{"p-1"})
	waitFor(t, "give up", func() bool { return s.Stats().DroppedRetriesExhausted == 1 })
	st := s.Close()
	if st.Panics != 2 || st.Requests != 0 {
		t.Errorf("stats %+v", st)
	}
	checkBalance(t, st, 1)
}
