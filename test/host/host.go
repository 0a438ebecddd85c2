// Package host runs the plugin .so under flbhost (flbhost.c in this
// directory), a small C program that loads and drives a Fluent Bit Go output
// plugin exactly as Fluent Bit's Go proxy does, and parses what it prints.
//
// Paths: the flbhost binary comes from $FLBHOST, else <repo>/build/flbhost,
// else (missing or older than flbhost.c) flbhost.c is compiled with gcc into
// a temporary directory once per test process. The plugin comes from
// $K8S_SECRET_ENUM_SO, else <repo>/build/out_k8s_secret_enum.so (run `make`).
package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables that override the default paths.
const (
	EnvBinary = "FLBHOST"
	EnvPlugin = "K8S_SECRET_ENUM_SO"
)

// PluginName is the name the plugin registers.
const PluginName = "k8s_secret_enum"

// Exit statuses of flbhost.
const (
	StatusOK           = 0
	StatusUsage        = 1 // bad arguments, unreadable chunk file
	StatusLoad         = 2 // dlopen / PreRegister / Register / symbol problem
	StatusInitFailed   = 3 // some FLBPluginInit returned <= 0
	StatusSignalKilled = -1
)

// ---- paths ----

// RepoRoot is the directory holding go.mod.
func RepoRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("host: cannot find the repository root (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// SourcePath is the path of flbhost.c.
func SourcePath() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "test", "host", "flbhost.c"), nil
}

// CompileHost compiles flbhost.c into dir/flbhost with the project's
// command line and returns the binary's path. Compiler output (warnings
// included) makes it fail: flbhost.c must build warning-free.
func CompileHost(dir string) (string, error) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", errors.New("host: gcc not found in PATH: install a C compiler " +
			"(Debian/Ubuntu: apt-get install gcc libc6-dev) to build test/host/flbhost.c")
	}
	src, err := SourcePath()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "flbhost")
	cmd := exec.Command(gcc, "-O2", "-Wall", "-Wextra", "-o", out, src, "-ldl", "-lpthread")
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("host: %s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
	}
	if len(bytes.TrimSpace(msg)) > 0 {
		return "", fmt.Errorf("host: flbhost.c must compile warning-free:\n%s", msg)
	}
	return out, nil
}

var (
	compileMu  sync.Mutex
	compiled   string
	compileErr error
)

// BinaryPath locates flbhost (see the package comment), compiling it when
// needed.
func BinaryPath() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("host: $%s=%s: %v", EnvBinary, p, err)
		}
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	def := filepath.Join(root, "build", "flbhost")
	if bi, err := os.Stat(def); err == nil {
		si, serr := os.Stat(filepath.Join(root, "test", "host", "flbhost.c"))
		if serr != nil || !si.ModTime().After(bi.ModTime()) {
			return def, nil
		}
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	if compiled == "" && compileErr == nil {
		dir, err := os.MkdirTemp("", "flbhost-")
		if err != nil {
			compileErr = err
		} else {
			compiled, compileErr = CompileHost(dir)
		}
	}
	return compiled, compileErr
}

// PluginPath locates the plugin .so.
func PluginPath() (string, error) {
	p := os.Getenv(EnvPlugin)
	if p == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		p = filepath.Join(root, "build", "out_k8s_secret_enum.so")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("host: plugin %s not found: run `make` in the repository root to build it "+
			"(or point $%s at a built .so)", p, EnvPlugin)
	}
	return p, nil
}

