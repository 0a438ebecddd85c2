package deliver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// outcome is what one attempt means for its batch.
type outcome int

const (
	outcomeSent     outcome = iota // 2xx: settled
	outcomeRetry                   // try again after a wait
	outcomeReject                  // permanent: the receiver will never take this batch
	outcomeCanceled                // the sender is stopping; the batch stays in hand
)

// retryableStatus is the single place deciding which HTTP statuses are
// worth another attempt: the receiver is overloaded, restarting or timed out,
// and the same request may succeed later. Everything else that is not 2xx
// will fail the same way again.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout ||
		code == http.StatusTooManyRequests ||
		(code >= 500 && code <= 599)
}

func classifyStatus(code int) outcome {
	switch {
	case code >= 200 && code <= 299:
		return outcomeSent
	case retryableStatus(code):
		return outcomeRetry
	}
	// 3xx lands here on purpose: following a redirect would hand the bearer
	// token or basic credentials to an endpoint nobody configured.
	return outcomeReject
}

// backoff returns the wait before attempt+1 with "full jitter": uniform in
// [0, min(max, base*2^(attempt-1))]. Spreading the whole range keeps many
// plugin instances from retrying against a recovering receiver in lockstep.
func backoff(attempt int, base, maxWait time.Duration) time.Duration {
	ceil := maxWait
	if attempt < 1 {
		attempt = 1
	}
	if shift := attempt - 1; shift < 62 && base <= maxWait>>shift {
		ceil = base << shift
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// retryAfterCap bounds how long a receiver may ask us to wait. It is at
// least a minute even when BackoffMax is shorter: a throttling receiver
// asking for 30s is better obeyed than hammered, while a bogus value (a day)
// must not park the sender; the queue bound protects memory meanwhile.
func retryAfterCap(backoffMax time.Duration) time.Duration {
	return max(backoffMax, time.Minute)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// tlsVerifyError tells a certificate the client refused (fail closed: the
// request was never sent) from other network errors, so the log says which
// setting to look at.
func tlsVerifyError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// tlsAlertError is a handshake the receiver refused, typically over our
// client certificate.
func tlsAlertError(err error) bool {
	var ae tls.AlertError
	var re tls.RecordHeaderError
	if errors.As(err, &ae) || errors.As(err, &re) {
		return true
	}
	// Over TCP crypto/tls reports the peer's alert as an OpError around an
	// unexported type; the Op is the stable part.
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
