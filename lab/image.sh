#!/usr/bin/env bash
# Build the lab's Debian 12 image that boots systemd, with no container registry:
# debootstrap a root file system, add the control node's network trust settings, `docker import`.
# The image is tagged with a hash of its recipe (this file plus what it carries from the control
# node) and rebuilt only when that hash changes.
#
#   LAB_IMAGE        name molecule uses (default llmobs-lab:debian12)
#   LAB_CARRY_CA     1: carry the control node's CA bundle (TLS-intercepting proxies), 0: don't
#   LAB_CARRY_PROXY  1: carry apt Acquire:: settings, pip.conf and *_proxy variables, 0: don't
#   LAB_APT_MIRROR   Debian mirror for debootstrap (default: the control node's first deb URI)
set -euo pipefail
image=${LAB_IMAGE:-llmobs-lab:debian12}
carry_ca=${LAB_CARRY_CA:-1}
carry_proxy=${LAB_CARRY_PROXY:-1}
suite=bookworm
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,ca-certificates,curl,gnupg
ca_bundle=/etc/ssl/certs/ca-certificates.crt

first_uri() {  # the first active Debian URI of the control node's apt sources
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ' || true
}
mirror=${LAB_APT_MIRROR:-$(first_uri)}
mirror=${mirror:-http://deb.debian.org/debian}

carried_files() {  # what the recipe takes from the control node, in a stable order
  if [ "$carry_ca" = 1 ] && [ -f "$ca_bundle" ]; then echo "$ca_bundle"; fi
  if [ "$carry_proxy" = 1 ]; then
    grep -lE '^\s*Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | sort || true
    for f in /etc/pip.conf /root/.config/pip/pip.conf; do [ -f "$f" ] && echo "$f"; done
  fi
  return 0
}
proxy_env() { [ "$carry_proxy" = 1 ] && env | grep -iE '^(https?|no)_proxy=' | sort || true; }

recipe_hash=$(
  { cat "$0"; echo "$mirror $suite $packages"; proxy_env
    carried_files | while read -r f; do echo "$f"; cat "$f"; done; } | sha256sum | cut -c1-12
)
tag="${image%%:*}:recipe-$recipe_hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$image"
  echo "lab: image $image is current (recipe $recipe_hash)"
  exit 0
fi

command -v debootstrap >/dev/null || {
  [ "$(id -u)" = 0 ] || { echo "lab: debootstrap is missing; install it (apt-get install debootstrap)" >&2; exit 2; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

rootfs=$(mktemp -d /var/tmp/lab-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "lab: debootstrap $suite from $mirror (recipe $recipe_hash, takes about 90 s)"
start=$(date +%s)
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  echo "lab: debootstrap failed; last lines of $rootfs.log:" >&2; tail -n 20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"

cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${mirror%/debian*}/debian-security $suite-security main
SOURCES
while read -r f; do
  case "$f" in
    "$ca_bundle")
      # Append the control node's bundle as a local CA so update-ca-certificates keeps it.
      cp "$f" "$rootfs/usr/local/share/ca-certificates/control-node-bundle.crt"
      chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 ;;
    /etc/apt/apt.conf.d/*) cp "$f" "$rootfs$f" ;;
    *pip.conf) mkdir -p "$rootfs/etc"; cp "$f" "$rootfs/etc/pip.conf" ;;
  esac
done < <(carried_files)
proxy_env >>"$rootfs/etc/environment"

# Every container gets its own machine id; no getty on a console nobody reads.
: >"$rootfs/etc/machine-id"
chroot "$rootfs" systemctl mask getty@tty1.service console-getty.service systemd-firstboot.service >/dev/null 2>&1 || true
chroot "$rootfs" apt-get clean

tar -C "$rootfs" -c . | docker import --change 'CMD ["/lib/systemd/systemd"]' - "$tag" >/dev/null
docker tag "$tag" "$image"
echo "lab: built $image (recipe $recipe_hash) in $(( $(date +%s) - start )) s"
