#!/usr/bin/env bash
# The verdict's rule lookups alone at 10 and 100k entries (bench/README.md,
# "Lookups"): an agent of this build on the bench's rulesets, then
# lookups_run over its pins. Run as root from the top of the tree after make.
set -eu
B=build
W=$(mktemp -d)
PIN=/sys/fs/bpf/mcpfence-lookups-$$
SOCK=$W/sock
AGENT=
cleanup() {
	[ -z "$AGENT" ] || { kill -TERM "$AGENT"; wait "$AGENT" || true; }
	"$B/mcpfenced" --pin-dir "$PIN" --uninstall >/dev/null 2>&1 || rm -rf "$PIN"
	rm -rf "$W"
}
trap cleanup EXIT
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$B" -Ibpf -c bench/lookups/lookups.bpf.c -o "$W/lookups.bpf.o"
cc -O2 -Wall -Ibpf bench/lookups/lookups_run.c -o "$W/lookups_run" -lbpf
"$B/bench/mfbench" gen --entries 10 --port 7777 --policy "$W/p10.json" >/dev/null
"$B/bench/mfbench" gen --entries 100000 --port 7777 --policy "$W/p100k.json" >/dev/null
"$B/mcpfenced" --policy "$W/p10.json" --socket "$SOCK" --pin-dir "$PIN" --detach-on-exit \
	>"$W/agent.out" 2>&1 &
AGENT=$!
for i in $(seq 300); do "$B/mcpfence" --socket "$SOCK" status >/dev/null 2>&1 && break; sleep 0.05; done
for P in 10 100k; do
	[ $P = 10 ] || "$B/mcpfence" --socket "$SOCK" policy load "$W/p$P.json" >/dev/null
	# the bench's ruleset: the one with the most prefixes
	rs=$(bpftool map dump pinned "$PIN/rules" -j |
		jq '[.[].formatted.key.ruleset_id] | group_by(.) | max_by(length) | .[0]')
	for mode in 0 1 2; do
		for addr in 127.0.0.2 127.0.0.1; do
			echo -n "$P entries: "
			"$W/lookups_run" "$W/lookups.bpf.o" "$PIN" "$rs" "$addr" "$mode"
		done
	done
done
