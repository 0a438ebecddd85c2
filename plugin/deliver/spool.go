package deliver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// The spool keeps one file per alert:
//
//	<20-digit sequence>-<sanitized id>.json
//
// The zero-padded sequence makes a directory listing the enqueue order, the
// id lets an operator find an alert by eye. A file only gets its final name
// after its bytes are fsynced (write temp, fsync, rename, fsync dir), so a
// process killed at any point leaves either a complete alert or a temp file.
const (
	tempPrefix = ".tmp-"
	corruptDir = "corrupt"
	seqDigits  = 20
	fileSuffix = ".json"
)

// spools hands a directory from one Sender of this process to the next.
// A hot reload starts the new instance before the old one stops, so two
// Senders use one directory for a while: each writes its own files (a range
// of sequences of its own) and touches no other; the first one to open the
// directory owns it and adopts the files nobody is writing (those a previous
// process left, those a stopped owner could not deliver). When the owner
// stops, the next Sender takes the directory over and adopts what is left.
var spools = struct {
	sync.Mutex
	users map[string][]*spool // by directory; the first one owns it
}{users: map[string][]*spool{}}

// generationBits split a sequence into the Sender's range and a counter.
const generationBits = 40

type spoolEntry struct {
	seq  uint64
	id   string // sanitized
	size int64
}

type spool struct {
	dir string
	max int64
	log *logging.Logger
	c   *counters
	// first is this spool's own range of sequences: it writes first,
	// first+1, …; files below it were written by others.
	first uint64
	// adopted is called after files were adopted, to wake the Sender.
	adopted func(n int)

	mu    sync.Mutex
	next  uint64 // sequence of the next file
	bytes int64  // sizes of all alert files in dir that this spool owns
	// backlog lists spooled alerts that are not in memory, oldest first. It
	// costs a few dozen bytes per alert, which is what lets an outage be
	// bounded by SpoolMaxBytes rather than by QueueSize.
	backlog []spoolEntry
	head    int
}

func openSpool(dir string, maxBytes int64, log *logging.Logger, c *counters, adopted func(n int)) (*spool, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("spool dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("spool dir: %w", err)
	}
	// Fail at start, not at the first alert, when the directory is not
	// writable.
	probe, err := os.CreateTemp(abs, tempPrefix+"probe-*")
	if err != nil {
		return nil, fmt.Errorf("spool dir not writable: %w", err)
	}
	probe.Close()
	os.Remove(probe.Name())

	sp := &spool{dir: abs, max: maxBytes, log: log, c: c}
	spools.Lock()
	defer spools.Unlock()
	users := spools.users[abs]
	highest, err := sp.highestSeq()
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		highest = max(highest, u.first)
	}
	sp.first = (highest>>generationBits + 1) << generationBits
	sp.next = sp.first
	if len(users) == 0 {
		if err := sp.adopt(); err != nil {
			return nil, err
		}
	}
	// Set under the lock, before a stopping owner can hand over.
	sp.adopted = adopted
	spools.users[abs] = append(users, sp)
	return sp, nil
}

// highestSeq is the highest sequence of a spool file in the directory.
func (sp *spool) highestSeq() (uint64, error) {
	entries, err := os.ReadDir(sp.dir)
	if err != nil {
		return 0, fmt.Errorf("spool dir: %w", err)
	}
	var highest uint64
	for _, e := range entries {
		if seq, _, ok := parseSpoolName(e.Name()); ok {
			highest = max(highest, seq)
		}
	}
	return highest, nil
}

