// Package deliver sends alerts to an HTTP receiver without ever blocking the
// caller: detection runs inside Fluent Bit's flush callback, and a slow or
// dead receiver must not stall the pipeline.
//
// The contract:
//
//   - Enqueue never waits on the network. It puts the alert in a bounded
//     queue (and, with a spool, on disk first) or refuses it; every refusal
//     is counted in Stats and logged, at most once per interval per
//     condition, with the running count.
//   - One goroutine drains the queue, batches up to BatchMax alerts and
//     BatchMaxBytes per POST, and retries a batch with exponential backoff
//     and full jitter on network errors (timeouts, resets, TLS failures),
//     408, 429 and 5xx, honouring Retry-After. Any other status, 3xx
//     included, is a permanent refusal: redirects are never followed so
//     credentials only ever go to the configured URL.
//   - Alerts are enqueued and spooled as the engine's ECS JSON and rendered
//     in the destination's format (plugin/format) when they join a batch:
//     alerts a previous run spooled go out in the current format. Slack
//     and Falco take one alert per request. With an HMAC key every attempt
//     is signed at its own time (sign.go).
//   - Delivery is at least once: a batch whose response was lost is sent
//     again, and receivers dedupe on the alert id. Order is best effort.
//   - With a spool directory an accepted alert is on disk (fsynced) before
//     Enqueue returns, and stays there until a 2xx. A new Sender on the same
//     directory sends what a previous process left, oldest first. While the
//     spool holds alerts the in-memory queue did not have room for, newer
//     alerts also go to disk only, so the spool bound, not QueueSize, bounds
//     an outage.
//   - Close stops accepting, drains for at most DrainTimeout, then reports
//     what is left: dropped, or waiting in the spool for the next start.
//
// Alert bodies are never logged above debug level; tokens and passwords are
// never logged, nor the path of a Slack webhook (its credential).
package deliver
