#!/bin/sh
# CPU cost of the README's pipelines in a real Fluent Bit (README "Which
# pipeline", BENCHMARKS "The plugin's share of a real Fluent Bit"). Not part
# of `make test`: it measures, it asserts nothing.
#
#   FLUENT_BIT="/path/4.2.8/bin/fluent-bit /path/5.1.1/bin/fluent-bit" sh test/flb/pipelines.sh
#
# For each binary and pipeline (tail raw or tail + parser json, into the
# plugin or into Fluent Bit's null output), Fluent Bit reads the corpus from
# the head and exits at its end (tail Exit_On_Eof); the CPU seconds (user +
# sys) of the whole process are taken from GNU time, ROUNDS runs
# interleaved, median printed. With PERF=1 each plugin pipeline is also run
# once under `perf record` (cpu-clock samples of every thread) and the
# samples are split by object: the plugin's .so (the plugin and the Go
# runtime), Fluent Bit, libc, the kernel.
#
# Corpus: build/auditgen -events 281000 -seed 1 (its realistic mix, 5%
# RequestResponse events, lines up to 0.9 MB), generated when missing.
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-build/pipelines}
CORPUS=${CORPUS:-$OUT/audit-281k.log}
SO=$(pwd)/build/out_k8s_secret_enum.so
CONFIGS=$(pwd)/test/flb/testdata/configs
PIPELINES=${PIPELINES:-"raw-null raw-plugin json-null json-plugin"}
mkdir -p "$OUT"
[ -f "$SO" ] || { echo "pipelines.sh: $SO missing: run make build" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "pipelines.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
if [ ! -f "$CORPUS" ]; then
	build/auditgen -events 281000 -seed 1 -o "$CORPUS"
fi
case $CORPUS in /*) ;; *) CORPUS=$(pwd)/$CORPUS ;; esac
bins=$(printf '%s\n' "${FLUENT_BIT:-$(command -v fluent-bit || true)}" | tr ': \t' '\n\n\n' | sed '/^$/d')
[ -n "$bins" ] || { echo "pipelines.sh: set FLUENT_BIT" >&2; exit 1; }

build/alert-receiver -quiet -listen 127.0.0.1:18765 >"$OUT/alerts.jsonl" 2>/dev/null &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true' EXIT
sleep 0.3

run() { # run BIN PIPELINE LOG [perf args…]: one Fluent Bit run
	bin=$1 p=$2 log=$3
	shift 3
	AUDIT_LOG=$CORPUS ALERT_URL=http://127.0.0.1:18765/alerts "$@" \
		"$bin" -c "$CONFIGS/bench-$p.conf" -e "$SO" >"$log" 2>&1
}

echo "corpus: $CORPUS ($(wc -l <"$CORPUS") lines, $(wc -c <"$CORPUS") bytes); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for bin in $bins; do
	version=$("$bin" --version | sed -n 's/^Fluent Bit v//p' | head -n 1)
	: >"$OUT/cpu-$version.txt"
	i=0
	while [ "$i" -lt "$ROUNDS" ]; do
		for p in $PIPELINES; do
			run "$bin" "$p" "$OUT/run-$version-$p.log" /usr/bin/time -f "%U %S" -o "$OUT/time.txt"
			if grep -q '\[error\]' "$OUT/run-$version-$p.log"; then
				echo "pipelines.sh: $p on $version logged errors, see $OUT/run-$version-$p.log" >&2
				exit 1
			fi
			echo "$p $(awk '{print $1 + $2}' "$OUT/time.txt")" >>"$OUT/cpu-$version.txt"
		done
		i=$((i + 1))
	done
	for p in $PIPELINES; do
		printf 'v%s %-12s CPU s: median %s of %s\n' "$version" "$p" \
			"$(awk -v p="$p" '$1 == p {print $2}' "$OUT/cpu-$version.txt" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
			"$(awk -v p="$p" '$1 == p {printf "%s ", $2}' "$OUT/cpu-$version.txt")"
	done
	if [ "${PERF:-0}" = 1 ]; then
		for p in $PIPELINES; do
			data="$OUT/perf-$version-$p.data"
			run "$bin" "$p" "$OUT/perf-$version-$p.log" perf record -q -e cpu-clock -F 4999 -o "$data" --
			perf report -i "$data" -n --sort dso --stdio 2>/dev/null | awk -v v="$version" -v p="$p" '
				/^ *[0-9.]+%/ { n[$3] = $2; total += $2 }
				END {
					printf "v%s %-12s perf: %d samples (%.2f s); plugin .so %d (%.1f%%), fluent-bit %.1f%%, libc %.1f%%, kernel %.1f%%\n",
						v, p, total, total / 4999, n["out_k8s_secret_enum.so"], 100 * n["out_k8s_secret_enum.so"] / total,
						100 * n["fluent-bit"] / total, 100 * n["libc.so.6"] / total, 100 * n["[kernel.kallsyms]"] / total
				}'
		done
	fi
done