// adopt takes over the files in the directory that are not this spool's
// own and not known yet: what a previous process, or a Sender of this
// process that stopped, left undelivered. Only names are read here;
// contents are checked when an alert is read back for sending.
func (sp *spool) adopt() error {
	entries, err := os.ReadDir(sp.dir) // sorted by name, hence by sequence
	if err != nil {
		return fmt.Errorf("spool dir: %w", err)
	}
	sp.mu.Lock()
	known := make(map[uint64]bool, len(sp.backlog)-sp.head)
	for _, e := range sp.backlog[sp.head:] {
		known[e.seq] = true
	}
	var found []spoolEntry
	var bytes int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasPrefix(name, tempPrefix) {
			sp.moveAside(name, "temporary file of an interrupted write (that alert was never accepted)")
			continue
		}
		seq, id, ok := parseSpoolName(name)
		if !ok {
			sp.log.Debugf("spool: ignoring %s, not a spool file", name)
			continue
		}
		if seq >= sp.first || known[seq] {
			continue // its own, or adopted already
		}
		var size int64
		if info, err := e.Info(); err == nil {
			size = info.Size()
		}
		found = append(found, spoolEntry{seq: seq, id: id, size: size})
		bytes += size
	}
	// Older alerts go first.
	sp.backlog = append(found, sp.backlog[sp.head:]...)
	sp.head = 0
	sp.bytes += bytes
	sp.mu.Unlock()
	if len(found) > 0 && sp.adopted != nil {
		sp.adopted(len(found))
	}
	return nil
}

func (sp *spool) path(seq uint64, id string) string {
	return filepath.Join(sp.dir, spoolName(seq, id))
}

func spoolName(seq uint64, id string) string {
	return fmt.Sprintf("%0*d-%s%s", seqDigits, seq, sanitizeID(id), fileSuffix)
}

func parseSpoolName(name string) (seq uint64, id string, ok bool) {
	if len(name) < seqDigits+1+len(fileSuffix) || name[seqDigits] != '-' || !strings.HasSuffix(name, fileSuffix) {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(name[:seqDigits], 10, 64)
	if err != nil || seq == 0 {
		return 0, "", false
	}
	return seq, name[seqDigits+1 : len(name)-len(fileSuffix)], true
}

// sanitizeID keeps ids that are safe in a file name as they are and maps the
// rest, so that an id can never name a path outside the spool.
func sanitizeID(id string) string {
	const maxLen = 64
	var b strings.Builder
	for i := 0; i < len(id) && b.Len() < maxLen; i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "alert"
	}
	return b.String()
}

// writeLocked stores one alert durably and returns its sequence. The
// sequence is only consumed on success so that files stay contiguous.
func (sp *spool) writeLocked(id string, body []byte) (uint64, error) {
	seq := sp.next
	f, err := os.CreateTemp(sp.dir, tempPrefix+"*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, sp.path(seq, id))
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	// Without the directory fsync the rename itself may not survive a power
	// loss. A failure here is reported but the alert is in place.
	if err := syncDir(sp.dir); err != nil && sp.log.Every("deliver.spool.dirsync", logInterval) {
		sp.log.Warnf("spool: fsync of %s failed: %v", sp.dir, err)
	}
	sp.next++
	sp.bytes += int64(len(body))
	return seq, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// hasBacklogLocked tells Enqueue that older alerts wait on disk only, so a
// new one must queue behind them on disk as well to keep the order.
func (sp *spool) hasBacklogLocked() bool { return sp.head < len(sp.backlog) }

func (sp *spool) pushBacklogLocked(e spoolEntry) { sp.backlog = append(sp.backlog, e) }

func (sp *spool) backlogLen() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.backlog) - sp.head
}

