#!/usr/bin/env bash
# Run stages in lanes side by side:  lab/lanes.sh "LANE1 STAGES" "LANE2 STAGES" ...
# The stages of a lane run one after another, the lanes at once. A stage named molecule-NAME
# runs `molecule test -s NAME`; molecule-NAME:converge and molecule-NAME:check run it in two
# parts (destroy, syntax, create, converge; then idempotence beside verify, and destroy:
# lab/molecule-check.sh); any other runs
# `make NAME`; `@NAME` waits until stage NAME of another lane has ended (ok or not; at most an
# hour, then the lane goes on and says so). Most stages mostly wait (apt, systemd, services starting,
# downloads), so two lanes on two cores take little more than the longer one.
# Scenarios never share hosts or published ports (only molecule/stack publishes any).
# Each stage's output goes to .cache/stages/<stage>.log and is printed whole when the stage ends,
# so two logs never interleave; its timing lands in the stage log like any other stage's.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=.cache/stages
mkdir -p "$dir"

say() { flock "$dir/print.lock" "$@"; }

rm -f "$dir"/*.ended

lane() {
  for stage in $1; do
    if [ "${stage#@}" != "$stage" ]; then
      for _ in $(seq 3600); do [ -e "$dir/${stage#@}.ended" ] && break; sleep 1; done
      [ -e "$dir/${stage#@}.ended" ] || say echo "== lane: gave up after an hour waiting for ${stage#@} to end"
      continue
    fi
    log=$dir/$stage.log
    scenario=${stage#molecule-}
    case "$stage" in
      molecule-*:converge) command=(lab/molecule-steps.sh "${scenario%:*}" destroy syntax create converge) ;;
      molecule-*:check) command=(lab/molecule-check.sh "${scenario%:*}") ;;
      molecule-*) command=(molecule test -s "$scenario") ;;
      *) command=(make --no-print-directory "$stage") ;;
    esac
    say echo "== lane: $stage started ($(date +%T); log $log)"
    lab/stage.sh "$stage" "${command[@]}" >"$log" 2>&1
    touch "$dir/$stage.ended"
    say cat "$log"
  done
}

pids=()
for stages in "$@"; do
  lane "$stages" &
  pids+=($!)
done
wait "${pids[@]}"
