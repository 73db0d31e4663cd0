#!/usr/bin/env bash
# Makes sure headless Chromium and its WebDriver server are installed, from
# Debian's packages (chromium, chromium-driver; fonts-dejavu-core so text in
# screenshots is legible), installing them with apt-get when missing. Prints
# what it found. Only the browser tests need it: hack/test.sh calls it,
# hack/env-up.sh does not.
# Usage: hack/chromium/ensure.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/../apt.sh"

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
deb_installed fonts-dejavu-core || missing+=(fonts-dejavu-core)
if (( ${#missing[@]} )); then
  apt_install chromium "${missing[@]}"
fi
for bin in chromium chromedriver; do
  command -v "$bin" >/dev/null 2>&1 || die "Chromium: '$bin' is still not on PATH after installing ${missing[*]:-nothing}"
done

# Debian's /usr/bin/chromium wrapper prints a shell warning on some machines
# (its memory check); only the version line matters here.
chromium_version="$(chromium --version 2>/dev/null)" \
  || die "Chromium: '$(command -v chromium) --version' failed"
driver_version="$(chromedriver --version 2>/dev/null)" \
  || die "Chromium: '$(command -v chromedriver) --version' failed"
# ChromeDriver drives only the Chromium of its own major version; the two
# packages come from one Debian source, so a mismatch means a half upgrade.
[[ "$(grep -oE '[0-9]+' <<<"$chromium_version" | head -n 1)" == "$(grep -oE '[0-9]+' <<<"$driver_version" | head -n 1)" ]] \
  || die "Chromium: $chromium_version and $driver_version differ in major version; run apt-get install chromium chromium-driver"
log "chromium: $(command -v chromium) ($chromium_version)"
log "chromedriver: $(command -v chromedriver) (${driver_version%% (*})"
