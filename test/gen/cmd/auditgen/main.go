// Command auditgen writes a deterministic, realistic Kubernetes API-server
// audit log (audit.k8s.io/v1 Event JSON lines) with planted
// secret-harvesting bursts, for testing k8s-secret-enum.
//
//	auditgen -events 1000000 -seed 7 -marker LEAKMARKER_7f3a -o audit.log -truth truth.json
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/gen"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// Asked for: the usage went to stderr, and that is success.
	case err != nil:
		fmt.Fprintln(os.Stderr, "auditgen:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg    gen.Config
		start  = fs.String("start", gen.DefaultStart.Format(time.RFC3339), "event time of the first event (RFC 3339)")
		out    = fs.String("o", "", "write the audit log to `FILE` (default stdout)")
		truth  = fs.String("truth", "", "write the planted harvests (Truth) as JSON to `FILE`")
		decoys = fs.String("decoys-out", "", "write the planted benign multi-secret bursts (Decoys) as JSON to `FILE`")
		stats  = fs.Bool("stats", false, "print generation statistics to stderr")
	)
	fs.IntVar(&cfg.Events, "events", 10000, "number of audit events (lines) to write")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed; the same flags always give the same bytes")
	fs.Float64Var(&cfg.Rate, "rate", 2000, "events per second of event time")
	fs.Float64Var(&cfg.SecretGetShare, "secret-share", 0.05, "share of events that are `get secrets` (negative: none in the background)")
	fs.Float64Var(&cfg.RequestResponseShare, "rr-share", 0.05, "share of events at level RequestResponse (negative: none)")
	fs.IntVar(&cfg.Harvests, "harvests", 3, "number of secret-harvesting bursts to plant (negative: none)")
	fs.IntVar(&cfg.Decoys, "decoys", 7, "number of benign multi-secret bursts to plant (negative: none)")
	fs.StringVar(&cfg.Marker, "marker", "", "embed this marker in every secret payload inside request/response objects")
	fs.DurationVar(&cfg.Disorder, "disorder", 0, "maximum out-of-order jitter of event times vs file order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	t, err := time.Parse(time.RFC3339Nano, *start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	cfg.Start = t
	if cfg.Events <= 0 {
		return fmt.Errorf("-events must be positive")
	}
	if cfg.Rate <= 0 {
		return fmt.Errorf("-rate must be positive")
	}
	// In the flags 0 means 0; in gen.Config 0 means "default".
	if cfg.SecretGetShare == 0 {
		cfg.SecretGetShare = -1
	}
	if cfg.RequestResponseShare == 0 {
		cfg.RequestResponseShare = -1
	}
	if cfg.Harvests == 0 {
		cfg.Harvests = -1
	}
	if cfg.Decoys == 0 {
		cfg.Decoys = -1
	}

	g := gen.New(cfg)
	if *truth != "" {
		if err := writeJSON(*truth, g.Truth()); err != nil {
			return err
		}
	}
	if *decoys != "" {
		if err := writeJSON(*decoys, g.Decoys()); err != nil {
			return err
		}
	}
	w := stdout
	var f *os.File
	if *out != "" && *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	began := time.Now()
	if _, err := g.WriteTo(bw); err != nil {
		if f != nil {
			f.Close()
		}
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *stats {
		st := g.Stats()
		el := time.Since(began)
		fmt.Fprintf(stderr, "events %d, bytes %d (avg %.0f B/line, max %d B), get-secrets %d, RequestResponse %d, lines with objects %d (avg %.0f B)\n",
			st.Events, st.Bytes, float64(st.Bytes)/float64(max(st.Events, 1)), st.MaxLine, st.SecretGets, st.RequestResponse,
			st.WithObjects, float64(st.ObjectLineBytes)/float64(max(st.WithObjects, 1)))
		for _, c := range gen.ClassNames {
			fmt.Fprintf(stderr, "  %-24s %6.2f%%\n", c, 100*float64(st.ByClass[c])/float64(max(st.Events, 1)))
		}
		fmt.Fprintf(stderr, "generated in %v (%.0f events/s, %.0f MB/s)\n", el.Round(time.Millisecond),
			float64(st.Events)/el.Seconds(), float64(st.Bytes)/el.Seconds()/1e6)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
