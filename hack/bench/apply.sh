#!/usr/bin/env bash
# Benchmark of issue 17's "one new pipeline from kubectl apply to Running":
# thin wrapper around the ignored test
# integration-tests/tests/operator_apply_bench.rs, which applies
# BENCH_PIPELINES (default 5) pipelines in turn into a warm operator (direct
# mode, chart-default status interval 15 s unless BENCH_STATUS_INTERVAL is
# set) with the local runner and the local cluster, and prints the time to
# TopicsReady, to ProcessorReady and to phase Running.
#
#   hack/bench/apply.sh
#   BENCH_STATUS_INTERVAL=2s hack/bench/apply.sh
#
# Serialise benchmarks on a shared machine:
#   flock -o /tmp/shopstream-bench.lock hack/bench/apply.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
hack/env-up.sh >/dev/null
eval "$(hack/env.sh)"
cargo test --release -p integration-tests --test operator_apply_bench -- \
  --ignored --nocapture --test-threads 1 --exact apply_to_running
