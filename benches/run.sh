#!/usr/bin/env bash
# Runs one benchmark in release mode: benches/run.sh <name> [args…]
# The benches that start the server run target/release/belfry, which this
# build also writes: with jemalloc, as `cargo leptos build --release` makes it.
# BENCH_FEATURES=ssr builds it on the system allocator instead (to profile
# the heap with heaptrack, see docs/architecture.md).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: benches/run.sh <redis_load> [args…]}
shift
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec cargo bench --features "${BENCH_FEATURES:-ssr,jemalloc}" --bench "$name" -- "$@"
