#!/usr/bin/env bash
# `make test`: starts the real environment (building it on first use) and runs
# every test of the workspace against it. Nothing is skipped: a component that
# cannot start fails the run and names itself.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/env-up.sh"
# Every suite must pass on a broker that has never seen a client, as on a
# fresh CI machine: no __consumer_offsets, no transaction log, no topics.
# A broker warmed by earlier runs hid first-contact crashes (issue 11), so
# Kafka is restarted here with its data directory wiped.
"$HERE/kafka/down.sh"
"$HERE/kafka/up.sh"
# Likewise an empty Redis, as on CI: no keys left by earlier runs.
"$HERE/redis/down.sh"
"$HERE/redis/up.sh"
# An operator or local runner left by `make demo` would reconcile and run the
# tests' pipelines too: stop them (the local cluster components may stay).
"$HERE/local/down.sh" --apps-only >/dev/null
"$HERE/helm/build.sh"
# The local-demo test needs kube-controller-manager, kube-scheduler and kwok;
# build them here (once, cached) so the build time is visible and not spent
# inside a test.
"$HERE/kube/build.sh" --local-stack
# python3 + kafka-python for the tests that play the original system's
# producer (built once, cached outside the repository).
"$HERE/python/venv.sh"
# The browser tests drive Debian's Chromium; CI is a fresh machine, so it is
# installed here (env-up does not need it).
"$HERE/chromium/ensure.sh"
eval "$("$HERE/env.sh")"
cd "$HERE/.."
# Every member, the integration-tests one included (the suites that need
# this environment; a plain `cargo test` leaves it out). The suites that run
# the workspace's binaries build them themselves, once
# (integration-tests/src/binaries.rs).
cargo test --workspace --locked "$@"
