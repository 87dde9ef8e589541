#!/usr/bin/env bash
# Debian's chromium for the tests that look at web pages (the HTML reports, the Locust UI) in a
# real browser, headless. Installed with apt-get when missing and this is a Debian system run by
# root; otherwise the tests that need it skip, naming it.
#
# Exit: 0 chromium is there, 1 the installation failed, 2 not a Debian/apt system or not root.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: chromium is missing; install Debian's chromium package (as root: apt-get install chromium)" >&2
  exit 2
fi
echo "chromium.sh: installing Debian's chromium (headless browser for the web page tests)" >&2
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -o DPkg::Lock::Timeout=300"  # another stage may be installing too: wait for its lock
$apt install -y -qq chromium >/dev/null 2>&1 || { $apt update -qq && $apt install -y -qq chromium >/dev/null; }
chromium --version
