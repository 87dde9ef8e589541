#!/usr/bin/env bash
# Run the molecule scenarios in lanes side by side:  lab/lanes.sh "LANE1 SCENARIOS" "LANE2 ..."
# The scenarios of a lane run one after another, the lanes at once. A scenario mostly waits (apt,
# systemd, services starting, load runs), so two lanes on two cores take little more than the
# longer lane. Scenarios never share hosts or published ports (only molecule/stack publishes any).
# Each stage's output goes to .cache/stages/<stage>.log and is printed whole when the stage ends,
# so two logs never interleave; its timing lands in the stage log like any other stage's.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=.cache/stages
mkdir -p "$dir"

say() { flock "$dir/print.lock" "$@"; }

lane() {
  for scenario in $1; do
    log=$dir/molecule-$scenario.log
    say echo "== lane: molecule-$scenario started ($(date +%T); log $log)"
    lab/stage.sh "molecule-$scenario" molecule test -s "$scenario" >"$log" 2>&1
    say cat "$log"
  done
}

pids=()
for scenarios in "$@"; do
  lane "$scenarios" &
  pids+=($!)
done
wait "${pids[@]}"
