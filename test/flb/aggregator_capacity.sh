#!/bin/sh
# Capacity of one aggregator of the aggregator topology (BENCHMARKS "Aggregator
# capacity"; README "Aggregator topology"). Not part of `make test`: it
# measures, it asserts nothing.
#
#   FLUENT_BIT="/path/4.2.8/bin/fluent-bit /path/5.1.1/bin/fluent-bit" sh test/flb/aggregator_capacity.sh
#
# The shipped deploy/aggregator/aggregator.conf and edge.conf, laid out as
# test/flb does (paths under $OUT, local ports, one aggregator): an edge
# Fluent Bit reads a corpus from the head (tail + json parser, the
# request/response objects stripped) and forwards it to the aggregator
# (forward input → the plugin, or → Fluent Bit's null output, the same
# configuration otherwise, the .so loaded in both). Each Fluent Bit is a
# process of its own; the aggregator's CPU seconds (user + sys, from
# /proc/PID/stat) are taken once it has started and once its output has
# processed every record (Fluent Bit's /api/v1/metrics), so neither its
# start-up nor the edge's CPU is counted. ROUNDS runs interleaved, median.
# With PERF=1 one more plugin run per binary is recorded with `perf record`
# on the aggregator alone, split by object as pipelines.sh does.
#
# Memory (MEMORY=1, the default): the aggregator reads K fingerprints (K
# users reading 2 secrets each within 4 minutes of event time, so none
# alerts and all are held) and its RSS (/proc/PID/status) and the plugin's
# own gauges (metrics_listen) are read once everything is read.
#
# OUTPUTS="null plugin null-mem plugin-mem": -mem runs the aggregator's
# inputs with storage.type memory instead of the shipped filesystem (what
# the durability costs); AGG_STORAGE=memory does it for every run.
#
# Corpus: build/auditgen -events 200000 -seed 1 -rr-share 0 (the API
# server's mix at Metadata level, 944 B a line), generated when missing.
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-build/aggregator-capacity}
EVENTS=${EVENTS:-200000}
CORPUS=${CORPUS:-$OUT/audit-m-$EVENTS.log}
FINGERPRINTS=${FINGERPRINTS:-"10000 100000"}
OUTPUTS=${OUTPUTS:-"null plugin"}
REPO=$(pwd)
SO=$REPO/build/out_k8s_secret_enum.so
TICK=$(getconf CLK_TCK)
mkdir -p "$OUT"
case $OUT in /*) ;; *) OUT=$REPO/$OUT ;; esac
[ -f "$SO" ] || { echo "aggregator_capacity.sh: $SO missing: run make build" >&2; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null || { echo "aggregator_capacity.sh: needs curl and jq" >&2; exit 1; }
if [ ! -f "$CORPUS" ]; then
	build/auditgen -events "$EVENTS" -seed 1 -rr-share 0 -o "$CORPUS"
fi
case $CORPUS in /*) ;; *) CORPUS=$REPO/$CORPUS ;; esac
bins=$(printf '%s\n' "${FLUENT_BIT:-$(command -v fluent-bit || true)}" | tr ': \t' '\n\n\n' | sed '/^$/d')
[ -n "$bins" ] || { echo "aggregator_capacity.sh: set FLUENT_BIT" >&2; exit 1; }

FWD=24731 HOOK=24732 HTTP=24733 MET=24734 RCV=24736
build/alert-receiver -quiet -listen 127.0.0.1:$RCV >"$OUT/alerts.jsonl" 2>/dev/null &
receiver=$!
agg= edge= perfpid=
cleanup() {
	for p in $perfpid $edge $agg $receiver; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
sleep 0.3

cpu() { # cpu PID: user + sys seconds so far
	awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / t }' "/proc/$1/stat"
}

# aggregator_conf OUTPUT DIR: the shipped aggregator, laid out.
aggregator_conf() {
	out=$1 dir=$2 storage=${AGG_STORAGE:-filesystem}
	case $out in *-mem) out=${out%-mem} storage=memory ;; esac
	rm -rf "$dir" && mkdir -p "$dir/state"
	printf '[PLUGINS]\n    Path %s\n' "$SO" >"$dir/plugins.conf"
	sed -e "s#/fluent-bit/etc/plugins.conf#$dir/plugins.conf#" \
		-e "s#/var/lib/k8s-secret-enum/#$dir/state/#g" \
		-e "s#^\( *Port *\)24224 *\$#\1$FWD#" -e "s#^\( *Port *\)9880 *\$#\1$HOOK#" \
		-e "s#^\( *Listen *\)0.0.0.0 *\$#\1127.0.0.1#" \
		-e "s#^\( *alert_url *\).*\$#\1http://127.0.0.1:$RCV/alerts\n    idle_timeout 0\n    max_clock_skew 0\n    stats_interval 0\n    metrics_listen 127.0.0.1:$MET#" \
		-e "s#^\[SERVICE\]\$#[SERVICE]\n    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port $HTTP#" \
		deploy/aggregator/aggregator.conf >"$dir/aggregator.conf"
	if [ "$storage" != filesystem ]; then
		sed -i "s#^\( *storage.type *\)filesystem *\$#\1$storage#" "$dir/aggregator.conf"
	fi
	if [ "$out" = null ]; then
		sed -i '/^\[OUTPUT\]/,$d' "$dir/aggregator.conf"
		printf '[OUTPUT]\n    Name   null\n    Match  kube.audit\n' >>"$dir/aggregator.conf"
	fi
}

# edge_conf LOG DIR: the shipped edge reading LOG from its head, its one
# output (aggregator-a) to the local aggregator.
edge_conf() {
	log=$1 dir=$2
	rm -rf "$dir" && mkdir -p "$dir/state"
	sed -e "s#/var/log/kubernetes/audit/audit.log#$log#" \
		-e "s#/var/lib/k8s-secret-enum-edge/#$dir/state/#g" \
		-e "s#/fluent-bit/etc/parsers.conf#$REPO/test/flb/testdata/configs/parsers.conf#" \
		-e "s#k8s-secret-enum-aggregator-a.k8s-secret-enum.svc#127.0.0.1#" \
		-e "s#^\( *Port *\)24224 *\$#\1$FWD#" \
		-e "s#^\( *Alias *audit\) *\$#\1\n    Read_from_Head    On#" \
		deploy/aggregator/edge.conf >"$dir/edge.conf"
	last=$(grep -n '^\[OUTPUT\]' "$dir/edge.conf" | tail -n 1 | cut -d: -f1)
	sed -i "$last,\$d" "$dir/edge.conf" # aggregator-b
}

wait_http() { # wait_http PORT PID
	tries=0
	until curl -fs "http://127.0.0.1:$1/api/v1/uptime" >/dev/null 2>&1; do
		kill -0 "$2" 2>/dev/null || { echo "aggregator_capacity.sh: Fluent Bit exited" >&2; exit 1; }
		tries=$((tries + 1)); [ $tries -lt 300 ] || { echo "aggregator_capacity.sh: no HTTP server on $1" >&2; exit 1; }
		sleep 0.1
	done
}

processed() { # records the aggregator's outputs have processed
	curl -fs "http://127.0.0.1:$HTTP/api/v1/metrics" | jq '[.output[].proc_records] | add // 0'
}

wait_processed() { # wait_processed N
	while p=$(processed 2>/dev/null) || p=0; [ "${p:-0}" -lt "$1" ]; do
		kill -0 "$agg" 2>/dev/null || { echo "aggregator_capacity.sh: the aggregator exited" >&2; exit 1; }
		sleep 0.1
	done
}

stop() { # stop PID: SIGTERM, wait
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# run BIN OUTPUT LOG LINES: one measured run; writes "aggCPU edgeCPU wall RSS-kB"
# to $OUT/run.txt (not through $(…): its processes stay this shell's).
run() {
	bin=$1 out=$2 log=$3 lines=$4
	aggregator_conf "$out" "$OUT/agg"
	edge_conf "$log" "$OUT/edge"
	"$bin" -c "$OUT/agg/aggregator.conf" >"$OUT/agg.log" 2>&1 &
	agg=$!
	wait_http $HTTP "$agg"
	sleep 1
	if [ "${PERFRUN:-0}" = 1 ]; then
		perf record -q -e cpu-clock -F 4999 -p "$agg" -o "$OUT/perf.data" 2>/dev/null &
		perfpid=$!
		sleep 0.5
	fi
	c0=$(cpu "$agg")
	t0=$(date +%s.%N)
	"$bin" -c "$OUT/edge/edge.conf" >"$OUT/edge.log" 2>&1 &
	edge=$!
	wait_processed "$lines"
	c1=$(cpu "$agg")
	t1=$(date +%s.%N)
	e1=$(cpu "$edge")
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$agg/status")
	if [ -n "$perfpid" ]; then
		kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null || true; perfpid=
	fi
	if [ "${out%-mem}" = plugin ]; then
		curl -fs "http://127.0.0.1:$MET/metrics" >"$OUT/plugin-metrics.txt" || true
	fi
	awk '/^Rss|^VmRSS|^VmHWM/' "/proc/$agg/status" >"$OUT/status.txt"
	stop "$edge"; edge=
	stop "$agg"; agg=
	for f in "$OUT/agg.log" "$OUT/edge.log"; do
		if grep -q '\[error\]' "$f"; then
			echo "aggregator_capacity.sh: errors in $f" >&2
			exit 1
		fi
	done
	echo "$c0 $c1 $e1 $t0 $t1 $rss" | awk '{printf "%.2f %.2f %.1f %d\n", $2 - $1, $3, $5 - $4, $6}' >"$OUT/run.txt"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

lines=$(wc -l <"$CORPUS")
echo "corpus: $CORPUS ($lines lines, $(wc -c <"$CORPUS") bytes); load: $(cut -d' ' -f1-3 /proc/loadavg)"
for bin in $bins; do
	version=$("$bin" --version | sed -n 's/^Fluent Bit v//p' | head -n 1)
	res="$OUT/cpu-$version.txt"
	: >"$res"
	# The aggregator's CPU while idle (its timers, the plugin's second
	# tick): part of every run's CPU, in proportion to its wall time.
	for o in $OUTPUTS; do
		aggregator_conf "$o" "$OUT/agg"
		"$bin" -c "$OUT/agg/aggregator.conf" >"$OUT/agg.log" 2>&1 &
		agg=$!
		wait_http $HTTP "$agg"
		sleep 1
		c0=$(cpu "$agg")
		sleep 20
		c1=$(cpu "$agg")
		stop "$agg"; agg=
		echo "$c0 $c1" | awk -v v="$version" -v o="$o" '{printf "v%s %-6s idle aggregator: %.3f CPU s per s\n", v, o, ($2 - $1) / 20}'
		echo "$c0 $c1" | awk '{print ($2 - $1) / 20}' >"$OUT/idle-$o.txt"
	done
	round=0
	while [ "$round" -lt "$ROUNDS" ]; do
		for o in $OUTPUTS; do
			run "$bin" "$o" "$CORPUS" "$lines"
			echo "$o $(cat "$OUT/run.txt")" >>"$res"
		done
		round=$((round + 1))
	done
	for o in $OUTPUTS; do
		m=$(awk -v o="$o" '$1 == o {print $2}' "$res" | median)
		idle=$(cat "$OUT/idle-$o.txt")
		# Less the idle CPU of each run's wall time.
		busy=$(awk -v o="$o" -v i="$idle" '$1 == o {print $2 - i * $4}' "$res" | median)
		printf 'v%s %-6s aggregator CPU s: median %s of %s; less idle: median %s; µs/event %s; events/s per core %s; edge CPU s %s; wall s %s\n' \
			"$version" "$o" "$m" "$(awk -v o="$o" '$1 == o {printf "%s ", $2}' "$res")" "$busy" \
			"$(echo "$busy $lines" | awk '{printf "%.2f", 1e6 * $1 / $2}')" \
			"$(echo "$busy $lines" | awk '{printf "%.0f", $2 / $1}')" \
			"$(awk -v o="$o" '$1 == o {print $3}' "$res" | median)" \
			"$(awk -v o="$o" '$1 == o {print $4}' "$res" | median)"
	done
	if [ "${PERF:-0}" = 1 ]; then
		PERFRUN=1; run "$bin" plugin "$CORPUS" "$lines"; PERFRUN=0
		perf report -i "$OUT/perf.data" -n --sort dso --stdio 2>/dev/null | awk -v v="$version" '
			/^ *[0-9.]+%/ { n[$3] = $2; total += $2 }
			END {
				printf "v%s perf (aggregator → plugin): %d samples (%.2f s); plugin .so %.1f%%, fluent-bit %.1f%%, libc %.1f%%, kernel %.1f%%\n",
					v, total, total / 4999, 100 * n["out_k8s_secret_enum.so"] / total,
					100 * n["fluent-bit"] / total, 100 * n["libc.so.6"] / total, 100 * n["[kernel.kallsyms]"] / total
			}'
	fi
	if [ "${MEMORY:-1}" = 1 ]; then
		for k in 0 $FINGERPRINTS; do
			fp="$OUT/fingerprints-$k.log"
			# K users, 2 secrets each, spread over 4 minutes of event time.
			awk -v k="$k" 'BEGIN {
				for (i = 0; i < k; i++) for (j = 0; j < 2; j++) {
					ms = int((2 * i + j) * 240000 / (2 * k + 1)); s = int(ms / 1000)
					ts = sprintf("2026-01-15T09:%02d:%02d.%03dZ", int(s / 60), s % 60, ms % 1000)
					printf "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"%08d-0000-4000-8000-%012d\",\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/namespaces/ns-%d/secrets/s-%d\",\"verb\":\"get\",\"user\":{\"username\":\"system:serviceaccount:ns-%d:sa-%d\",\"groups\":[\"system:serviceaccounts\"]},\"sourceIPs\":[\"10.%d.%d.%d\"],\"userAgent\":\"bench/1.0\",\"objectRef\":{\"resource\":\"secrets\",\"namespace\":\"ns-%d\",\"name\":\"s-%d-%d\",\"apiVersion\":\"v1\"},\"responseStatus\":{\"metadata\":{},\"code\":200},\"requestReceivedTimestamp\":\"%s\",\"stageTimestamp\":\"%s\",\"annotations\":{\"authorization.k8s.io/decision\":\"allow\"}}\n",
						j, i, i % 100, i, i % 100, i, int(i / 65536) % 256, int(i / 256) % 256, i % 256, i % 100, i, j, ts, ts
				}
			}' >"$fp"
			for o in plugin null; do
				n=$((2 * k))
				if [ "$k" = 0 ]; then # nothing to read: the RSS after start
					aggregator_conf "$o" "$OUT/agg"
					"$bin" -c "$OUT/agg/aggregator.conf" >"$OUT/agg.log" 2>&1 &
					agg=$!
					wait_http $HTTP "$agg"
					sleep 3
					[ "$o" = plugin ] && curl -fs "http://127.0.0.1:$MET/metrics" >"$OUT/plugin-metrics.txt"
					awk '/^Rss|^VmRSS|^VmHWM/' "/proc/$agg/status" >"$OUT/status.txt"
					stop "$agg"; agg=
				else
					run "$bin" "$o" "$fp" "$n"
				fi
				fps=-; heap=-
				if [ "$o" = plugin ]; then
					fps=$(awk '/^k8s_secret_enum_fingerprints[{ ]/ {print $2}' "$OUT/plugin-metrics.txt")
					heap=$(awk '/^go_memstats_heap_inuse_bytes / {printf "%.1f", $2 / 1048576}' "$OUT/plugin-metrics.txt")
				fi
				printf 'v%s %-6s %6d fingerprints read: fingerprints held %s; Go heap in use %s MiB; %s\n' "$version" "$o" "$k" "$fps" "$heap" \
					"$(awk '{printf "%s %.1f MiB; ", $1, $2 / 1024}' "$OUT/status.txt")"
			done
		done
	fi
done
