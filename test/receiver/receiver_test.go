package receiver

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func post(t *testing.T, c *http.Client, url, ctype, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func mustPost(t *testing.T, c *http.Client, url, ctype, body string) int {
	t.Helper()
	resp, err := post(t, c, url, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func alert(id string) string {
	return fmt.Sprintf(`{"alert":{"id":%q,"rule":"secret-burst"},"user":{"name":"bob"},"count":%d}`, id, len(id))
}

func TestBodies(t *testing.T) {
	var seen atomic.Int32
	r := Start(t, Options{OnAlert: func(Alert) { seen.Add(1) }})
	c := r.Client()
	if s := mustPost(t, c, r.URL()+"/alerts", "application/json", "["+alert("a")+","+alert("b")+"]"); s != 200 {
		t.Fatalf("status %d", s)
	}
	mustPost(t, c, r.URL()+"/x", "application/x-ndjson", alert("c")+"\n"+alert("d")+"\n")
	mustPost(t, c, r.URL(), "application/json", alert("b"))

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(alert("e") + "\n" + `{"alert.id":"f"}` + "\n" + `{"no":"id"}` + "\n" + `{"no":"id"}`))
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, r.URL(), &gz)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer t0k")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got, err := r.WaitForAlerts(9, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ids := strings.Join(r.AlertIDs(), ","); ids != "a,b,c,d,b,e,f,," {
		t.Errorf("ids %q", ids)
	}
	if u := Dedupe(got); len(u) != 7 || len(r.Unique()) != 7 {
		t.Errorf("unique: %d", len(u))
	}
	if got[0].Fields["count"] != float64(1) || got[0].Request != 0 || got[2].Request != 1 {
		t.Errorf("alert 0: %+v", got[0])
	}
	if v, ok := got[1].Get("user.name"); !ok || v != "bob" {
		t.Errorf("Get: %v %v", v, ok)
	}
	reqs := r.Requests()
	if len(reqs) != 4 || reqs[1].URI != "/x" || reqs[1].ContentType != "application/x-ndjson" ||
		reqs[3].Header.Get("Authorization") != "Bearer t0k" || !reqs[3].Accepted() || reqs[0].Method != "POST" {
		t.Errorf("requests %+v", reqs)
	}
	if bytes.Equal(reqs[3].RawBody, reqs[3].Body) || !bytes.Contains(reqs[3].Body, []byte(`"f"`)) {
		t.Error("gzip body not undone")
	}
	if seen.Load() != 9 {
		t.Errorf("OnAlert called %d times", seen.Load())
	}

	// an unparseable body is answered 400 and recorded
	if s := mustPost(t, c, r.URL(), "application/json", `{"alert":`); s != 400 {
		t.Errorf("bad body: %d", s)
	}
	if q := r.Requests()[4]; q.ParseError == "" || q.Fault != "bad-body" {
		t.Errorf("%+v", q)
	}
	r.Reset()
	if len(r.Requests()) != 0 || len(r.Alerts()) != 0 {
		t.Error("Reset kept records")
	}
}

func TestLookup(t *testing.T) {
	m := map[string]any{"alert": map[string]any{"id": "n"}, "alert.rule": "flat",
		"a": map[string]any{"b.c": map[string]any{"d": 1.0}}}
	for path, want := range map[string]any{"alert.id": "n", "alert.rule": "flat", "a.b.c.d": 1.0} {
		if v, ok := Lookup(m, path); !ok || v != want {
			t.Errorf("%s: %v %v", path, v, ok)
		}
	}
	if _, ok := Lookup(m, "alert.nope"); ok {
		t.Error("found a missing path")
	}
	r := Start(t, Options{IDPath: "uid"})
	mustPost(t, r.Client(), r.URL(), "application/json", `[{"uid":7},{"uid":"x"}]`)
	if ids := r.AlertIDs(); len(ids) != 2 || ids[0] != "7" || ids[1] != "x" {
		t.Errorf("ids %v", ids)
	}
}

