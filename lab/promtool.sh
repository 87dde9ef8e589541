#!/usr/bin/env bash
# promtool for the control node, taken from the distribution's prometheus package (Debian 12:
# 2.42, the version the hosts run) without installing it: the package would start a daemon.
# The .deb is downloaded with apt-get (the site's own apt mirror works), unpacked with dpkg-deb,
# and only promtool is kept, at .cache/tools/promtool. Nothing happens when it is already there
# and runs.
#
#   PROMTOOL_DEB_VERSION   an apt version to take (default: the archive's candidate)
#
# Exit: 0 ok, 1 download or unpack failed, 2 not a Debian/apt system.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/tools/promtool

if [ -x "$dest" ] && "$dest" --version >/dev/null 2>&1; then
  exit 0
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "promtool.sh: needs Debian's apt-get and dpkg-deb; elsewhere put a promtool 2.42 at $dest" >&2
  echo "  (from https://github.com/prometheus/prometheus/releases) or set PROMTOOL for the tests" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt downloads as its _apt user when it can write the folder; otherwise it warns and goes on.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
package=prometheus${PROMTOOL_DEB_VERSION:+=$PROMTOOL_DEB_VERSION}
download() { (cd "$tmp" && apt-get download -qq "$package") ; }
if ! download 2>"$tmp/apt.err"; then
  if [ "$(id -u)" != 0 ]; then
    echo "promtool.sh: apt-get download $package failed; run as root (apt-get update may be needed):" >&2
    cat "$tmp/apt.err" >&2
    exit 1
  fi
  echo "promtool.sh: apt-get update, then download $package again" >&2
  apt-get update -qq
  if ! download 2>"$tmp/apt.err"; then
    echo "promtool.sh: apt-get download $package failed:" >&2
    cat "$tmp/apt.err" >&2
    exit 1
  fi
fi
deb=$(ls "$tmp"/prometheus_*.deb)
dpkg-deb -x "$deb" "$tmp/root"
mkdir -p "$(dirname "$dest")"
install -m 0755 "$tmp/root/usr/bin/promtool" "$dest.new"
if ! "$dest.new" --version >/dev/null 2>&1; then
  echo "promtool.sh: the promtool of $(basename "$deb") does not run here" >&2
  rm -f "$dest.new"
  exit 1
fi
mv "$dest.new" "$dest"
version=$("$dest" --version 2>&1 | head -n 1)
echo "promtool.sh: $version from $(basename "$deb") at $dest"
case "$version" in
  *" 2.42."*) ;;
  *) echo "promtool.sh: warning: not 2.42, the version Debian 12 hosts run" >&2 ;;
esac
