#!/bin/sh
# `make run`: the plugin's main job on this machine. Fluent Bit reads
# fluent-bit.conf (dummy inputs: one client reading several secrets among
# benign audit noise) and the plugin POSTs alerts to a local receiver that
# prints them. Without a Fluent Bit binary, the same detection runs over a
# bundled sample audit log through the replay command.
#
# Fluent Bit expands ${VAR} in the value of Plugins_File but not inside the
# plugins file, whose Path reaches dlopen as written. So this script writes
# $BUILD/plugins.conf with the absolute path of the .so and points
# K8S_SECRET_ENUM_PLUGINS_FILE, which fluent-bit.conf reads, at it.
#
# Ctrl-C signals the terminal's whole foreground process group. The
# receiver runs in a session of its own (setsid), so it outlives Fluent Bit
# and prints what arrives while Fluent Bit shuts down: the plugin evaluates
# muted fingerprints at exit, so the last alerts leave then. The receiver
# is stopped once Fluent Bit has exited.
set -eu
BUILD=${BUILD:-build}
RUN_LISTEN=${RUN_LISTEN:-127.0.0.1:8088}
SAMPLE=${SAMPLE:-test/testdata/sample-audit.log.gz}
# FLUENT_BIT may list several binaries (separated by spaces or colons) for
# the tests; make run uses the last one (the newest of the cached builds).
fluent_bit=$(printf '%s\n' "${FLUENT_BIT:-}" | tr ': \t' '\n\n\n' | sed '/^$/d' | tail -n 1)

if [ -z "$fluent_bit" ] || [ ! -x "$fluent_bit" ]; then
	echo "make run: no fluent-bit binary found (put it on PATH, set FLUENT_BIT=/path/to/fluent-bit, or run .ci/run once to build one into ~/.cache/k8s-secret-enum)."
	echo "make run: replaying the bundled sample audit log $SAMPLE with $BUILD/k8s-secret-enum replay instead;"
	echo "make run: each alert below is one JSON line, exactly as the plugin POSTs it."
	exec "$BUILD/k8s-secret-enum" replay "$SAMPLE"
fi

build_dir=$(cd "$BUILD" && pwd)
plugins="$build_dir/plugins.conf"
cat >"$plugins" <<EOF
# Written by make run (test/run-local.sh). Fluent Bit takes this Path as written.
[PLUGINS]
    Path $build_dir/out_k8s_secret_enum.so
EOF

detach=""
command -v setsid >/dev/null 2>&1 && detach=setsid
$detach "$BUILD/alert-receiver" -listen "$RUN_LISTEN" &
receiver=$!
fluent=""
trap 'kill -TERM "$receiver" 2>/dev/null || true' EXIT
# A signal for the script is passed on to Fluent Bit (after Ctrl-C it has
# the SIGINT already; a second one changes nothing).
trap '[ -z "$fluent" ] || kill -INT "$fluent" 2>/dev/null || true' INT
trap '[ -z "$fluent" ] || kill -TERM "$fluent" 2>/dev/null || true' TERM

# the receiver exits at once when it cannot listen
sleep 0.3
if ! kill -0 "$receiver" 2>/dev/null; then
	echo "make run: the alert receiver could not listen on $RUN_LISTEN (set RUN_LISTEN=host:port)" >&2
	exit 1
fi

echo "make run: $fluent_bit -c fluent-bit.conf (plugin from $plugins);"
echo "make run: alerts go to http://$RUN_LISTEN/alerts and are printed below, one JSON line each; Ctrl-C stops."
K8S_SECRET_ENUM_PLUGINS_FILE="$plugins" ALERT_URL="http://$RUN_LISTEN/alerts" \
	"$fluent_bit" -c fluent-bit.conf &
fluent=$!
# wait returns early when a trapped signal arrives: wait again until
# Fluent Bit is gone, then take its exit status.
status=0
while :; do
	if wait "$fluent"; then status=0; else status=$?; fi
	kill -0 "$fluent" 2>/dev/null || break
done
fluent=""
kill -TERM "$receiver" 2>/dev/null || true
wait "$receiver" || true
trap - EXIT
echo "make run: Fluent Bit exited with status $status"
exit "$status"
