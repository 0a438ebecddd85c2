package host

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	fakeOnce sync.Once
	fakeBin  string
	fakeSO   string
	fakeErr  error
	fakeDir  string
)

// fixture compiles flbhost.c and the C stand-in plugin once per test run.
func fixture(t *testing.T) (bin, so string) {
	t.Helper()
	fakeOnce.Do(func() {
		fakeDir, fakeErr = os.MkdirTemp("", "flbhost-test-")
		if fakeErr != nil {
			return
		}
		if fakeBin, fakeErr = CompileHost(fakeDir); fakeErr != nil {
			return
		}
		fakeSO = filepath.Join(fakeDir, "fake.so")
		cmd := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", fakeSO,
			filepath.Join("testdata", "fakeplugin.c"), "-lpthread")
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			fakeErr = fmt.Errorf("compiling testdata/fakeplugin.c: %v\n%s", err, out)
		}
	})
	if fakeErr != nil {
		t.Fatal(fakeErr)
	}
	return fakeBin, fakeSO
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	os.Exit(code)
}

func TestCompileHost(t *testing.T) {
	bin, _ := fixture(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--so PATH") {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	err = exec.Command(bin, "--instance").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != StatusUsage {
		t.Fatalf("without --so: %v, want exit status %d", err, StatusUsage)
	}
	r, err := Run(context.Background(), Config{Bin: bin, SO: "/nonexistent/x.so", Instances: []Instance{{}}})
	if err != nil || r.ExitCode != StatusLoad || len(r.Errors) == 0 {
		t.Fatalf("missing .so: %v %s", err, r.String())
	}
}

func chunks(n int, first byte) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, bytes.Repeat([]byte{first + byte(i)}, 100+i))
	}
	return out
}

func run(t *testing.T, c Config) Result {
	t.Helper()
	c.Bin, c.SO = fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, c)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, r.String())
	}
	return r
}

var fakeLine = regexp.MustCompile(`FAKE (\w+) (.*)`)

