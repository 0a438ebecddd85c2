// Package logging writes the plugin's log lines the way Fluent Bit's own
// lines look on stderr, so operators can grep one stream:
//
//	[2026/11/25 22:11:24] [ warn] [k8s_secret_enum] message
//
// A Go plugin cannot read its instance's log_level (Fluent Bit consumes that
// key), so the level comes from the plugin's own setting or FLB_LOG_LEVEL.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Level orders messages by importance; a logger prints a message when the
// message's level is at or below its own.
type Level int32

const (
	Off Level = iota
	Error
	Warn
	Info
	Debug
	Trace
)

// Prefix tags every line so the plugin's lines stand out among Fluent Bit's.
const Prefix = "[k8s_secret_enum]"

var levelWords = [...]string{Off: "off", Error: "error", Warn: "warn", Info: "info", Debug: "debug", Trace: "trace"}

// Fluent Bit pads the level word to five characters inside the brackets.
var levelTags = [...]string{Off: "", Error: "error", Warn: " warn", Info: " info", Debug: "debug", Trace: "trace"}

func (l Level) String() string {
	if l < Off || l > Trace {
		return fmt.Sprintf("level(%d)", int32(l))
	}
	return levelWords[l]
}

// Logger is safe for concurrent use: flushes on several worker threads, the
// sender and the stats timer all log through one instance.
type Logger struct {
	level atomic.Int32
	scope string
	out   *lockedWriter
	now   func() time.Time

	limits sync.Map // key -> *atomic.Int64 (unix nanos of the last line)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a logger writing to w; scope, when not empty, names the
// plugin instance so that lines of two [OUTPUT] sections can be told apart.
func New(w io.Writer, level Level, scope string) *Logger {
	if w == nil {
		w = os.Stderr
	}
	l := &Logger{scope: scope, out: &lockedWriter{w: w}, now: time.Now}
	l.level.Store(int32(level))
	return l
}

// SetLevel changes the level; used once configuration has been read.
func (l *Logger) SetLevel(level Level) { l.level.Store(int32(level)) }

// Enabled tells whether a message at level would be printed; callers use it
// to avoid building expensive debug output.
func (l *Logger) Enabled(level Level) bool {
	return level != Off && level <= Level(l.level.Load())
}

func (l *Logger) Errorf(format string, args ...any) { l.logf(Error, format, args...) }
func (l *Logger) Warnf(format string, args ...any)  { l.logf(Warn, format, args...) }
func (l *Logger) Infof(format string, args ...any)  { l.logf(Info, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.logf(Debug, format, args...) }

// Every reports whether a line keyed by key may be printed now, at most once
// per interval: conditions that repeat per alert or per request (a receiver
// that is down, a TLS error) are said once per interval, not once per item.
func (l *Logger) Every(key string, interval time.Duration) bool {
	now := l.now().UnixNano()
	v, _ := l.limits.LoadOrStore(key, new(atomic.Int64))
	last := v.(*atomic.Int64)
	for {
		prev := last.Load()
		if prev != 0 && now-prev < int64(interval) {
			return false
		}
		if last.CompareAndSwap(prev, now) {
			return true
		}
	}
}

func (l *Logger) logf(level Level, format string, args ...any) {
	if l == nil || !l.Enabled(level) {
		return
	}
	var b strings.Builder
	b.Grow(96)
	b.WriteByte('[')
	b.WriteString(l.now().Format("2006/01/02 15:04:05"))
	b.WriteString("] [")
	b.WriteString(levelTags[level])
	b.WriteString("] ")
	b.WriteString(Prefix)
	if l.scope != "" {
		b.WriteString(" [")
		b.WriteString(l.scope)
		b.WriteByte(']')
	}
	b.WriteByte(' ')
	fmt.Fprintf(&b, format, args...)
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	l.out.mu.Lock()
	_, _ = io.WriteString(l.out.w, b.String())
	l.out.mu.Unlock()
}