// Binary is BinaryPath for tests: it fails the test on error.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := BinaryPath()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Plugin is PluginPath for tests: it fails the test on error.
func Plugin(t testing.TB) string {
	t.Helper()
	p, err := PluginPath()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Build returns the flbhost binary and the plugin .so, failing the test
// when either cannot be had.
func Build(t testing.TB) (bin, so string) {
	t.Helper()
	return Binary(t), Plugin(t)
}

// ---- chunk files ----

// WriteFrames writes chunks as flbhost's --chunks file: for each chunk a
// uint32 big-endian length, then the bytes.
func WriteFrames(w io.Writer, chunks [][]byte) error {
	for _, c := range chunks {
		var hdr [4]byte
		if uint64(len(c)) > 0xFFFFFFFF {
			return fmt.Errorf("host: chunk of %d bytes is too big for a frame", len(c))
		}
		binary.BigEndian.PutUint32(hdr[:], uint32(len(c)))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return nil
}

// ReadFrames reads a --chunks file back.
func ReadFrames(r io.Reader) ([][]byte, error) {
	var out [][]byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("host: frame header: %w", err)
		}
		c := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(r, c); err != nil {
			return out, fmt.Errorf("host: frame body: %w", err)
		}
		out = append(out, c)
	}
}

// WriteChunkFile writes chunks to path in the --chunks format.
func WriteChunkFile(path string, chunks [][]byte) error {
	var buf bytes.Buffer
	if err := WriteFrames(&buf, chunks); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// ---- running ----

// Instance is one [OUTPUT] section: its properties in order and the
// chunks flushed to it (each chunk = one FlushCtx call).
type Instance struct {
	Props  [][2]string
	Chunks [][]byte
}

// Config describes one flbhost run.
type Config struct {
	Bin string // flbhost binary; default BinaryPath()
	SO  string // plugin; default PluginPath()

	Threads   int    // > 1: that many workers per instance (Workers N)
	Tag       string // default flbhost's "k8s_audit"
	Instances []Instance

	SleepBeforeExit time.Duration // after the flushes, before Exit
	FlushGap        time.Duration // between consecutive flushes of one thread
	NoExit          bool          // skip ExitCtx and Unregister; _exit right away
	// Reload simulates a hot reload after the flushes: the plugin is
	// registered again (PreRegister(1)), new instances numbered after the
	// old ones are initialised and given the same chunks, then the old
	// instances exit.
	Reload bool

	// CoroStackSize is the coroutine stack for flushes: 0 keeps flbhost's
	// default (65536), a negative value runs flushes on the thread stack.
	CoroStackSize int
	// RetryLimit > 0 re-flushes a chunk answered with FLB_RETRY up to that
	// many times, RetryWait apart (flbhost's default 1 s).
	RetryLimit int
	RetryWait  time.Duration

	ExtraArgs []string
	Env       []string  // added to the environment (KEY=value)
	Stderr    io.Writer // if set, the child's stderr is also copied here as it comes
	Stdout    io.Writer // if set, the child's stdout is also copied here as it comes
}

// Args builds the flbhost command line (without the binary); chunk files
// are written into dir.
func (c Config) Args(dir string) ([]string, error) {
	args := []string{"--so", c.SO}
	if c.Threads > 1 {
		args = append(args, "--threads", strconv.Itoa(c.Threads))
	}
	if c.Tag != "" {
		args = append(args, "--tag", c.Tag)
	}
	if c.SleepBeforeExit > 0 {
		args = append(args, "--sleep-before-exit-ms", strconv.FormatInt(c.SleepBeforeExit.Milliseconds(), 10))
	}
	if c.FlushGap > 0 {
		args = append(args, "--flush-gap-ms", strconv.FormatInt(c.FlushGap.Milliseconds(), 10))
	}
	if c.NoExit {
		args = append(args, "--no-exit")
	}
	if c.Reload {
		args = append(args, "--reload")
	}
	if c.CoroStackSize != 0 {
		args = append(args, "--coro-stack-size", strconv.Itoa(max(c.CoroStackSize, 0)))
	}
	if c.RetryLimit > 0 {
		args = append(args, "--retry-limit", strconv.Itoa(c.RetryLimit))
		if c.RetryWait > 0 {
			args = append(args, "--retry-wait-ms", strconv.FormatInt(c.RetryWait.Milliseconds(), 10))
		}
	}
	var files []string
	for i, ins := range c.Instances {
		args = append(args, "--instance")
		for _, p := range ins.Props {
			args = append(args, "-p", p[0]+"="+p[1])
		}
		if len(ins.Chunks) > 0 {
			f := filepath.Join(dir, fmt.Sprintf("chunks-%d.bin", i))
			if err := WriteChunkFile(f, ins.Chunks); err != nil {
				return nil, err
			}
			files = append(files, "--chunks", strconv.Itoa(i), f)
		}
	}
	args = append(args, files...)
	return append(args, c.ExtraArgs...), nil
}

// Process is a running flbhost.
type Process struct {
	Cmd *exec.Cmd
	ctx context.Context
	dir string

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced whenever a line arrives or output ends
	eof     bool
	stderr  lockedBuffer
	stdout  lockedBuffer

	readers sync.WaitGroup
	waitMu  sync.Mutex
	waited  bool
	result  Result
	werr    error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start launches flbhost; the chunk files live in a temporary directory
// removed by Wait. Cancelling ctx kills the process.
func Start(ctx context.Context, c Config) (*Process, error) {
	var err error
	if c.Bin == "" {
		if c.Bin, err = BinaryPath(); err != nil {
			return nil, err
		}
	}
	if c.SO == "" {
		if c.SO, err = PluginPath(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "flbhost-run-")
	if err != nil {
		return nil, err
	}
	args, err := c.Args(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	p := &Process{Cmd: cmd, ctx: ctx, dir: dir, changed: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&p.stderr, c.Stderr)
	} else {
		cmd.Stderr = &p.stderr
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("host: starting %s: %w", c.Bin, err)
	}
	p.readers.Add(1)
	go func() {
		defer p.readers.Done()
		var tee io.Writer = &p.stdout
		if c.Stdout != nil {
			tee = io.MultiWriter(&p.stdout, c.Stdout)
		}
		sc := bufio.NewScanner(io.TeeReader(stdout, tee))
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.mu.Lock()
		p.eof = true
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Kill sends SIGKILL.
func (p *Process) Kill() error { return p.Cmd.Process.Signal(syscall.SIGKILL) }

// Signal sends sig (flbhost cuts --sleep-before-exit-ms short on SIGTERM/SIGINT
// and goes on to Exit, like Fluent Bit's shutdown).
func (p *Process) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Lines returns the stdout lines so far.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Stderr returns the child's stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// WaitForLine waits until a stdout line satisfies match and returns it.
func (p *Process) WaitForLine(timeout time.Duration, match func(line string) bool) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		lines, eof, ch := p.lines[seen:], p.eof, p.changed
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l, nil
			}
		}
		if eof {
			return "", errors.New("host: flbhost ended before the line appeared")
		}
		select {
		case <-ch:
		case <-deadline.C:
			return "", fmt.Errorf("host: no matching line after %v", timeout)
		}
	}
}

// WaitForStep waits for the first line of the given step ("flush", "init",
// "sleep", ...).
func (p *Process) WaitForStep(step string, timeout time.Duration) (string, error) {
	return p.WaitForLine(timeout, func(l string) bool { return l == step || strings.HasPrefix(l, step+" ") })
}

// WaitForFlushes waits until n flush lines were printed.
func (p *Process) WaitForFlushes(n int, timeout time.Duration) error {
	count := 0
	_, err := p.WaitForLine(timeout, func(l string) bool {
		if strings.HasPrefix(l, "flush ") {
			count++
		}
		return count >= n
	})
	return err
}

// Wait waits for the process to end and parses its output. A non-zero
// exit status is not an error (see Result.ExitCode); the error reports a
// failure to run or a cancelled context.
func (p *Process) Wait() (Result, error) {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	if p.waited {
		return p.result, p.werr
	}
	p.waited = true
	p.readers.Wait()
	err := p.Cmd.Wait()
	defer os.RemoveAll(p.dir)
	r := Parse(p.Lines())
	r.Stdout = p.stdout.String()
	r.Stderr = p.stderr.String()
	r.ExitCode = StatusSignalKilled
	if ps := p.Cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.Signal = ws.Signal().String()
		} else {
			r.ExitCode = ps.ExitCode()
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil
	}
	if r.Signal != "" && err == nil && p.ctx.Err() != nil {
		err = p.ctx.Err()
	}
	p.result, p.werr = r, err
	return r, err
}