// fakeEvents returns the stand-in plugin's stderr lines of one kind.
func fakeEvents(r Result, kind string) []map[string]string {
	var out []map[string]string
	for _, l := range strings.Split(r.Stderr, "\n") {
		m := fakeLine.FindStringSubmatch(l)
		if m == nil || m[1] != kind {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Fields(m[2]) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		out = append(out, f)
	}
	return out
}

func TestLifecycleTwoInstances(t *testing.T) {
	r := run(t, Config{
		Tag: "kube.audit",
		Env: []string{"FLBHOST_TEST_VAR=from-env"},
		Instances: []Instance{
			{Props: [][2]string{{"ID", "a"}, {"Match", "kube.*"}, {"empty", ""}, {"env", "x-${FLBHOST_TEST_VAR}-${FLBHOST_UNSET_VAR}"}, {"id", "second"}}, Chunks: chunks(3, 'a')},
			{Props: [][2]string{{"id", "b"}, {"workers", "2"}, {"tls.verify", "off"}}, Chunks: chunks(2, 'A')},
		},
	})
	if r.ExitCode != 0 || !r.Done || !r.Unregistered || !r.Flushed || len(r.Errors) > 0 {
		t.Fatalf("%s", r.String())
	}
	if r.Register != (Register{RC: 0, Type: 2, Proxy: 11, Flags: 0, Name: PluginName, Description: "fake plugin for flbhost tests"}) {
		t.Errorf("register: %+v", r.Register)
	}
	if !r.Symbols["flush_ctx"] || !r.Symbols["exit_ctx"] || r.Symbols["flush"] || r.Symbols["pre_register"] {
		t.Errorf("symbols: %v", r.Symbols)
	}
	for i := 0; i < 2; i++ {
		if rc, ok := r.InitRC(i); !ok || rc != 1 {
			t.Errorf("init %d: %d %v", i, rc, ok)
		}
		if rc, ok := r.ExitRC(i); !ok || rc != 1 {
			t.Errorf("exit %d: %d %v", i, rc, ok)
		}
	}
	inits := fakeEvents(r, "init")
	if len(inits) != 2 {
		t.Fatalf("inits: %v", inits)
	}
	want := map[string]string{"id": "a", "mode": "(null)", "match": "(null)", "empty": "(null)", "env": "x-from-env-"}
	for k, v := range want {
		if inits[0][k] != v {
			t.Errorf("instance 0 sees %s=%q, want %q", k, inits[0][k], v)
		}
	}
	if inits[1]["id"] != "b" {
		t.Errorf("instance 1 id %q", inits[1]["id"])
	}
	var hidden, found int
	for _, g := range r.GetProps {
		if g.Phase != "init" {
			t.Errorf("getprop outside init: %+v", g)
		}
		if g.Key == "match" && g.Instance == 0 && !g.Hidden {
			t.Errorf("match should be hidden: %+v", g)
		}
		if g.Hidden {
			hidden++
		}
		if g.Found {
			found++
		}
	}
	if hidden != 1 || found != 3 { // match hidden on 0 (absent on 1); id, env on 0, id on 1
		t.Errorf("hidden=%d found=%d: %+v", hidden, found, r.GetProps)
	}
	// every flush reached its own instance's context, with the tag and the bytes
	flushes := fakeEvents(r, "flush")
	if len(flushes) != 5 || len(r.Flushes) != 5 {
		t.Fatalf("flushes: %v / %+v", flushes, r.Flushes)
	}
	for k, f := range flushes {
		wantID := "a"
		if k >= 3 {
			wantID = "b"
		}
		if f["id"] != wantID || f["tag"] != "kube.audit" {
			t.Errorf("flush %d: %v", k, f)
		}
	}
	for _, f := range r.Flushes {
		if f.RC != 1 || f.Thread != 0 || f.Attempt != 1 || f.T1.Before(f.T0) || f.T0.IsZero() {
			t.Errorf("flush %+v", f)
		}
		if want := 100 + f.Chunk; f.Bytes != want {
			t.Errorf("flush %+v: bytes want %d", f, want)
		}
	}
	if got := r.FlushRCs(0, 3); got[0] != 1 || got[2] != 1 {
		t.Errorf("FlushRCs %v", got)
	}
	if ex := fakeEvents(r, "exit"); len(ex) != 2 || ex[0]["flushes"] != "3" || ex[1]["flushes"] != "2" {
		t.Errorf("exits %v", ex)
	}
	if u := fakeEvents(r, "unregister"); len(u) != 1 || u[0]["name"] != PluginName {
		t.Errorf("unregister %v", u)
	}
	// lines come in the documented order
	order := []string{"register", "init", "flush", "flushed", "exit", "unregister", "done"}
	pos := 0
	for _, l := range r.Lines {
		if pos < len(order) && ParseLine(l).Step == order[pos] {
			pos++
		}
	}
	if pos != len(order) {
		t.Errorf("step order broken at %q:\n%s", order[pos], r.Stdout)
	}
}

func TestThreads(t *testing.T) {
	r := run(t, Config{
		Threads: 4,
		Instances: []Instance{
			{Props: [][2]string{{"id", "a"}, {"mode", "slow"}}, Chunks: chunks(12, 'a')},
			{Props: [][2]string{{"id", "b"}, {"mode", "slow"}}, Chunks: chunks(4, 'A')},
		},
	})
	if r.ExitCode != 0 || len(r.Flushes) != 16 {
		t.Fatalf("%s", r.String())
	}
	seen := map[[2]int]bool{}
	threads := map[int]bool{}
	for _, f := range r.Flushes {
		if seen[[2]int{f.Instance, f.Chunk}] {
			t.Errorf("chunk flushed twice: %+v", f)
		}
		seen[[2]int{f.Instance, f.Chunk}] = true
		threads[f.Thread] = true
	}
	if len(threads) < 2 {
		t.Errorf("only threads %v", threads)
	}
	ex := fakeEvents(r, "exit")
	if len(ex) != 2 {
		t.Fatalf("exits %v", ex)
	}
	for _, e := range ex {
		if n, _ := strconv.Atoi(e["max_inflight"]); n < 2 || n > 4 {
			t.Errorf("instance %s: max in flight %d, want 2..4", e["id"], n)
		}
	}
}

func TestFlushGapAndSequentialOrder(t *testing.T) {
	r := run(t, Config{
		FlushGap:  30 * time.Millisecond,
		Instances: []Instance{{Props: [][2]string{{"id", "a"}}, Chunks: chunks(3, 'a')}},
	})
	if len(r.Flushes) != 3 {
		t.Fatalf("%s", r.String())
	}
	for i, f := range r.Flushes {
		if f.Chunk != i {
			t.Errorf("flush %d is chunk %d", i, f.Chunk)
		}
		if i > 0 && f.T0.Sub(r.Flushes[i-1].T1) < 25*time.Millisecond {
			t.Errorf("gap before flush %d: %v", i, f.T0.Sub(r.Flushes[i-1].T1))
		}
	}
}

func TestInitFailure(t *testing.T) {
	r := run(t, Config{Instances: []Instance{
		{Props: [][2]string{{"id", "ok"}}, Chunks: chunks(2, 'a')},
		{Props: [][2]string{{"id", "bad"}, {"mode", "fail"}}, Chunks: chunks(2, 'A')},
	}})
	if r.ExitCode != StatusInitFailed {
		t.Fatalf("exit %d\n%s", r.ExitCode, r.String())
	}
	if rc, _ := r.InitRC(1); rc != 0 {
		t.Errorf("init rc %d", rc)
	}
	if len(r.Skipped) != 1 || r.Skipped[0] != 1 || len(r.FlushesOf(1)) != 0 || len(r.FlushesOf(0)) != 2 {
		t.Errorf("skipped %v flushes %+v", r.Skipped, r.Flushes)
	}
	if _, ok := r.ExitRC(1); ok {
		t.Error("Exit called for the failed instance")
	}
	if _, ok := r.ExitRC(0); !ok {
		t.Error("Exit not called for the good instance")
	}
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0], "failed to initialize") {
		t.Errorf("errors %v", r.Errors)
	}
}

