#!/usr/bin/env bash
# Run one stage of the pipeline and record how long it took:  lab/stage.sh NAME COMMAND...
# `lab/stage.sh --summary` prints the table of the stages run since `--reset`; `--verdict` counts
# them and exits 1 when one failed.
set -uo pipefail
log=${STAGE_LOG:-.cache/stages.log}
mkdir -p "$(dirname "$log")"
case "${1:-}" in
  --reset) : >"$log"; exit 0 ;;
  --summary)
    echo "== stage timings =="
    awk '{ printf "  %-22s %6ss  %s\n", $1, $2, $3; total += $2 } END { printf "  %-22s %6ss\n", "sum of stages", total }' "$log"
    exit 0 ;;
  --verdict)  # the closing line, and the exit code: 1 when a stage failed
    awk '$3 == "ok" { ok++ } $3 != "ok" { failed++ }
         END { printf "stages: %d passed, %d failed\n", ok, failed; exit failed > 0 }' "$log"
    exit $? ;;
esac
name=$1; shift
echo "== stage $name: $*"
start=$(date +%s)
"$@"; rc=$?
elapsed=$(( $(date +%s) - start ))
status=$([ $rc = 0 ] && echo ok || echo "FAILED(rc=$rc)")
echo "$name $elapsed $status" >>"$log"
echo "== stage $name: $status in ${elapsed}s"
exit $rc
