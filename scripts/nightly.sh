#!/bin/sh
# The nightly matrix, shared by `make nightly` (one machine) and .github/workflows/nightly.yml (sharded).
#   scripts/nightly.sh run OUT_DIR [I/N]     build the kernels, run the matrix (shard I of N) into OUT_DIR
#   scripts/nightly.sh gate OUT_DIR [PREV]   HTML report, then fail on functional failures or a regression vs PREV
set -eu
cd "$(dirname "$0")/.."
lab=.venv/bin/lab
TESTCASES=${NIGHTLY_TESTCASES:-"testcases/throughput.yaml testcases/offload.yaml testcases/xsk.yaml"}
REPEAT=${NIGHTLY_REPEAT:-3}
cmd=$1 out=$2
case "$cmd" in
run)
  shard=${3:-}
  mkdir -p "$out"
  $lab build
  $lab build --patches xsk-copy-path
  for tc in $TESTCASES; do
    # a failing cell does not stop the night: the gate judges functional failures from the records
    $lab run "$tc" --runs "$out" --repeat "$REPEAT" ${shard:+--shard "$shard"} || echo "nightly: $tc had failures"
  done
  # the regression gate's most trustworthy input on a shared machine: instructions per packet
  [ "${NIGHTLY_DETERMINISTIC:-1}" = 1 ] && { $lab run testcases/xsk.yaml --mode deterministic --links virtio \
    --runs "$out" --repeat "$REPEAT" ${shard:+--shard "$shard"} || echo "nightly: deterministic xsk had failures"; } ;;
gate)
  prev=${3:-}
  $lab report "$out"/*/ --html "$out/report.html"
  if [ -n "$prev" ] && ls -d "$prev"/*/ >/dev/null 2>&1; then
    $lab gate "$out"/*/ --previous "$prev"/*/
  else
    $lab gate "$out"/*/
  fi ;;
*) echo "usage: $0 run|gate OUT_DIR [I/N|PREV]" >&2; exit 2 ;;
esac
