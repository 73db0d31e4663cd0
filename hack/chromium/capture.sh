#!/usr/bin/env bash
# One-shot look at a page: loads URL in headless Chromium, lets its scripts
# run for VIRTUAL_TIME_MS of virtual time (default 5000; timers are fast-
# forwarded and pending fetches are waited for), saves a screenshot to
# OUT.png and prints the rendered DOM on stdout.
# Usage: hack/chromium/capture.sh URL OUT.png [VIRTUAL_TIME_MS]
#
# For a person, or a test that needs one rendering of a page whose data is
# already there. A test that must *wait* for data arriving in real time
# (the dashboard during the demo) drives Chromium through WebDriver instead:
# integration-tests/tests/browser/ (see hack/chromium/README.md).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"

(( $# >= 2 && $# <= 3 )) || die "usage: $0 URL OUT.png [VIRTUAL_TIME_MS]"
url="$1" out="$2" budget="${3:-5000}"
[[ "$budget" =~ ^[0-9]+$ ]] || die "VIRTUAL_TIME_MS must be a number of milliseconds, got '$budget'"
command -v chromium >/dev/null 2>&1 || die "Chromium is not installed; run hack/chromium/ensure.sh"

mapfile -t flags < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$HERE/flags")
profile="$(mktemp -d "${TMPDIR:-/tmp}/shopstream-chromium.XXXXXX")"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# chromium_errors: its log without the D-Bus noise of a machine without a
# session bus (harmless, and dozens of lines).
chromium_errors() { grep -v 'dbus/' "$profile/chromium.log" | tail -n 20 >&2; }

# A fresh profile per run: a reused one carries state between runs and a
# crashed run's lock makes the next one wait.
if ! timeout 90 chromium "${flags[@]}" --user-data-dir="$profile" \
      --virtual-time-budget="$budget" --screenshot="$out_abs" --dump-dom "$url" \
      2>"$profile/chromium.log"; then
  chromium_errors
  die "Chromium failed or timed out loading $url"
fi
[[ -s "$out_abs" ]] || { chromium_errors; die "Chromium wrote no screenshot to $out_abs"; }
log "screenshot of $url: $out_abs"
