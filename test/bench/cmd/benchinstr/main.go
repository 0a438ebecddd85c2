// Command benchinstr runs one kind of chunk processing over a chunk file
// written by benchreport (two passes of the same chunks, the second shifted
// in event time), for valgrind's callgrind to count the instructions of
// the second pass: the whole program's count with -measure=false (loading
// and the warm-up pass only) is subtracted from its count without.
//
//	valgrind --tool=callgrind benchinstr -kind pipeline build/bench/instr-map.bin
//	valgrind --tool=callgrind benchinstr -kind pipeline -measure=false build/bench/instr-map.bin
//
// (callgrind's --toggle-collect=main.measure is cheaper but loses track
// when a goroutine stack is moved, which deep decoders such as
// encoding/json's cause.)
// Instruction counts do not depend on the load of a shared machine; wall
// time does. The records of the measured pass are printed, to divide by.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/record"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/bench"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/bench/conventional"
	"github.com/k8s-secret-enum/k8s-secret-enum/test/host"
	"github.com/tinylib/msgp/msgp"
)

func main() {
	kind := flag.String("kind", "pipeline", "pipeline, decode, conventional, stdjson, floor")
	limit := flag.Int("chunks", 0, "use only the first N chunks of each pass (0: all)")
	doMeasure := flag.Bool("measure", true, "run the measured pass (false: only the warm-up, to subtract)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: benchinstr -kind KIND CHUNKFILE")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fatal(err)
	}
	chunks, err := host.ReadFrames(f)
	f.Close()
	if err != nil {
		fatal(err)
	}
	half := len(chunks) / 2
	warm, measured := chunks[:half], chunks[half:]
	if *limit > 0 && *limit < half {
		warm, measured = warm[:*limit], measured[:*limit]
		chunks = append(append([][]byte(nil), warm...), measured...)
		half = *limit
	}
	var lines [][][]byte
	if bench.Kind(*kind) == bench.KindStdJSON {
		for _, ch := range chunks {
			lines = append(lines, logLines(ch))
		}
	}
	p, err := bench.NewPipeline()
	if err != nil {
		fatal(err)
	}
	d := record.NewDecoder(record.Options{})
	counts := make([]uint64, len(chunks))
	for i, ch := range chunks {
		counts[i] = d.Decode(ch, nil).Records
	}
	run := func(i int, ch []byte) uint64 {
		switch bench.Kind(*kind) {
		case bench.KindPipeline:
			return p.Flush(ch).Records
		case bench.KindDecode:
			return d.Decode(ch, nil).Records
		case bench.KindConventional:
			return uint64(conventional.DecodeBytes(ch).Records)
		case bench.KindStdJSON:
			var ev conventional.Event
			for _, l := range lines[i] {
				conventional.FromJSON(l, &ev)
			}
			return uint64(len(lines[i]))
		case bench.KindFloor:
			bench.Sink += bench.Floor(ch)
			return counts[i]
		}
		fatal(fmt.Errorf("unknown kind %q", *kind))
		return 0
	}
	for i, ch := range warm {
		run(i, ch)
	}
	var records uint64
	if *doMeasure {
		records = measure(run, half, measured)
	} else {
		for i := range measured {
			records += counts[half+i]
		}
	}
	fmt.Printf("kind=%s records=%d chunks=%d\n", *kind, records, len(measured))
}

// measure is what callgrind counts (--toggle-collect=main.measure).
//
//go:noinline
func measure(run func(int, []byte) uint64, first int, chunks [][]byte) uint64 {
	var n uint64
	for i, ch := range chunks {
		n += run(first+i, ch)
	}
	return n
}

// logLines extracts the "log" strings of a log-string chunk.
func logLines(ch []byte) [][]byte {
	var out [][]byte
	b := ch
	for len(b) > 0 {
		var err error
		// [[ts, meta], {"log": line}]
		if _, b, err = msgp.ReadArrayHeaderBytes(b); err != nil {
			fatal(err)
		}
		if b, err = msgp.Skip(b); err != nil {
			fatal(err)
		}
		var n uint32
		if n, b, err = msgp.ReadMapHeaderBytes(b); err != nil {
			fatal(err)
		}
		for i := uint32(0); i < n; i++ {
			var k, v []byte
			if k, b, err = msgp.ReadStringZC(b); err != nil {
				fatal(err)
			}
			if v, b, err = msgp.ReadStringZC(b); err != nil {
				fatal(err)
			}
			if string(k) == "log" {
				out = append(out, v)
			}
		}
	}
	return out
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "benchinstr:", err)
	os.Exit(1)
}
