#!/usr/bin/env bash
# Runs one benchmark in release mode: benches/run.sh <name> [args…]
# Needs the release server for redis_load (cargo leptos build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: benches/run.sh <redis_load> [args…]}
shift
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec cargo bench --features ssr --bench "$name" -- "$@"