// Run runs flbhost to completion.
func Run(ctx context.Context, c Config) (Result, error) {
	p, err := Start(ctx, c)
	if err != nil {
		return Result{ExitCode: StatusSignalKilled}, err
	}
	return p.Wait()
}

// ---- results ----

// Register is the registration step.
type Register struct {
	RC, Type, Proxy, Flags int
	Name, Description      string
}

// Init is one FLBPluginInit call.
type Init struct {
	Instance, RC  int
	RemoteContext bool // the plugin called FLBPluginSetContext
}

// Flush is one FlushCtx call.
type Flush struct {
	Instance, Chunk, Thread, RC, Attempt, Bytes int
	T0, T1                                      time.Time
}

// Duration is how long the call took.
func (f Flush) Duration() time.Duration { return f.T1.Sub(f.T0) }

// Exit is one ExitCtx (or Exit) call.
type Exit struct {
	Instance, RC int
	Callback     string // FLBPluginExitCtx, FLBPluginExit or none
}

// PreRun is one FLBPluginOutputPreRun call.
type PreRun struct{ Instance, RC int }

// GetProp is one output_get_property call made by the plugin.
type GetProp struct {
	Instance int    // the instance whose o_ins the plugin passed
	Phase    string // init, flush, exit, ...
	Key      string
	Found    bool // a non-NULL value was returned
	Hidden   bool // the key is consumed by the Fluent Bit core
}

