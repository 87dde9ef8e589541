#!/usr/bin/env bash
# The second half of `molecule test` on a converged scenario, its two long steps at once:
#   lab/molecule-check.sh SCENARIO
# The idempotence run (site.yml again, changed=0 expected) and the tests both take minutes and
# mostly wait, so they share the time: the tests that only read the hosts or send them load run
# while site.yml runs again; the tests that change what site.yml manages wait for that run to end
# (LLMOBS_IDEMPOTENCE_RC, molecule/stack/tests/conftest.py). Then the hosts are removed, whatever
# happened, and the stage fails when either step did.
#
# Every molecule command rewrites the scenario's inventory, its group_vars link and ansible.cfg
# when it starts: the tests therefore run on their own copy (LLMOBS_LAB_COPY, made as they start,
# lab_access.py), and the idempotence run starts only once that copy exists.
set -uo pipefail
scenario=$1
dir=$PWD/.cache/check-$scenario
rm -rf "$dir" && mkdir -p "$dir"
export LLMOBS_LAB_COPY=$dir/lab LLMOBS_IDEMPOTENCE_RC=$dir/idempotence.rc

molecule verify -s "$scenario" &
verify=$!
# the copy, or the tests' end (they may stop before making it); bounded
for _ in $(seq 600); do
  [ -e "$LLMOBS_LAB_COPY" ] || ! kill -0 "$verify" 2>/dev/null && break
  sleep 1
done
( molecule idempotence -s "$scenario" >"$dir/idempotence.log" 2>&1; echo $? >"$LLMOBS_IDEMPOTENCE_RC" ) &
idempotence=$!

wait "$verify"; verify_rc=$?
wait "$idempotence"
echo "== the idempotence run, beside the tests:"
cat "$dir/idempotence.log"
idempotence_rc=$(cat "$LLMOBS_IDEMPOTENCE_RC")
echo "== idempotence: rc=$idempotence_rc; verify: rc=$verify_rc"
molecule destroy -s "$scenario"
[ "$verify_rc" = 0 ] && [ "$idempotence_rc" = 0 ]
