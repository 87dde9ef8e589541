#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian as root, install Debian's docker.io and start
# dockerd in the background when none runs (build machines and CI have no init system that
# would start it); anywhere else, say what to do and fail.
set -euo pipefail
log=${LAB_DOCKERD_LOG:-/var/log/lab-dockerd.log}

if docker info >/dev/null 2>&1; then exit 0; fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "lab: no Docker engine answers 'docker info'." >&2
  echo "lab: start one (systemctl start docker) or run as root on Debian to have one installed and started." >&2
  exit 2
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "lab: installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

echo "lab: starting dockerd in the background (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then echo "lab: dockerd is up"; exit 0; fi
  sleep 1
done
echo "lab: dockerd did not answer within 60 s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