// take reads up to n backlog alerts (at least one, then as many as fit in
// roomBytes) back from disk. consumed counts entries taken off the backlog,
// corrupt ones included, so the caller knows whether to keep going.
func (sp *spool) take(n, roomBytes int, first bool) (items []item, consumed int) {
	sp.mu.Lock()
	var es []spoolEntry
	used := 0
	for sp.head < len(sp.backlog) && len(es) < n {
		e := sp.backlog[sp.head]
		if (len(es) > 0 || !first) && used+int(e.size)+1 > roomBytes {
			break
		}
		es = append(es, e)
		used += int(e.size) + 1
		sp.backlog[sp.head] = spoolEntry{}
		sp.head++
	}
	if sp.head == len(sp.backlog) {
		sp.backlog, sp.head = sp.backlog[:0], 0
	} else if sp.head > 1024 && sp.head > len(sp.backlog)/2 {
		sp.backlog = append(sp.backlog[:0:0], sp.backlog[sp.head:]...)
		sp.head = 0
	}
	sp.mu.Unlock()

	for _, e := range es {
		name := spoolName(e.seq, e.id)
		body, err := os.ReadFile(filepath.Join(sp.dir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			sp.lost(e, name, "file vanished")
			continue
		case err != nil:
			sp.lost(e, name, err.Error())
			sp.moveAside(name, "unreadable")
			continue
		case !json.Valid(body):
			sp.lost(e, name, "not valid JSON")
			sp.moveAside(name, "not valid JSON (truncated or damaged)")
			continue
		}
		if int64(len(body)) != e.size {
			sp.mu.Lock()
			sp.bytes += int64(len(body)) - e.size
			sp.mu.Unlock()
		}
		items = append(items, item{id: e.id, body: body, seq: e.seq})
	}
	return items, len(es)
}

func (sp *spool) lost(e spoolEntry, name, why string) {
	sp.mu.Lock()
	sp.bytes -= e.size
	sp.mu.Unlock()
	sp.c.spoolCorrupt.Add(1)
	sp.c.pending.Add(-1)
	sp.log.Errorf("spool: alert %s cannot be read back: %s; it is lost", name, why)
}

// remove forgets alerts that are settled. A file that does not go away is
// sent again at the next start: a duplicate, never a loss.
func (sp *spool) remove(items []item) {
	var freed int64
	for _, it := range items {
		if it.seq == 0 {
			continue
		}
		err := os.Remove(sp.path(it.seq, it.id))
		if err != nil && !errors.Is(err, fs.ErrNotExist) && sp.log.Every("deliver.spool.remove", logInterval) {
			sp.log.Warnf("spool: cannot remove a delivered alert: %v; it will be sent again at next start", err)
		}
		freed += int64(len(it.body))
	}
	sp.mu.Lock()
	sp.bytes -= freed
	sp.mu.Unlock()
}

// discard sets aside a spooled alert that can never be sent, for an
// operator to look at.
func (sp *spool) discard(it item, why string) {
	sp.mu.Lock()
	sp.bytes -= int64(len(it.body))
	sp.mu.Unlock()
	sp.moveAside(spoolName(it.seq, it.id), why)
}

// moveAside keeps a file we cannot use for an operator to look at, out of
// the way of the next start.
func (sp *spool) moveAside(name, why string) {
	dst := filepath.Join(sp.dir, corruptDir)
	err := os.MkdirAll(dst, 0o700)
	if err == nil {
		err = os.Rename(filepath.Join(sp.dir, name), filepath.Join(dst, name))
	}
	if err != nil {
		sp.log.Errorf("spool: cannot move %s aside (%s): %v; removing it", name, why, err)
		os.Remove(filepath.Join(sp.dir, name))
		return
	}
	sp.log.Warnf("spool: moved %s to %s/: %s", name, dst, why)
}

// release gives the directory up; when this spool owned it, the next
// Sender of this process using it takes it over and adopts what is left.
func (sp *spool) release() {
	spools.Lock()
	users := spools.users[sp.dir]
	owner := len(users) > 0 && users[0] == sp
	for i, u := range users {
		if u == sp {
			users = append(users[:i:i], users[i+1:]...)
			break
		}
	}
	if len(users) == 0 {
		delete(spools.users, sp.dir)
	} else {
		spools.users[sp.dir] = users
	}
	spools.Unlock()
	if owner && len(users) > 0 {
		if err := users[0].adopt(); err != nil {
			users[0].log.Errorf("spool %s: taking over from a stopped output: %v", sp.dir, err)
		}
	}
}