func TestRetry(t *testing.T) {
	r := run(t, Config{
		RetryLimit: 1, RetryWait: 10 * time.Millisecond,
		Instances: []Instance{{Props: [][2]string{{"id", "a"}, {"mode", "retry"}}, Chunks: chunks(2, 'a')}},
	})
	if len(r.Flushes) != 3 {
		t.Fatalf("%s", r.String())
	}
	f := r.Flushes
	if f[0].Chunk != 0 || f[0].RC != 2 || f[0].Attempt != 1 || f[1].Chunk != 0 || f[1].RC != 1 || f[1].Attempt != 2 {
		t.Errorf("%+v", f)
	}
	if got := r.FlushRCs(0, 2); got[0] != 1 || got[1] != 1 {
		t.Errorf("FlushRCs %v", got)
	}
	// without --retry-limit a RETRY is just reported
	r = run(t, Config{Instances: []Instance{{Props: [][2]string{{"mode", "retry"}}, Chunks: chunks(1, 'a')}}})
	if len(r.Flushes) != 1 || r.Flushes[0].RC != 2 {
		t.Errorf("%+v", r.Flushes)
	}
}

func TestSharedPluginStruct(t *testing.T) {
	// A plugin that keeps the Init pointer and reads properties later reads
	// the LAST initialised instance's properties, as under Fluent Bit.
	r := run(t, Config{Instances: []Instance{
		{Props: [][2]string{{"id", "first"}, {"mode", "late"}}, Chunks: chunks(1, 'a')},
		{Props: [][2]string{{"id", "second"}}},
	}})
	fl := fakeEvents(r, "flush")
	if len(fl) != 1 || fl[0]["id"] != "first" || fl[0]["late"] != "second" {
		t.Fatalf("%v\n%s", fl, r.String())
	}
	var late []GetProp
	for _, g := range r.GetProps {
		if g.Phase == "flush" {
			late = append(late, g)
		}
	}
	if len(late) != 1 || late[0].Instance != 1 {
		t.Errorf("getprop in flush: %+v", late)
	}
}

func TestNoExit(t *testing.T) {
	r := run(t, Config{NoExit: true, Instances: []Instance{{Props: [][2]string{{"id", "a"}}, Chunks: chunks(1, 'a')}}})
	if r.ExitCode != 0 || !r.Done || len(r.Exits) != 0 || r.Unregistered || len(r.Flushes) != 1 {
		t.Fatalf("%s", r.String())
	}
}

