#!/usr/bin/env bash
# End-to-end benchmark of the processor through the local broker (issue 4,
# targets b–d). Thin wrapper around the ignored test
# processor/tests/processor_e2e_bench.rs, which does the work: creates fresh
# topics, runs the real generator and processor binaries, samples /metrics
# and /proc, measures output latency with a live reader, and checks every
# final window against a recompute of the input topic.
#
#   hack/bench/processor-e2e.sh [backlog|steady|all]
#
# Knobs (environment): BENCH_EVENTS (backlog, default 5000000),
# BENCH_RATE (steady, default 200000), BENCH_SECONDS (steady, default 180),
# BENCH_PARTITIONS / BENCH_PARTIALS_PARTITIONS (default 6 / 6),
# BENCH_INPUT_TOPIC (backlog: drain this topic, loaded by the `preload` test
# with the same BENCH_EVENTS, instead of a fresh one), and any
# PROCESSOR_* variable (inherited by the processor and used by the check).
# BENCH_PROCESSOR_WRAPPER runs the processor under a profiler, e.g.
# BENCH_PROCESSOR_WRAPPER="heaptrack -o /tmp/proc-heap" (RSS and CPU are then
# read from the wrapper's child, i.e. the processor, heaptrack's own memory
# included).
# Run it on a quiet machine: it measures the whole 2-core box. On a shared
# machine serialise benchmarks: flock -o /tmp/shopstream-bench.lock hack/bench/processor-e2e.sh …
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
which="${1:-all}"
hack/env-up.sh >/dev/null
eval "$(hack/env.sh)"
cargo build --release -p processor --bins
run() {
  cargo test --release -p integration-tests --test processor_e2e_bench -- \
    --ignored --nocapture --test-threads 1 --exact "$1"
}
case "$which" in
  backlog|steady) run "$which" ;;
  all) run backlog; run steady ;;
  *) echo "usage: $0 [backlog|steady|all]" >&2; exit 2 ;;
esac
