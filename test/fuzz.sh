#!/bin/sh
# fuzz.sh FUZZTIME PKG:FUNC...: each fuzz target for FUZZTIME.
#
# Go 1.26's fuzzing coordinator can fail a target at the end of a
# duration -fuzztime with a bare "context deadline exceeded" and no failing
# input, when a starved worker misses its stop (go.dev/issue/75804, fixed in
# Go 1.27). Such a run, and only such a run, is tried once more; a run that
# writes a failing input, or fails any other way, fails at once.
set -u
GO=${GO:-go}
fuzztime=$1
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "$@"; do
	pkg=${t%%:*}
	fn=${t##*:}
	for try in 1 2; do
		echo "fuzz $fn ($pkg) for $fuzztime"
		if $GO test -run='^$' -fuzz="^$fn\$" -fuzztime="$fuzztime" "$pkg" >"$out" 2>&1; then
			cat "$out"
			break
		fi
		cat "$out"
		if [ "$try" = 1 ] && grep -q '^    context deadline exceeded$' "$out" &&
			! grep -q 'Failing input written' "$out"; then
			echo "fuzz.sh: $fn: the coordinator's deadline race (go.dev/issue/75804), no failing input: once more"
			continue
		fi
		exit 1
	done
done