func TestKillDuringSleep(t *testing.T) {
	bin, so := fixture(t)
	p, err := Start(context.Background(), Config{Bin: bin, SO: so, SleepBeforeExit: time.Minute,
		Instances: []Instance{{Props: [][2]string{{"id", "a"}}, Chunks: chunks(2, 'a')}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitForFlushes(2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitForStep("sleep", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != StatusSignalKilled || r.Signal != "killed" || len(r.Exits) != 0 || r.Done {
		t.Fatalf("%s", r.String())
	}
	if _, err := p.WaitForStep("never", time.Second); err == nil {
		t.Error("WaitForStep after the end should fail")
	}
}

func TestSIGTERMCutsSleep(t *testing.T) {
	bin, so := fixture(t)
	p, err := Start(context.Background(), Config{Bin: bin, SO: so, SleepBeforeExit: time.Minute,
		Instances: []Instance{{Props: [][2]string{{"id", "a"}}, Chunks: chunks(1, 'a')}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitForStep("sleep", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second || r.ExitCode != 0 || len(r.Exits) != 1 || !r.Done {
		t.Fatalf("%s", r.String())
	}
}

func TestContextCancelKills(t *testing.T) {
	bin, so := fixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := Run(ctx, Config{Bin: bin, SO: so, SleepBeforeExit: time.Minute,
		Instances: []Instance{{Props: [][2]string{{"id", "a"}}}}})
	if err == nil || r.Signal == "" {
		t.Fatalf("err=%v %s", err, r.String())
	}
}

func TestGarbageDescriptionNotRead(t *testing.T) {
	r := run(t, Config{Env: []string{"FAKE_NO_DESC=1"}, Instances: []Instance{{}}})
	if r.ExitCode != 0 || r.Register.Description != "" || r.Register.Name != PluginName {
		t.Fatalf("%s", r.String())
	}
}

func TestNoCoroutine(t *testing.T) {
	r := run(t, Config{CoroStackSize: -1, Instances: []Instance{{Chunks: chunks(2, 'a')}}})
	if r.ExitCode != 0 || len(r.Flushes) != 2 {
		t.Fatalf("%s", r.String())
	}
	if !strings.Contains(strings.Join(r.Lines, "\n"), "flush instance=0 chunk=1") {
		t.Error("flush line format changed")
	}
}

func TestFrames(t *testing.T) {
	in := [][]byte{{}, []byte("abc"), bytes.Repeat([]byte{0xff}, 70000)}
	var buf bytes.Buffer
	if err := WriteFrames(&buf, in); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte{0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 1, 0x11, 0x70}) {
		t.Fatalf("% x", buf.Bytes()[:16])
	}
	out, err := ReadFrames(&buf)
	if err != nil || len(out) != 3 || !bytes.Equal(out[2], in[2]) || len(out[0]) != 0 {
		t.Fatalf("%v %d", err, len(out))
	}
	if _, err := ReadFrames(bytes.NewReader([]byte{0, 0, 0, 5, 'x'})); err == nil {
		t.Error("truncated frame accepted")
	}
}

func TestParseLine(t *testing.T) {
	l := ParseLine("flush instance=0 chunk=3 thread=1 rc=1 t0=1700000000000000001 t1=1700000000000000002 attempt=1 bytes=9")
	if l.Step != "flush" || l.int("chunk") != 3 || l.time("t1").UnixNano() != 1700000000000000002 {
		t.Errorf("%+v", l)
	}
	l = ParseLine("error instance=1 msg=[go proxy]: plugin 'x y' failed rc=0")
	if l.Step != "error" || l.Fields["msg"] != "[go proxy]: plugin 'x y' failed rc=0" || l.Fields["instance"] != "1" {
		t.Errorf("%+v", l)
	}
	r := Parse([]string{"register rc=0 type=2 proxy=11 flags=0 name=n", "init instance=0 rc=1 remote_context=null", "something else"})
	if !r.Registered || r.Register.Name != "n" || len(r.Inits) != 1 || r.Inits[0].RemoteContext || len(r.Other) != 1 {
		t.Errorf("%+v", r)
	}
}

func TestPluginPathMissing(t *testing.T) {
	t.Setenv(EnvPlugin, filepath.Join(t.TempDir(), "missing.so"))
	_, err := PluginPath()
	if err == nil || !strings.Contains(err.Error(), "make") {
		t.Fatalf("%v", err)
	}
	t.Setenv(EnvBinary, filepath.Join(t.TempDir(), "missing"))
	if _, err := BinaryPath(); err == nil {
		t.Fatal("missing $FLBHOST accepted")
	}
}

func TestArgs(t *testing.T) {
	dir := t.TempDir()
	args, err := Config{SO: "x.so", Threads: 4, Tag: "t", SleepBeforeExit: 1500 * time.Millisecond,
		FlushGap: 5 * time.Millisecond, NoExit: true,
		Instances: []Instance{{Props: [][2]string{{"a", "b=c"}}}, {Chunks: [][]byte{{1}}}}}.Args(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "--so x.so --threads 4 --tag t --sleep-before-exit-ms 1500 --flush-gap-ms 5 --no-exit " +
		"--instance -p a=b=c --instance --chunks 1 " + filepath.Join(dir, "chunks-1.bin")
	if got := strings.Join(args, " "); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
