#!/usr/bin/env bash
# Installing Debian packages for the local environment (redis-server,
# chromium). Sourced after hack/lib.sh, not run.
#
# Components that Debian ships ready to run are installed with apt-get rather
# than built: CI is root on a fresh machine, so the scripts must install what
# they use. Nothing is skipped: when a package cannot be installed the script
# stops and names the component.

# apt_install COMPONENT PACKAGE...: installs the packages non-interactively
# (no recommends: the component's own dependencies are enough), output to
# $LOG_DIR/apt-<component>.log. Dies naming COMPONENT when that is impossible.
apt_install() {
  local component="$1"; shift
  local aptlog="$LOG_DIR/apt-${component}.log"
  local -a as_root=()
  mkdir -p "$LOG_DIR"
  command -v apt-get >/dev/null 2>&1 \
    || die "$component is not installed and this machine has no apt-get: install the Debian package(s) $* (or their equivalent) yourself"
  if (( EUID != 0 )); then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      die "$component is not installed and installing it needs root: run  apt-get install $*  as root, then retry"
    fi
  fi
  log "$component is not installed: installing the Debian package(s) $* with apt-get (log: $aptlog)"
  local start=$SECONDS
  # The package lists are refreshed first: a fresh machine may have none, or
  # stale ones whose archive URLs are gone. The lock timeout lets two scripts
  # (or two environment instances) that install at once take turns instead
  # of failing on dpkg's lock.
  if ! {
    echo "===== $(date -Is) apt-get install $*"
    "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=300 update -q \
      && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
           apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@"
  } >>"$aptlog" 2>&1; then
    echo "----- last lines of $aptlog -----" >&2
    tail -n 20 "$aptlog" >&2
    die "$component: apt-get could not install $*; full log: $aptlog"
  fi
  log "$component: installed $* in $((SECONDS - start))s"
}

# deb_installed PACKAGE: true if dpkg knows PACKAGE as installed.
deb_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}