// Usage is the host process's resource use (getrusage), printed before
// "done".
type Usage struct {
	UserCPU, SystemCPU time.Duration
	MaxRSSKB           int
}

// Result is what one flbhost run printed.
type Result struct {
	Symbols      map[string]bool // exported entry points (pre_register, flush_ctx, ...)
	PreRegister  *int
	Register     Register
	Registered   bool
	Inits        []Init
	PreRuns      []PreRun
	Flushes      []Flush
	Skipped      []int // instances whose flushes were skipped (Init failed)
	Flushed      bool  // all flushes finished
	PreExits     []int
	Exits        []Exit
	Unregistered bool
	Done         bool
	GetProps     []GetProp
	Errors       []string // msg of "error" lines
	Other        []string // lines flbhost did not print (or unknown steps)

	Usage Usage // CPU time and peak RSS of the whole run

	ExitCode int    // flbhost's exit status; -1 when killed by a signal
	Signal   string // the signal that killed it, if any
	Lines    []string
	Stdout   string
	Stderr   string
}

// InitRC returns instance i's Init return code.
func (r *Result) InitRC(i int) (int, bool) {
	for _, in := range r.Inits {
		if in.Instance == i {
			return in.RC, true
		}
	}
	return 0, false
}

// ExitRC returns instance i's Exit return code.
func (r *Result) ExitRC(i int) (int, bool) {
	for _, e := range r.Exits {
		if e.Instance == i {
			return e.RC, true
		}
	}
	return 0, false
}

// FlushesOf returns instance i's flushes in the order they ended.
func (r *Result) FlushesOf(i int) []Flush {
	var out []Flush
	for _, f := range r.Flushes {
		if f.Instance == i {
			out = append(out, f)
		}
	}
	return out
}

// FlushRCs returns instance i's flush return codes indexed by chunk (the
// last attempt's code); -1 for chunks never flushed.
func (r *Result) FlushRCs(i, chunks int) []int {
	out := make([]int, chunks)
	for k := range out {
		out[k] = -1
	}
	for _, f := range r.Flushes {
		if f.Instance == i && f.Chunk < chunks {
			out[f.Chunk] = f.RC
		}
	}
	return out
}

