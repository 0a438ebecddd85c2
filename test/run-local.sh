#!/bin/sh
# `make run`: the plugin's main job on this machine. Fluent Bit reads
# fluent-bit.conf (dummy inputs: one client reading several secrets among
# benign audit noise) and the plugin POSTs alerts to a local receiver that
# prints them. Without a Fluent Bit binary, the same detection runs over a
# bundled sample audit log through the replay command.
set -eu
BUILD=${BUILD:-build}
RUN_LISTEN=${RUN_LISTEN:-127.0.0.1:8088}
SAMPLE=${SAMPLE:-test/testdata/sample-audit.log.gz}
FLUENT_BIT=${FLUENT_BIT:-}

if [ -n "$FLUENT_BIT" ] && [ -x "$FLUENT_BIT" ]; then
	"$BUILD/alert-receiver" -listen "$RUN_LISTEN" &
	receiver=$!
	trap 'kill $receiver 2>/dev/null || true' EXIT INT TERM
	echo "make run: $FLUENT_BIT -c fluent-bit.conf, alerts to http://$RUN_LISTEN/alerts (printed below; Ctrl-C stops)"
	K8S_SECRET_ENUM_SO="$(pwd)/$BUILD/out_k8s_secret_enum.so" ALERT_URL="http://$RUN_LISTEN/alerts" \
		"$FLUENT_BIT" -c fluent-bit.conf
else
	echo "make run: no fluent-bit binary found (put it on PATH or set FLUENT_BIT=/path/to/fluent-bit)."
	echo "make run: replaying the bundled sample audit log $SAMPLE with $BUILD/k8s-secret-enum replay instead;"
	echo "make run: each alert below is one JSON line, exactly as the plugin POSTs it."
	"$BUILD/k8s-secret-enum" replay "$SAMPLE"
fi
