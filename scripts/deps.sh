#!/usr/bin/env bash
# Install what mcpfence needs to build, test and demo, on Debian (as root).
# Idempotent and non-interactive: `make deps` runs it before every `make test`.
set -euo pipefail

packages=(
	# build
	make gcc clang clang-format llvm libbpf-dev bpftool libelf-dev libjansson-dev libsmartcols-dev zlib1g-dev pkg-config
	# fuzzing (make fuzz, tests/fuzz/smoke.t): libFuzzer's runtime, only recommended by clang-14
	libclang-rt-14-dev
	# tests and demo
	iproute2 perl redis-server redis-tools jq socat procps util-linux
	# tests of the operator's side (98-ops-*): terminal, sandbox, man pages, unit
	tmux strace groff-base man-db systemd
	# the zsh completion (98-ops-docs)
	zsh
	# the audit log against its JSON Schema (98-ops-audit-schema)
	python3-jsonschema
	# make deb
	dpkg-dev debhelper
	# DNS tests: a real resolver on loopback, and a client
	dnsmasq-base dnsutils
	# benchmarks (make bench)
	nftables
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
# Node.js may come from elsewhere (with its own npm): only install Debian's when absent.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Pinned by their package-lock.json: the MCP round-trip test's client and server
# (tests/mcp), the Kubernetes manifests' schema checker (tests/k8s).
here=$(cd "$(dirname "$0")/.." && pwd)
for dir in tests/mcp tests/k8s; do
	lock=$here/$dir/package-lock.json
	stamp=$here/$dir/node_modules/.mcpfence-lock
	if [ -f "$lock" ] && ! cmp -s "$lock" "$stamp" 2>/dev/null; then
		echo "deps: npm ci in $dir"
		(cd "$here/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
		cp "$lock" "$stamp"
	fi
done
