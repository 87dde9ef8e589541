#!/usr/bin/env bash
# Build the artefact mirror (wheelhouse from the services' pins) and serve it to the lab hosts on
# the lab network's gateway address. `lab/mirror.sh stop` stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bind=${LAB_GATEWAY:-172.30.77.1}
port=${LAB_MIRROR_PORT:-8765}
pidfile=.cache/mirror.pid
mkdir -p .cache
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if [ "${1:-start}" = stop ]; then
  if running; then kill "$(cat "$pidfile")"; echo "lab: mirror stopped"; fi
  exit 0
fi
.venv/bin/llmobs-mirror build --dir mirror
url="http://$bind:$port"
ours() { curl -fsS "$url/SHA256SUMS" 2>/dev/null | cmp -s - mirror/SHA256SUMS; }
if running && ours; then exit 0; fi
if ! running && (exec 3<>"/dev/tcp/$bind/$port") 2>/dev/null; then
  echo "lab: something else listens on $bind:$port (another checkout's mirror? its lab/mirror.sh stop)" >&2
  exit 1
fi
nohup .venv/bin/llmobs-mirror serve --dir mirror --bind "$bind" --port "$port" --pidfile "$pidfile" \
  >.cache/mirror.log 2>&1 &
for _ in $(seq 1 20); do
  if ours; then echo "lab: mirror serving $(pwd)/mirror on $url/"; exit 0; fi
  sleep 0.5
done
echo "lab: the mirror did not answer on $url/; see .cache/mirror.log:" >&2
cat .cache/mirror.log >&2
exit 1
