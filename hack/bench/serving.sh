#!/usr/bin/env bash
# Benchmark of the serving component (issue 14): can it keep up with a
# processor fed 200,000 events/s? Thin wrapper around the ignored test
# integration-tests/tests/serving_bench.rs, which loads BENCH_SECONDS of that
# processor's output into fresh topics, runs the release `serving` binary
# against the local Kafka and Redis, and prints its drain rate against the
# rate it has to sustain, and its peak RSS.
#
#   hack/bench/serving.sh        (BENCH_RATE=200000 BENCH_SECONDS=30 by default)
#
# Run it on a quiet machine; on a shared one serialise benchmarks:
#   flock -o /tmp/shopstream-bench.lock hack/bench/serving.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
hack/env-up.sh >/dev/null
eval "$(hack/env.sh)"
cargo test --release -p integration-tests --test serving_bench -- \
  --ignored --nocapture --test-threads 1 --exact drain
