#!/usr/bin/env bash
# `molecule test` in parts, so that other work can start between them:
#   lab/molecule-steps.sh SCENARIO STEP...
# runs `molecule STEP -s SCENARIO` for each step and stops at the first that fails; the hosts are
# then removed, as `molecule test` does, so that nothing is left running.
set -uo pipefail
scenario=$1
shift
for step in "$@"; do
  molecule "$step" -s "$scenario" && continue
  rc=$?
  molecule destroy -s "$scenario"
  exit "$rc"
done
