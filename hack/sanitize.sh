#!/usr/bin/env bash
# `make sanitize`: memory errors made findable, on the real environment.
#   1. The operator's Kafka paths (kafka-admin's unit tests and scripted fake,
#      and the integration-tests suites kafka_admin_broker.rs and kafka_lag.rs
#      against the real broker) under AddressSanitizer, with the nightly
#      toolchain.
#   2. The processor's librdkafka round trip (integration-tests/tests/kafka_roundtrip.rs)
#      under valgrind memcheck: librdkafka is C, and valgrind needs no
#      instrumented build of it.
# Not part of `make test` (it rebuilds the dependency tree with another
# toolchain and runs ~20x slower); results are recorded in docs/operator.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"
cd "$HERE/.."

rustup toolchain list | grep -q '^nightly' || die "sanitize: the nightly toolchain is missing (rustup toolchain install nightly)"
command -v valgrind >/dev/null || die "sanitize: valgrind is missing (apt-get install valgrind)"

"$HERE/env-up.sh"
eval "$("$HERE/env.sh")"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
TARGET_BASE="${CARGO_TARGET_DIR:-$PWD/target}"

log "AddressSanitizer: kafka-admin and operator Kafka tests (nightly, $HOST)"
# --target keeps build scripts and proc macros uninstrumented; the C parts
# (librdkafka of the test producers, zstd, lz4) are compiled as usual.
# detect_leaks=0: tokio's global runtime state and librdkafka's per-process
# caches live until exit by design; use-after-free, overflows and double
# frees are what this run is for.
asan_test() {
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
  RUSTFLAGS="-Zsanitizer=address" RUSTDOCFLAGS="-Zsanitizer=address" \
  CARGO_TARGET_DIR="$TARGET_BASE/asan" \
    cargo +nightly test --locked --target "$HOST" "$@" -- --test-threads=2
}
asan_test -p kafka-admin --lib --tests
asan_test -p operator --lib
# (Not kafka_client_churn: ASan quarantines freed memory, so RSS cannot
# return to its baseline under it; that test runs in `make test`.)
asan_test -p integration-tests --test kafka_admin_broker --test kafka_lag

log "valgrind memcheck: integration-tests/tests/kafka_roundtrip.rs (librdkafka)"
binary="$(cargo test --locked -p integration-tests --test kafka_roundtrip --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "kafka_roundtrip":
        print(m["executable"])')"
[[ -x "$binary" ]] || die "sanitize: cannot find the kafka_roundtrip test binary"
valgrind --tool=memcheck --error-exitcode=99 --leak-check=no --track-origins=no \
  --suppressions="$HERE/valgrind.supp" "$binary" --test-threads=1
log "sanitize: no memory errors found"
