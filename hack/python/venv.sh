#!/usr/bin/env bash
# The Python environment of the tests that play the original system's
# producer (processor/tests/original_contract_e2e.rs): the machine's python3
# with the standard library and kafka-python (the client the original used),
# pinned, in a venv cached outside the repository and keyed by that version:
#   $CACHE_DIR/python-kafka-<version>/
# Idempotent: builds it once (as <dir>.partial, renamed when complete, so an
# interrupted build never leaves a half venv behind), then only checks it.
# Only `bin/python` is used (`python -m …`); the venv's own scripts keep the
# .partial path in their shebangs and are not meant to be run. Prints nothing on stdout; `hack/env.sh` exports its
# interpreter as SHOPSTREAM_PYTHON.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

works() {
  "$SHOPSTREAM_PYTHON_BIN" - "$KAFKA_PYTHON_VERSION" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
import kafka  # noqa: F401
assert version("kafka-python") == sys.argv[1]
PY
}

if [[ -x "$SHOPSTREAM_PYTHON_BIN" ]] && works; then
  exit 0
fi

command -v python3 >/dev/null || die "python3 is not installed: the original-producer tests need it"
python3 -c 'import sys; assert sys.version_info >= (3, 8)' \
  || die "python3 is $(python3 --version 2>&1); the original-producer tests need 3.8 or newer"
log "building the Python venv with kafka-python $KAFKA_PYTHON_VERSION in $PYTHON_KAFKA_DIR"
start=$SECONDS
rm -rf "$PYTHON_KAFKA_DIR"
mkdir -p "$CACHE_DIR"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$PYTHON_KAFKA_DIR.partial"
python3 -m venv "$PYTHON_KAFKA_DIR.partial" || die "python3 -m venv failed (is the venv module installed?)"
"$PYTHON_KAFKA_DIR.partial/bin/python" -m pip install --quiet --disable-pip-version-check \
  "kafka-python==$KAFKA_PYTHON_VERSION" > "$tmp/pip.log" 2>&1 \
  || { cat "$tmp/pip.log" >&2; rm -rf "$PYTHON_KAFKA_DIR.partial"; die "installing kafka-python $KAFKA_PYTHON_VERSION failed"; }
mv "$PYTHON_KAFKA_DIR.partial" "$PYTHON_KAFKA_DIR"
works || die "the venv in $PYTHON_KAFKA_DIR does not import kafka-python $KAFKA_PYTHON_VERSION"
log "Python venv built in $((SECONDS - start))s"
