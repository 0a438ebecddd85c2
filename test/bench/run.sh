#!/bin/sh
# make bench: every measurement of BENCHMARKS.md.
#
#   BENCH_QUICK=1   smaller inputs, one repetition, no callgrind (a few minutes)
#   BENCH_OUT=dir   where results go (default build/bench)
#   BENCH_TMP=dir   where the host's chunk files go (default the system's temp dir;
#                   the full run writes one of ~0.9 GB)
#   FLBHOST, K8S_SECRET_ENUM_SO   the C host and the plugin (set by make)
#   BENCH_STEPS="stages report instr profile"   the steps to run (default all;
#                   instr and profile only in full mode); report needs nothing
#                   from stages, instr needs the chunk files report writes
#
# Steps: build the two reference plugins (null, conventional) and the two
# commands; Go benchmarks of each stage (-benchmem, one core); benchreport
# (whole plugin through the C host next to the baselines, scaling, memory,
# alert latency); in full mode, instruction counts with callgrind and CPU
# profiles of the decoder. Results: $BENCH_OUT/results.md (+ .json),
# go-bench.txt, instr.txt, profile-*.txt. Nothing here asserts on time.
set -eu

cd "$(dirname "$0")/../.."
OUT=${BENCH_OUT:-build/bench}
QUICK=${BENCH_QUICK:-0}
GO=${GO:-go}
export CGO_ENABLED=1
FLBHOST=${FLBHOST:-$PWD/build/flbhost}
K8S_SECRET_ENUM_SO=${K8S_SECRET_ENUM_SO:-$PWD/build/out_k8s_secret_enum.so}
export FLBHOST K8S_SECRET_ENUM_SO
for f in "$FLBHOST" "$K8S_SECRET_ENUM_SO"; do
	[ -e "$f" ] || { echo "run.sh: $f is missing: run make build (or make bench)" >&2; exit 1; }
done
mkdir -p "$OUT"
start=$(date +%s)
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
STEPS=" ${BENCH_STEPS:-stages report instr profile} "
step() { case "$STEPS" in *" $1 "*) return 0 ;; esac; return 1; }

if [ "$QUICK" = 1 ]; then
	BENCHTIME=0.5s COUNT=1 EVENTS=50000
	say "quick mode (BENCH_QUICK=1)"
else
	BENCHTIME=1s COUNT=3 EVENTS=100000
	say "full mode"
fi

