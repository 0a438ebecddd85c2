package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

const (
	// Response bodies are read only so the connection can be reused, and
	// never beyond this, so a misbehaving receiver cannot grow memory.
	maxDrainBytes = 64 << 10
	// The start of an error response goes to the debug log: it may echo
	// the alerts we sent.
	maxSnippetBytes = 512
)

// result describes one attempt.
type result struct {
	outcome       outcome
	status        int    // 0 when no response arrived
	statusText    string // "503 Service Unavailable"
	err           error  // network or TLS error, url.Error unwrapped
	timeout       bool
	retryAfter    time.Duration
	hasRetryAfter bool
	location      string // redirect target, without query
}

func (r result) describe() string {
	switch {
	case r.err != nil:
		return r.err.Error()
	case r.status != 0:
		return r.statusText
	}
	return "unknown failure"
}

// send makes one attempt at delivering b.
func (s *Sender) send(b *batch) result {
	if h := s.opts.hooks; h != nil && h.beforeSend != nil {
		h.beforeSend()
	}
	if b.payload == nil {
		b.payload = encodeBatch(&s.opts.Format, b.items)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(b.payload))
	if err != nil {
		return result{outcome: outcomeReject, err: err}
	}
	s.setHeaders(req)
	if s.hmacKey != nil {
		// Signed per attempt: a retry carries a fresh timestamp, so a
		// receiver's replay window never refuses a genuine late retry.
		ts, sig := sign([]byte(s.hmacKey.get()), s.opts.now(), b.payload)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, sig)
	}

	s.c.requests.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		if s.ctx.Err() != nil {
			return result{outcome: outcomeCanceled}
		}
		// The url.Error wrapper repeats the URL, whose query may carry a
		// credential; the log names the endpoint itself.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return result{outcome: outcomeRetry, err: err, timeout: errors.Is(err, context.DeadlineExceeded) || isTimeout(err)}
	}
	defer resp.Body.Close()

	res := result{
		outcome:    classifyStatus(resp.StatusCode),
		status:     resp.StatusCode,
		statusText: resp.Status,
	}
	if res.outcome == outcomeRetry {
		res.retryAfter, res.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		res.location = redactLocation(resp.Header.Get("Location"))
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxSnippetBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	if res.outcome != outcomeSent && len(snippet) > 0 && s.log.Enabled(logging.Debug) {
		s.log.Debugf("response from %s (%s): %q", s.safeURL, resp.Status, snippet)
	}
	return res
}

func (s *Sender) setHeaders(req *http.Request) {
	for k, vs := range s.opts.Headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			// net/http ignores a Host entry in Header; honour it the way
			// the user meant it.
			if len(vs) > 0 {
				req.Host = vs[0]
			}
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", s.opts.Format.ContentType())
	req.Header.Set("User-Agent", userAgent)
	switch {
	case s.token != nil:
		req.Header.Set("Authorization", s.scheme+" "+s.token.get())
	case s.opts.BasicUser != "":
		req.SetBasicAuth(s.opts.BasicUser, s.opts.BasicPassword)
	}
}

// logFailure says, once per interval and condition, why attempts fail: a
// receiver that is down produces one line per interval, not one per alert.
func (s *Sender) logFailure(b *batch, res result, wait time.Duration) {
	pending := s.c.pending.Load()
	switch {
	case res.err != nil && tlsVerifyError(res.err):
		if s.every("tls") {
			s.log.Errorf("TLS verification of receiver %s failed, nothing sent (fail closed): %v; check tls ca file and the receiver's certificate (%d alerts waiting, attempt %d)",
				s.safeURL, res.err, pending, b.attempts)
		}
	case res.err != nil && tlsAlertError(res.err):
		if s.every("tlshandshake") {
			s.log.Errorf("TLS handshake with receiver %s failed: %v; check the client certificate (%d alerts waiting, attempt %d)",
				s.safeURL, res.err, pending, b.attempts)
		}
	case res.err != nil:
		if s.every("down") {
			what := "unreachable"
			if res.timeout {
				what = fmt.Sprintf("not answering within %s", s.opts.Timeout)
			}
			s.log.Warnf("receiver %s %s: %v; retrying with backoff (%d alerts waiting, attempt %d)",
				s.safeURL, what, res.err, pending, b.attempts)
		}
	case res.status == http.StatusTooManyRequests:
		if s.every("throttled") {
			s.log.Warnf("receiver %s throttles us (%s, retry after %s); %d alerts waiting",
				s.safeURL, res.statusText, wait.Round(time.Millisecond), pending)
		}
	default:
		if s.every("status") {
			s.log.Warnf("receiver %s answered %s; retrying with backoff (%d alerts waiting, attempt %d)",
				s.safeURL, res.statusText, pending, b.attempts)
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// redactLocation keeps where a redirect points without a query or userinfo
// that could carry a credential.
func redactLocation(loc string) string {
	if loc == "" {
		return "(no Location)"
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "(unparsable Location)"
	}
	out := u.EscapedPath()
	if u.Host != "" {
		out = u.Scheme + "://" + u.Host + out
	}
	if u.RawQuery != "" {
		out += "?…"
	}
	return strings.TrimSpace(out)
}