// String summarises the run for failure messages.
func (r *Result) String() string {
	return fmt.Sprintf("exit=%d signal=%q\n--- stdout\n%s--- stderr\n%s", r.ExitCode, r.Signal, r.Stdout, r.Stderr)
}

// Line is one parsed step line: "<step> key=value ... [msg=free text]".
type Line struct {
	Step   string
	Fields map[string]string
}

// ParseLine splits a step line.
func ParseLine(s string) Line {
	l := Line{Fields: map[string]string{}}
	rest := s
	if i := strings.Index(s, " msg="); i >= 0 {
		l.Fields["msg"] = s[i+5:]
		rest = s[:i]
	} else if strings.HasPrefix(s, "msg=") {
		l.Fields["msg"] = s[4:]
		rest = ""
	}
	for i, f := range strings.Fields(rest) {
		if i == 0 && !strings.Contains(f, "=") {
			l.Step = f
			continue
		}
		if k, v, ok := strings.Cut(f, "="); ok {
			l.Fields[k] = v
		}
	}
	return l
}

func (l Line) int(k string) int {
	v, err := strconv.Atoi(l.Fields[k])
	if err != nil {
		return -1
	}
	return v
}

func (l Line) time(k string) time.Time {
	v, err := strconv.ParseInt(l.Fields[k], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// Parse turns flbhost's stdout lines into a Result (ExitCode is left 0).
func Parse(lines []string) Result {
	r := Result{Lines: lines, Symbols: map[string]bool{}}
	for _, s := range lines {
		l := ParseLine(s)
		switch l.Step {
		case "instance", "load", "sleep", "warning", "signal", "reload":
		case "rusage":
			r.Usage = Usage{UserCPU: time.Duration(l.int("utime_us")) * time.Microsecond,
				SystemCPU: time.Duration(l.int("stime_us")) * time.Microsecond, MaxRSSKB: l.int("maxrss_kb")}
		case "symbols":
			for k, v := range l.Fields {
				r.Symbols[k] = v == "1"
			}
		case "preregister":
			rc := l.int("rc")
			r.PreRegister = &rc
		case "register":
			r.Registered = true
			r.Register = Register{RC: l.int("rc"), Type: l.int("type"), Proxy: l.int("proxy"),
				Flags: l.int("flags"), Name: l.Fields["name"]}
		case "description":
			r.Register.Description = l.Fields["msg"]
		case "getprop":
			r.GetProps = append(r.GetProps, GetProp{Instance: l.int("instance"), Phase: l.Fields["phase"],
				Key: l.Fields["key"], Found: l.Fields["found"] == "1", Hidden: l.Fields["hidden"] == "1"})
		case "init":
			r.Inits = append(r.Inits, Init{Instance: l.int("instance"), RC: l.int("rc"),
				RemoteContext: l.Fields["remote_context"] == "set"})
		case "prerun":
			r.PreRuns = append(r.PreRuns, PreRun{Instance: l.int("instance"), RC: l.int("rc")})
		case "flush":
			r.Flushes = append(r.Flushes, Flush{Instance: l.int("instance"), Chunk: l.int("chunk"),
				Thread: l.int("thread"), RC: l.int("rc"), Attempt: l.int("attempt"), Bytes: l.int("bytes"),
				T0: l.time("t0"), T1: l.time("t1")})
		case "skip":
			r.Skipped = append(r.Skipped, l.int("instance"))
		case "flushed":
			r.Flushed = true
		case "preexit":
			r.PreExits = append(r.PreExits, l.int("instance"))
		case "exit":
			r.Exits = append(r.Exits, Exit{Instance: l.int("instance"), RC: l.int("rc"), Callback: l.Fields["cb"]})
		case "unregister":
			r.Unregistered = true
		case "done":
			r.Done = true
		case "error":
			r.Errors = append(r.Errors, l.Fields["msg"])
		default:
			r.Other = append(r.Other, s)
		}
	}
	return r
}
