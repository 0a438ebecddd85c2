// Command k8s-secret-enum runs the plugin's detection outside Fluent Bit.
//
//	k8s-secret-enum replay [-p key=value]... [FILE|-]...
//
// replay reads Kubernetes audit logs (JSON lines: Events, or EventLists as
// the audit webhook posts them; .gz files are decompressed), runs the rule
// on event time with the same settings as the plugin, and prints each alert
// as one JSON line on stdout. Counters go to stderr at the end. It is how
// thresholds and allowlists are backtested against past logs.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: k8s-secret-enum replay [-p key=value]... [FILE|-]...

Runs the detection over Kubernetes audit log files (JSON lines, "-" for
stdin, .gz decompressed) and prints alerts as JSON lines on stdout.
Settings are the plugin's keys (see README), e.g. -p threshold=5 -p mode=schedule.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] != "replay" {
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	props := config.MapGetter{}
	fs.Func("p", "a setting as key=value (repeatable)", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("want key=value, got %q", kv)
		}
		props[strings.ToLower(strings.TrimSpace(k))] = v
		return nil
	})
	quiet := fs.Bool("q", false, "do not print counters at the end")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := config.Parse(props, config.Replay)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "k8s-secret-enum: %s\n", line)
		}
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	r := newReplay(cfg.Engine, stdout, stderr)
	if r.err != nil {
		fmt.Fprintf(stderr, "k8s-secret-enum: %v\n", r.err)
		return 2
	}
	status := 0
	for _, name := range files {
		if err := r.file(name, stdin); err != nil {
			fmt.Fprintf(stderr, "k8s-secret-enum: %s: %v\n", name, err)
			status = 1
		}
	}
	r.engine.Close()
	if err := r.out.Flush(); err != nil {
		fmt.Fprintf(stderr, "k8s-secret-enum: writing alerts: %v\n", err)
		return 1
	}
	if !*quiet {
		r.summary()
	}
	return status
}

// maxLine bounds one audit line; RequestResponse events of hundreds of
// kilobytes are normal, a line past this is skipped and counted.
const maxLine = 256 << 20

type replay struct {
	engine    *detect.Engine
	parser    *detect.JSONParser
	out       *bufio.Writer
	stderr    io.Writer
	err       error
	lines     uint64
	malformed uint64
	notAudit  uint64
	tooLong   uint64
	alerts    uint64
}

func newReplay(s detect.Settings, stdout, stderr io.Writer) *replay {
	r := &replay{parser: detect.NewJSONParser(), out: bufio.NewWriterSize(stdout, 64<<10), stderr: stderr}
	r.engine, r.err = detect.New(detect.RapidSecretGet, s, detect.Options{
		Emit: r.emit,
		OnCut: func(start int64, n int) {
			fmt.Fprintf(stderr, "k8s-secret-enum: max_alerts cut %d alert(s) of the interval starting %s\n", n, detect.FormatTime(start))
		},
	})
	return r
}

func (r *replay) emit(a *detect.Alert) {
	b, err := a.MarshalJSON()
	if err != nil {
		fmt.Fprintf(r.stderr, "k8s-secret-enum: encoding an alert: %v\n", err)
		return
	}
	r.alerts++
	r.out.Write(b)
	r.out.WriteByte('\n')
}

func (r *replay) file(name string, stdin io.Reader) error {
	var in io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<20)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer gz.Close()
		br = bufio.NewReaderSize(gz, 1<<20)
	}
	var long []byte
	lineNo, tooLong := 0, false
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong && len(long)+len(chunk) <= maxLine {
				long = append(long, chunk...)
			} else {
				tooLong, long = true, long[:0]
			}
			continue
		}
		switch {
		case tooLong:
			lineNo++
			r.tooLong++
			tooLong = false
		case len(long) > 0:
			lineNo++
			r.line(append(long, chunk...), name, lineNo)
			long = long[:0]
		case len(chunk) > 0:
			lineNo++
			r.line(chunk, name, lineNo)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (r *replay) line(line []byte, name string, lineNo int) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	r.lines++
	_, err := r.parser.Parse(line, 0, r.engine.Process)
	switch {
	case err == nil:
	case errors.Is(err, detect.ErrNotAudit):
		r.notAudit++
	default:
		r.malformed++
		if r.malformed <= 10 {
			// The position only: a line may hold secret data.
			fmt.Fprintf(r.stderr, "k8s-secret-enum: %s:%d: skipped a malformed line\n", name, lineNo)
		}
	}
}

func (r *replay) summary() {
	s := r.engine.Stats()
	fmt.Fprintf(r.stderr, "k8s-secret-enum: lines=%d events=%d matched=%d alerts=%d (new=%d update=%d cut=%d) skipped: malformed=%d not_audit=%d too_long=%d no_time=%d late=%d too_late=%d; fingerprints_evicted=%d names_dropped=%d\n",
		r.lines, s.Events, s.Matched, r.alerts, s.AlertsNew, s.AlertsUpdate, s.AlertsCut,
		r.malformed, r.notAudit, r.tooLong, s.NoTime, s.Late, s.TooLate, s.FingerprintsEvicted, s.NamesDropped)
}
