package flb

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait for something a Fluent Bit process should
// do. It is a guard against a hang, not a measurement: a loaded CI machine
// takes a few seconds for what takes one here.
const waitLimit = 90 * time.Second

// logBuffer collects a process's output and wakes waiters on each write.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
	file    *os.File
}

func newLogBuffer(file *os.File) *logBuffer {
	return &logBuffer{changed: make(chan struct{}), file: file}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.file != nil {
		l.file.Write(p)
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// proc is a running process whose output is kept.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *logBuffer
	done chan struct{}
	err  error
}

// start runs argv with env added to the test's environment, in dir (a
// fresh temporary directory when ""), and kills it when the test ends.
func start(t *testing.T, name string, argv []string, env []string, dir string) *proc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, out: newLogBuffer(logFile), done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = dir
	p.cmd.Env = append(withoutMake(os.Environ()), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	// Its own process group, so that a signal to the group reaches make,
	// the shell and Fluent Bit together, as Ctrl-C in a terminal does.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A child that outlives the process (make run's receiver, if the
	// script is killed) must not keep Wait from returning.
	p.cmd.WaitDelay = 10 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- output of %s (%s):\n%s", name, strings.Join(argv, " "), tail(p.out.String(), 150))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// Output is everything the process wrote so far.
func (p *proc) Output() string { return p.out.String() }

// waitOutput waits until cond holds for the output; it fails the test
// when the process exits first or waitLimit passes.
func (p *proc) waitOutput(what string, cond func(out string) bool) {
	p.t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		ch := p.out.wait()
		if cond(p.out.String()) {
			return
		}
		select {
		case <-ch:
		case <-p.done:
			if cond(p.out.String()) {
				return
			}
			p.t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		case <-deadline.C:
			p.t.Fatalf("%s: no %s after %v", p.name, what, waitLimit)
		}
	}
}

// waitFor waits until the output holds s at least n times.
func (p *proc) waitFor(s string, n int) {
	p.t.Helper()
	p.waitOutput(fmt.Sprintf("%d× %q", n, s), func(out string) bool { return strings.Count(out, s) >= n })
}

// signal sends sig to the process (group when group is set).
func (p *proc) signal(sig syscall.Signal, group bool) {
	p.t.Helper()
	pid := p.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		p.t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// wait waits for the process to exit and returns its exit error.
func (p *proc) wait() error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(waitLimit):
		p.t.Fatalf("%s did not exit within %v", p.name, waitLimit)
		return nil
	}
}

// stop sends SIGTERM and waits for a clean exit (status 0).
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM, false)
	if err := p.wait(); err != nil {
		p.t.Fatalf("%s: exit after SIGTERM: %v", p.name, err)
	}
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	p.t.Helper()
	p.signal(syscall.SIGKILL, false)
	p.wait()
}

// problems lists the output lines that report an error, a crash or lost
// alerts, apart from lines matching one of the allowed substrings.
func problems(out string, allowed ...string) []string {
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		if !isProblem(line) {
			continue
		}
		ok := false
		for _, a := range allowed {
			if strings.Contains(line, a) {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, line)
		}
	}
	return bad
}

func isProblem(line string) bool {
	for _, s := range []string{"[error]", "SIGSEGV", "SIGABRT", "panic", "not delivered", "dropped at shutdown",
		"[engine] caught signal (SIGSEGV)", "fatal error", "goroutine "} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// noProblems fails the test when the output reports an error.
func noProblems(t *testing.T, name, out string, allowed ...string) {
	t.Helper()
	if bad := problems(out, allowed...); len(bad) > 0 {
		t.Errorf("%s reported problems:\n%s", name, strings.Join(bad, "\n"))
	}
}

// fluentBitRun is one Fluent Bit process with its configuration.
type fluentBitRun struct {
	*proc
	fb fluentBit
}

// runFluentBit starts fb with a configuration file, the plugin loaded with
// -e, and env (KEY=VALUE, read by ${KEY} in the configuration).
func runFluentBit(t *testing.T, fb fluentBit, config string, env ...string) *fluentBitRun {
	t.Helper()
	argv := []string{fb.Path, "-c", config, "-e", plugin(t)}
	// the rule's defaults, for the configurations that let a test set them
	env = append([]string{"THRESHOLD=3", "WINDOW=6m", "SUPPRESS=5m"}, env...)
	return &fluentBitRun{proc: start(t, "fluent-bit-"+fb.Version, argv, env, ""), fb: fb}
}

// started waits until the n-th plugin instance of this process logged its
// start-up line (instance numbers count from 0 across hot reloads).
func (r *fluentBitRun) started(n int) {
	r.t.Helper()
	r.waitOutput(fmt.Sprintf("plugin instance #%d started", n), func(out string) bool {
		return strings.Contains(out, fmt.Sprintf("[k8s_secret_enum] [#%d] started", n))
	})
}

// stopClean sends SIGTERM, wants a clean exit and a log without problems.
func (r *fluentBitRun) stopClean(allowed ...string) {
	r.t.Helper()
	r.stop()
	noProblems(r.t, r.name, r.Output(), allowed...)
	if !strings.Contains(r.Output(), "] stopped") {
		r.t.Errorf("%s: the plugin never logged its exit", r.name)
	}
}
