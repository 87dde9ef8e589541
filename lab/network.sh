#!/usr/bin/env bash
# The lab's network: a user-defined bridge (containers find each other by name) with a fixed
# subnet, so that the control node's mirror has a known address on it (the gateway, .1).
set -euo pipefail
name=${LAB_NETWORK:-llmobs-lab}
subnet=${LAB_SUBNET:-172.30.77.0/24}
gateway=${LAB_GATEWAY:-172.30.77.1}
if docker network inspect "$name" >/dev/null 2>&1; then exit 0; fi
docker network create --driver bridge --subnet "$subnet" --gateway "$gateway" "$name" >/dev/null
echo "lab: created network $name ($subnet, control node at $gateway)"
