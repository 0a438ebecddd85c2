// Command k8s-secret-enum runs the plugin's detection outside Fluent Bit.
//
//	k8s-secret-enum replay [-q] [-p key=value]... FILE|-...
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
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: k8s-secret-enum replay [-q] [-p key=value]... FILE|-...

Runs the detection over Kubernetes audit log files (JSON lines of Events or
EventLists; "-" reads stdin; .gz is decompressed) and prints each alert as
one JSON line on stdout, counters on stderr at the end. Settings are the
plugin's keys (see README), e.g. -p threshold=5 -p mode=schedule. Flags may
come before or after the files; "--" ends them.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "replay":
	default:
		fmt.Fprintf(stderr, "k8s-secret-enum: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
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
	files, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "k8s-secret-enum: %v\n\n%s", err, usage)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "k8s-secret-enum: no file to read (\"-\" reads stdin)\n\n%s", usage)
		return 2
	}
	cfg, err := config.Parse(props, config.Replay)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "k8s-secret-enum: %s\n", line)
		}
		return 2
	}
	r, err := newReplay(cfg.Engine, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "k8s-secret-enum: %v\n", err)
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
	r.take()
	if err := r.out.Flush(); err != nil {
		fmt.Fprintf(stderr, "k8s-secret-enum: writing alerts: %v\n", err)
		return 1
	}
	if !*quiet {
		r.summary()
	}
	return status
}

// parseInterspersed reads flags wherever they are among the file names,
// so that every setting is known before the first line is read.
func parseInterspersed(fs *flag.FlagSet, args []string) (files []string, err error) {
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(files, rest...), nil
		}
		if len(rest) == 0 {
			break
		}
		files, args = append(files, rest[0]), rest[1:]
	}
	return files, nil
}

// maxLine bounds one audit line; RequestResponse events of hundreds of
// kilobytes are normal, a line past this is skipped and counted.
const maxLine = 256 << 20

type replay struct {
	engine    *detect.Engine
	parser    *audit.JSONParser
	out       *bufio.Writer
	stderr    io.Writer
	lines     uint64
	malformed uint64
	notAudit  uint64
	tooLong   uint64
	alerts    uint64
}

func newReplay(s detect.Settings, stdout, stderr io.Writer) (*replay, error) {
	e, err := detect.New(config.Rule, s)
	if err != nil {
		return nil, err
	}
	return &replay{engine: e, parser: audit.NewJSONParser(), out: bufio.NewWriterSize(stdout, 64<<10), stderr: stderr}, nil
}

// take prints the alerts the engine decided, and what max_alerts cut.
func (r *replay) take() {
	for _, a := range r.engine.TakeAlerts() {
		b, err := a.MarshalJSON()
		if err != nil {
			fmt.Fprintf(r.stderr, "k8s-secret-enum: encoding an alert: %v\n", err)
			continue
		}
		r.alerts++
		r.out.Write(b)
		r.out.WriteByte('\n')
	}
	for _, c := range r.engine.TakeCuts() {
		fmt.Fprintf(r.stderr, "k8s-secret-enum: max_alerts cut %d alert(s) of the interval starting %s\n", c.Alerts, detect.FormatTime(c.IntervalStart))
	}
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
	r.take()
	switch {
	case err == nil:
	case errors.Is(err, audit.ErrNotAudit):
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