say "machine"
{
	grep -m1 'model name' /proc/cpuinfo || true
	grep -m1 'cache size' /proc/cpuinfo || true
	echo "nproc: $(nproc)"
	grep -m1 MemTotal /proc/meminfo || true
	echo "kernel: $(uname -r)"
	$GO version
	gcc --version | head -1
	echo "GOFLAGS: ${GOFLAGS:-}"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

say "building the reference plugins and the commands"
$GO build -trimpath -buildmode=c-shared -o "$OUT/null.so" ./test/bench/plugins/null
$GO build -trimpath -buildmode=c-shared -o "$OUT/conventional.so" ./test/bench/plugins/conventional
$GO build -trimpath -o "$OUT/benchreport" ./test/bench/cmd/benchreport
$GO build -trimpath -o "$OUT/benchinstr" ./test/bench/cmd/benchinstr

if step stages; then
	say "allocation checks (counts, not times)"
	$GO test -count=1 -run 'TestZeroAllocsNonMatching|TestApply' ./test/bench 2>&1 | tee "$OUT/go-test.txt" >&2

	say "Go benchmarks of each stage (-cpu 1 -benchmem, count $COUNT)"
	{
		$GO test -run '^$' -bench . -benchmem -cpu 1 -count "$COUNT" -benchtime "$BENCHTIME" ./detect ./plugin/record
		BENCH_EVENTS=$EVENTS $GO test -run '^$' -bench 'Stage' -benchmem -cpu 1 -count "$COUNT" -benchtime "$BENCHTIME" ./test/bench
	} 2>&1 | tee "$OUT/go-bench.txt" >&2
fi

if step report; then
	say "benchreport"
	QFLAG=
	[ "$QUICK" = 1 ] && QFLAG=-quick
	"$OUT/benchreport" $QFLAG -out "$OUT" >"$OUT/benchreport.out"
fi

if [ "$QUICK" != 1 ] && step instr; then
	if command -v valgrind >/dev/null 2>&1; then
		say "instruction counts (callgrind)"
		# ir LABEL CHUNKS-PER-PASS FILE KIND [SHAPE]: the instructions of the
		# measured pass = the whole program's count less its count without it.
		# (valgrind 3.19 does not know RDTSCP, which Go 1.26's runtime uses
		# where the CPU has it: cpu.rdtscp=off.)
		ir() {
			a=$(mktemp) b=$(mktemp)
			GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$a" \
				"$OUT/benchinstr" -chunks "$2" -kind "$4" -measure=false "$3" >/dev/null 2>&1
			rec=$(GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$b" \
				"$OUT/benchinstr" -chunks "$2" -kind "$4" "$3" 2>/dev/null | sed -n 's/.*records=\([0-9]*\).*/\1/p')
			ta=$(sed -n 's/^totals: //p' "$a")
			tb=$(sed -n 's/^totals: //p' "$b")
			if [ "$4" = pipeline ]; then # where the instructions go (warm-up pass and loading included)
				callgrind_annotate --inclusive=yes "$b" 2>/dev/null | head -60 | cut -c1-220 >"$OUT/instr-profile-$5.txt"
			fi
			rm -f "$a" "$b"
			awk -v l="$1" -v t="$((tb - ta))" -v r="$rec" 'BEGIN { printf "%-34s %14d instructions %7d records %9.0f instructions/record\n", l, t, r, t / r }'
		}
		# irhost LABEL FILE-1PASS FILE-2PASSES: the plugin's own instructions in
		# the second pass, counted in the Go side of FLBPluginFlushCtx (the
		# exported C symbol is a stub that switches stacks, which callgrind's
		# toggle does not follow reliably).
		irhost() {
			a=$(mktemp) b=$(mktemp)
			for f in "$2:$a" "$3:$b"; do
				GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=callgrind '--toggle-collect=main.FLBPluginFlushCtx' \
					--callgrind-out-file="${f#*:}" "$FLBHOST" --so "$K8S_SECRET_ENUM_SO" --instance \
					-p alert_url=http://127.0.0.1:9/ -p stats_interval=0 -p plugin_log_level=error \
					--chunks 0 "${f%%:*}" >/dev/null 2>&1
			done
			ta=$(sed -n 's/^totals: //p' "$a")
			tb=$(sed -n 's/^totals: //p' "$b")
			rm -f "$a" "$b"
			rec=$(GOMAXPROCS=1 "$OUT/benchinstr" -kind floor "$3" | sed -n 's/.*records=\([0-9]*\).*/\1/p')
			awk -v l="$1" -v t="$((tb - ta))" -v r="$rec" 'BEGIN { printf "%-34s %14d instructions %7d records %9.0f instructions/record\n", l, t, r, t / r }'
		}
		{
			for sh in map log; do
				f="$OUT/instr-$sh.bin"
				ir "pipeline (decode+engine) $sh" 4 "$f" pipeline "$sh"
				ir "decode only $sh" 4 "$f" decode
				ir "(1) conventional $sh" 1 "$f" conventional
				ir "(3) floor $sh" 4 "$f" floor
				irhost "whole plugin FlushCtx $sh" "$OUT/instr-$sh-1.bin" "$f"
			done
			ir "(2) encoding/json (log lines)" 1 "$OUT/instr-log.bin" stdjson
		} | tee "$OUT/instr.txt" >&2
	else
		say "valgrind not found: no instruction counts"
	fi
fi

if [ "$QUICK" != 1 ] && step profile; then
	say "CPU profiles of the flush path (in-process, one core)"
	for sh in map log; do
		BENCH_EVENTS=50000 $GO test -run '^$' -bench "Pipeline/$sh\$" -cpu 1 -benchtime 3s \
			-cpuprofile "$OUT/cpu-$sh.prof" -o "$OUT/bench.test" ./test/bench >/dev/null
		$GO tool pprof -top -nodecount 30 -focus 'Pipeline..Flush' "$OUT/bench.test" "$OUT/cpu-$sh.prof" >"$OUT/profile-$sh.txt" 2>/dev/null
		head -40 "$OUT/profile-$sh.txt" >&2
	done
fi

[ -f "$OUT/results.md" ] && cat "$OUT/results.md"
if [ -f "$OUT/instr.txt" ] && [ "$QUICK" != 1 ]; then
	echo
	echo '## Instructions (callgrind)'
	echo
	echo '```'
	cat "$OUT/instr.txt"
	echo '```'
fi
say "make bench took $(($(date +%s) - start)) s; results in $OUT"
