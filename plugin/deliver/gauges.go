package deliver

// SpoolBytes is the size of the alerts in the spool, 0 without one: a
// gauge for the metrics endpoint. It may wait for a spool write in
// progress (an fsync), never for the network.
func (s *Sender) SpoolBytes() int64 {
	if s.spool == nil {
		return 0
	}
	s.spool.mu.Lock()
	defer s.spool.mu.Unlock()
	return s.spool.bytes
}
