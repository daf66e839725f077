#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Smoke run of the libFuzzer harnesses (TAP), for `make test`: each replays its
# regression inputs (tests/fuzz/regressions/NAME/), then fuzzes from its seeds for
# FUZZ_SMOKE_TIME seconds (default 5). One test point per harness: ok when neither
# crashed. `make fuzz` runs them longer (tests/fuzz/run).
set -u
cd "$(dirname "$0")/../.."
time=${FUZZ_SMOKE_TIME:-5}
names=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/\(.*\)\.c|\1|')

echo "1..$(echo "$names" | wc -l)"
n=0
for name in $names; do
	n=$((n + 1))
	bin=build/fuzz/$name
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $name: $bin is not built (make fuzz-build)"
		continue
	fi
	work=$(mktemp -d)
	out=$(FUZZ_TIME=$time FUZZ_WORK=$work tests/fuzz/run "$bin" 2>&1)
	rc=$?
	rm -rf "$work"
	echo "# $out"
	if [ $rc -eq 0 ]; then
		echo "ok $n - $name: regressions replayed, ${time} s of fuzzing without a crash"
	else
		echo "not ok $n - $name"
		sed 's/^/# /' "build/fuzz/$name.log" | grep -v '^# #' | tail -20
	fi
done
