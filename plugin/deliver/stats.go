package deliver

import "sync/atomic"

// Stats are cumulative counters since New, plus the Pending gauge.
//
// Two identities hold once the sender is idle or closed:
//
//	Enqueue calls == Enqueued + DroppedQueueFull + DroppedClosed + DroppedInvalid + SpoolDropped
//	Enqueued + Recovered == Sent + Rejected + DroppedRetriesExhausted + DroppedAtClose + DroppedUnencodable + SpoolCorrupt + Pending
//
// (an alert is counted in Sent once even if the receiver got it twice).
type Stats struct {
	Enqueued  uint64 // accepted by Enqueue
	Recovered uint64 // found in the spool at start, left by a previous process
	Sent      uint64 // acknowledged with a 2xx
	Requests  uint64 // HTTP requests attempted
	Retries   uint64 // attempts after the first, over all batches

	Rejected                uint64 // refused by the receiver with a non-retryable status (3xx, most 4xx)
	DroppedQueueFull        uint64 // refused by Enqueue: queue (or, on spool error, memory) full
	DroppedClosed           uint64 // refused by Enqueue after Close
	DroppedInvalid          uint64 // refused by Enqueue: not JSON, or larger than BatchMaxBytes
	DroppedRetriesExhausted uint64 // RetryMax attempts failed
	DroppedAtClose          uint64 // in memory only when DrainTimeout ran out
	DroppedUnencodable      uint64 // accepted, but not an alert the format can render (a damaged spool file)

	Spooled      uint64 // written to the spool
	SpoolDropped uint64 // refused by Enqueue: the spool was full
	SpoolErrors  uint64 // spool writes that failed; the alert went to memory only
	SpoolCorrupt uint64 // spool files that could not be read back, moved aside

	Panics uint64 // recovered panics of the sender goroutine

	// Pending counts accepted alerts not settled yet: queued, in flight, or
	// (after Close) waiting in the spool for the next start.
	Pending int64
}

// Dropped sums every way an alert was lost or refused, the receiver's
// refusals included.
func (s Stats) Dropped() uint64 {
	return s.Rejected + s.DroppedQueueFull + s.DroppedClosed + s.DroppedInvalid +
		s.DroppedRetriesExhausted + s.DroppedAtClose + s.DroppedUnencodable + s.SpoolDropped + s.SpoolCorrupt
}

type counters struct {
	enqueued, recovered, sent, requests, retries     atomic.Uint64
	rejected, queueFull, closed, invalid             atomic.Uint64
	exhausted, atClose, unencodable                  atomic.Uint64
	spooled, spoolDropped, spoolErrors, spoolCorrupt atomic.Uint64
	panics                                           atomic.Uint64
	pending                                          atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Enqueued:                c.enqueued.Load(),
		Recovered:               c.recovered.Load(),
		Sent:                    c.sent.Load(),
		Requests:                c.requests.Load(),
		Retries:                 c.retries.Load(),
		Rejected:                c.rejected.Load(),
		DroppedQueueFull:        c.queueFull.Load(),
		DroppedClosed:           c.closed.Load(),
		DroppedInvalid:          c.invalid.Load(),
		DroppedRetriesExhausted: c.exhausted.Load(),
		DroppedAtClose:          c.atClose.Load(),
		DroppedUnencodable:      c.unencodable.Load(),
		Spooled:                 c.spooled.Load(),
		SpoolDropped:            c.spoolDropped.Load(),
		SpoolErrors:             c.spoolErrors.Load(),
		SpoolCorrupt:            c.spoolCorrupt.Load(),
		Panics:                  c.panics.Load(),
		Pending:                 c.pending.Load(),
	}
}
