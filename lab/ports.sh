#!/usr/bin/env bash
# Where to look in the lab: every port the lab hosts publish on the control node's loopback.
set -euo pipefail
echo "The lab is up. Hosts: gateway1 gateway2 monitor1 (monitoring, redis) loadgen1 loadgen2"
echo "Shell on a host:  docker exec -it gateway1 bash      Converge again:  molecule converge -s stack"
for host in gateway1 gateway2 monitor1 loadgen1 loadgen2; do
  docker port "$host" 2>/dev/null | sed "s/^/  $host  /" || true
done
