#!/bin/sh
# The nightly matrix, shared by `make nightly` (one machine) and .github/workflows/nightly.yml (sharded).
#   scripts/nightly.sh run OUT_DIR [I/N]            every testcase (shard I of N) into OUT_DIR, plus the
#                                                    deterministic legs (workloads that count their own CPU time)
#   scripts/nightly.sh gate OUT_DIR [NIGHTS_ROOT]   HTML report, then the gate: functional failures, regressions
#                                                    vs the last night that passed, drift vs the pinned night
# The verdict goes to OUT_DIR/gate.json; the pinned night is named in NIGHTS_ROOT/nightly.pin (the first night
# that passed, until someone pins another: `echo runs/nightly-DATE > runs/nightly.pin` accepts a new level).
# NIGHTLY_PREVIOUS=DIR names the baseline night instead of searching NIGHTS_ROOT (CI restores it from a cache).
set -eu
cd "$(dirname "$0")/.."
lab=${LAB:-.venv/bin/lab}
TESTCASES=${NIGHTLY_TESTCASES:-$(ls testcases/*.yaml)}
DETERMINISTIC=${NIGHTLY_DETERMINISTIC:-"testcases/xsk.yaml testcases/udpgso.yaml"}
REPEAT=${NIGHTLY_REPEAT:-3}
cmd=$1 out=$2
case "$cmd" in
run)
  shard=${3:-}
  mkdir -p "$out"
  for tc in $TESTCASES; do
    # a failing cell does not stop the night: the gate judges functional failures from the records
    $lab run "$tc" --runs "$out" --repeat "$REPEAT" ${shard:+--shard "$shard"} || echo "nightly: $tc had failures"
  done
  # the regression gate's trustworthy input on a shared machine: instructions per packet (TCG icount)
  for tc in $DETERMINISTIC; do
    $lab run "$tc" --mode deterministic --links virtio --runs "$out" --repeat "$REPEAT" ${shard:+--shard "$shard"} \
      || echo "nightly: deterministic $tc had failures"
  done ;;
gate)
  root=${3:-$(dirname "$out")}
  $lab report "$out"/*/ --html "$out/report.html"
  prev=${NIGHTLY_PREVIOUS:-}
  [ -n "$prev" ] || for d in $(ls -d "$root"/nightly-*/ 2>/dev/null | sort -r); do
    [ "${d%/}" = "${out%/}" ] && continue
    if grep -q '"pass": true' "$d/gate.json" 2>/dev/null; then prev=${d%/}; break; fi
  done
  pinned=$(cat "$root/nightly.pin" 2>/dev/null || true)
  [ -n "$pinned" ] && [ ! -d "$pinned" ] && { echo "nightly: pinned night $pinned is gone; drift check skipped" >&2; pinned=""; }
  echo "nightly: baseline ${prev:-(none)}, pinned ${pinned:-(none)}"
  rc=0
  $lab gate "$out"/*/ ${prev:+--previous "$prev"/*/} ${pinned:+--pinned "$pinned"/*/} --verdict "$out/gate.json" || rc=$?
  if [ $rc = 0 ] && [ -z "$pinned" ]; then echo "${out%/}" > "$root/nightly.pin"; echo "nightly: pinned ${out%/}"; fi
  exit $rc ;;
*) echo "usage: $0 run OUT_DIR [I/N] | gate OUT_DIR [NIGHTS_ROOT]" >&2; exit 2 ;;
esac
