#!/usr/bin/env bash
# `make test`: starts the real environment (building it on first use) and runs
# every test of the workspace against it. Nothing is skipped: a component that
# cannot start fails the run and names itself.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/env-up.sh"
eval "$("$HERE/env.sh")"
cd "$HERE/.."
cargo test --workspace --locked "$@"
