package deliver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// The signature headers of alert_hmac_secret_file. A receiver recomputes
// HMAC-SHA256(secret, timestamp + "." + raw body), compares it in constant
// time with the hex after "sha256=", and refuses timestamps too far from
// its clock, so a captured request cannot be replayed later.
const (
	TimestampHeader = "X-K8s-Secret-Enum-Timestamp"
	SignatureHeader = "X-K8s-Secret-Enum-Signature"
)

// sign returns the two header values for body sent at now: the Unix
// seconds, and "sha256=" with the hex HMAC-SHA256 of "<seconds>.<body>"
// (Stripe's signed string, GitHub's header syntax).
func sign(key []byte, now time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return timestamp, "sha256=" + hex.EncodeToString(m.Sum(nil))
}