func TestStatusFault(t *testing.T) {
	r := Start(t, Options{})
	c := r.Client()
	r.RespondStatus(503, 2, "1")
	var codes []int
	for i := 0; i < 3; i++ {
		resp, err := post(t, c, r.URL(), "application/json", alert(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, resp.StatusCode)
		if want := map[bool]string{true: "1", false: ""}[i < 2]; resp.Header.Get("Retry-After") != want {
			t.Errorf("request %d Retry-After %q", i, resp.Header.Get("Retry-After"))
		}
	}
	if fmt.Sprint(codes) != "[503 503 200]" {
		t.Errorf("codes %v", codes)
	}
	if ids := r.AlertIDs(); len(ids) != 1 || ids[0] != "2" || len(r.AllAlerts()) != 3 {
		t.Errorf("accepted %v all %d", ids, len(r.AllAlerts()))
	}
	if q := r.Requests()[0]; q.Status != 503 || q.Fault != "status" || q.Accepted() {
		t.Errorf("%+v", q)
	}

	r.RespondStatus(429, Forever, "")
	for i := 0; i < 3; i++ {
		if s := mustPost(t, c, r.URL(), "application/json", alert("x")); s != 429 {
			t.Errorf("forever: %d", s)
		}
	}
	r.RespondStatus(0, 0, "")
	if s := mustPost(t, c, r.URL(), "application/json", alert("y")); s != 200 {
		t.Errorf("after clearing: %d", s)
	}
	r.RequireHeader("Authorization", "Bearer good")
	if s := mustPost(t, c, r.URL(), "application/json", alert("z")); s != 401 {
		t.Errorf("auth: %d", s)
	}
	r.Heal()
	if s := mustPost(t, c, r.URL(), "application/json", alert("z")); s != 200 {
		t.Errorf("healed: %d", s)
	}
}

func TestDelay(t *testing.T) {
	r := Start(t, Options{})
	r.Delay(300 * time.Millisecond)
	start := time.Now()
	mustPost(t, r.Client(), r.URL(), "application/json", alert("slow"))
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
	// a client that gives up: recorded, not accepted
	impatient := r.Client()
	impatient.Timeout = 50 * time.Millisecond
	if _, err := post(t, impatient, r.URL(), "application/json", alert("gone")); err == nil {
		t.Fatal("no timeout")
	}
	reqs, err := r.WaitForRequests(2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[1].Fault != "client-gone" || reqs[1].Accepted() || len(r.Alerts()) != 1 {
		t.Errorf("%+v", reqs[1])
	}
}

func TestReset(t *testing.T) {
	r := Start(t, Options{})
	c := r.Client()
	r.ResetConnections(1)
	_, err := post(t, c, r.URL(), "application/json", alert("r"))
	if err == nil {
		t.Fatal("reset request succeeded")
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") {
		t.Logf("reset seen as: %v", err)
	}
	if s := mustPost(t, c, r.URL(), "application/json", alert("ok")); s != 200 {
		t.Errorf("after reset: %d", s)
	}
	reqs := r.Requests()
	if len(reqs) != 2 || reqs[0].Fault != "reset" || reqs[0].Status != 0 || len(reqs[0].Alerts) != 1 {
		t.Errorf("%+v", reqs)
	}
	r.ResetConnections(Forever)
	for i := 0; i < 2; i++ {
		if _, err := post(t, c, r.URL(), "application/json", alert("r")); err == nil {
			t.Error("forever reset: request succeeded")
		}
	}
	r.ResetConnections(0)
	if s := mustPost(t, c, r.URL(), "application/json", alert("ok2")); s != 200 {
		t.Errorf("after reset cleared: %d", s)
	}
}

func TestDownUp(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			r := Start(t, Options{TLS: useTLS})
			c := r.Client()
			url := r.URL()
			mustPost(t, c, url, "application/json", alert("1"))

			// a request held by Delay is cut off when the receiver goes down
			r.Delay(time.Minute)
			errc := make(chan error, 1)
			go func() {
				_, err := post(t, c, url, "application/json", alert("held"))
				errc <- err
			}()
			// Down must not come before the held request is in.
			if err := r.WaitForHeld(1, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			r.Down()
			if !r.IsDown() {
				t.Fatal("not down")
			}
			select {
			case err := <-errc:
				if err == nil {
					t.Error("held request answered after Down")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("held request still pending after Down")
			}
			r.Delay(0)
			_, err := post(t, c, url, "application/json", alert("2"))
			if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("while down: %v", err)
			}
			if err := r.Up(); err != nil {
				t.Fatal(err)
			}
			if r.URL() != url {
				t.Fatalf("URL changed: %s -> %s", url, r.URL())
			}
			if s := mustPost(t, c, url, "application/json", alert("3")); s != 200 {
				t.Fatalf("after Up: %d", s)
			}
			if ids := strings.Join(r.AlertIDs(), ","); ids != "1,3" {
				t.Errorf("ids %s", ids)
			}
			reqs := r.Requests()
			if len(reqs) != 3 || reqs[1].Fault != "down" {
				t.Errorf("%+v", reqs)
			}
			r.Down()
			r.Down()
			if err := r.Up(); err != nil {
				t.Fatal(err)
			}
			if err := r.Up(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	r := Start(t, Options{TLS: true})
	if !strings.HasPrefix(r.URL(), "https://127.0.0.1:") || r.CAFile() == "" {
		t.Fatalf("%s %s", r.URL(), r.CAFile())
	}
	pemBytes, err := os.ReadFile(r.CAFile())
	if err != nil || !bytes.Equal(pemBytes, r.CAPEM()) {
		t.Fatalf("CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bad PEM")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if s := mustPost(t, c, r.URL(), "application/json", alert("tls")); s != 200 {
		t.Fatalf("status %d", s)
	}
	// localhost works too
	if s := mustPost(t, c, strings.Replace(r.URL(), "127.0.0.1", "localhost", 1), "application/json", alert("tls2")); s != 200 {
		t.Fatalf("localhost: %d", s)
	}
	if _, err := post(t, &http.Client{}, r.URL(), "application/json", alert("x")); err == nil {
		t.Fatal("a client without the CA was accepted")
	}
	caFile := r.CAFile()
	r.Close()
	if _, err := os.Stat(caFile); !os.IsNotExist(err) {
		t.Errorf("CA file left behind: %v", err)
	}
}

func TestWaitForAlerts(t *testing.T) {
	r := Start(t, Options{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		for i := 0; i < 3; i++ {
			post(t, r.Client(), r.URL(), "application/json", alert("w"))
		}
	}()
	if _, err := r.WaitForAlerts(3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if u, err := r.WaitForUnique(1, time.Second); err != nil || len(u) != 1 {
		t.Fatal(u, err)
	}
	_, err := r.WaitForUnique(2, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "3 requests") {
		t.Errorf("timeout error: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	r := Start(t, Options{})
	var wg sync.WaitGroup
	var ok atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := r.Client()
			for i := 0; i < 25; i++ {
				switch i % 5 {
				case 1:
					r.RespondStatus(500, 1, "")
				case 2:
					r.ResetConnections(1)
				case 3:
					r.Delay(time.Millisecond)
				case 4:
					r.Delay(0)
					_ = r.Alerts()
					_ = r.Unique()
				}
				resp, err := post(t, c, r.URL(), "application/x-ndjson", alert(fmt.Sprintf("%d-%d", g, i)))
				if err == nil && resp.StatusCode == 200 {
					ok.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	if got := len(r.Alerts()); got != int(ok.Load()) {
		t.Errorf("accepted alerts %d, 200 answers %d", got, ok.Load())
	}
	if len(r.Requests()) != 200 {
		t.Errorf("requests %d", len(r.Requests()))
	}
}

func TestFixedAddress(t *testing.T) {
	r1 := Start(t, Options{})
	addr := r1.Addr()
	r1.Close()
	r2 := Start(t, Options{Addr: addr})
	if r2.Addr() != addr {
		t.Fatalf("%s != %s", r2.Addr(), addr)
	}
	if _, err := New(Options{Addr: addr}); err == nil {
		t.Fatal("second listener on a busy address")
	}
}
