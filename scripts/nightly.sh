#!/bin/sh
# The nightly matrix, shared by `make nightly` (one machine) and .github/workflows/nightly.yml (sharded).
#   scripts/nightly.sh run OUT_DIR [I/N]            every testcase (shard I of N) into OUT_DIR, plus the
#                                                    deterministic legs (every testcase: all headline instructions)
#   scripts/nightly.sh gate OUT_DIR [NIGHTS_ROOT]   HTML report, then the gate: functional failures, regressions
#                                                    vs the last night that passed, drift vs the pinned night
# The verdict goes to OUT_DIR/gate.json; the pinned night is named in NIGHTS_ROOT/nightly.pin (the first night
# that passed, until someone pins another: `echo runs/nightly-DATE > runs/nightly.pin` accepts a new level).
# NIGHTLY_PREVIOUS=DIR names the baseline night instead of searching NIGHTS_ROOT (CI restores it from a cache).
# NIGHTLY_SOURCE=TREE@REF follows a branch: each night builds the kernels the testcases name (stock, their
# series and fragments) from REF's commit that night (lab run --source; records carry the commit); a cell slower
# than the last passing night is bisected between the two nights' commits (lab gate --bisect, at most
# NIGHTLY_BISECT_STEPS steps) and the verdict names the first bad commit. Default: Debian's tarball.
set -eu
cd "$(dirname "$0")/.."
lab=${LAB:-.venv/bin/lab}
TESTCASES=${NIGHTLY_TESTCASES:-$(ls testcases/*.yaml)}
DETERMINISTIC=${NIGHTLY_DETERMINISTIC:-$TESTCASES}
REPEAT=${NIGHTLY_REPEAT:-3}
cmd=$1 out=$2
case "$cmd" in
run)
  shard=${3:-}
  mkdir -p "$out"
  src=""
  if [ -n "${NIGHTLY_SOURCE:-}" ]; then  # tonight's commit of the branch, fixed for every run of the night
    tree=${NIGHTLY_SOURCE%@*}; ref=${NIGHTLY_SOURCE##*@}
    commit=$(git -C "$tree" rev-parse --verify "$ref^{commit}") || { echo "nightly: NIGHTLY_SOURCE=$NIGHTLY_SOURCE: not a revision" >&2; exit 2; }
    src="$tree@$commit"; echo "$src" > "$out/source"
    echo "nightly: kernels from $tree at $commit ($(git -C "$tree" log -1 --format=%s "$commit"))"
  fi
  # each `lab run`'s exit status goes into the runs log: the gate fails a night in which one exited with an
  # error and left no run dir (a kernel that did not build, a bad option); failing cells it judges from records
  log_run() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$out/lab-runs${shard:+-${shard%%/*}}.tsv"; }
  for tc in $TESTCASES; do
    rc=0; $lab run "$tc" --runs "$out" --repeat "$REPEAT" ${src:+--source "$src"} ${shard:+--shard "$shard"} || rc=$?
    log_run "$tc" wallclock $rc; [ $rc = 0 ] || echo "nightly: $tc: lab run exited with status $rc"
  done
  # the regression gate's trustworthy input on a shared machine: instructions per packet (TCG icount)
  for tc in $DETERMINISTIC; do
    rc=0; $lab run "$tc" --mode deterministic --links virtio --runs "$out" --repeat "$REPEAT" ${src:+--source "$src"} ${shard:+--shard "$shard"} || rc=$?
    log_run "$tc" deterministic $rc; [ $rc = 0 ] || echo "nightly: deterministic $tc: lab run exited with status $rc"
  done
  # kernel selftests (NIGHTLY_SELFTESTS="net:udpgso.sh,... net/forwarding"), in the first shard only: the gate
  # judges them by their streaks up to the last passing night (lab gate --history: a test that was passing and
  # fails stays flagged until it passes again)
  if [ -z "$shard" ] || [ "${shard%%/*}" = 1 ]; then
    for spec in ${NIGHTLY_SELFTESTS:-}; do
      rc=0; $lab selftest "$spec" --runs "$out" ${NIGHTLY_SELFTEST_KERNEL:+--kernel "$NIGHTLY_SELFTEST_KERNEL"} || rc=$?
      log_run "selftest:$spec" selftest $rc; [ $rc -lt 2 ] || echo "nightly: selftest $spec: exited with status $rc"
    done
  fi ;;
gate)
  root=${3:-$(dirname "$out")}
  ls -d "$out"/*/ >/dev/null 2>&1 || { echo "nightly: $out holds no run directory: FAIL" >&2; exit 1; }
  $lab report "$out"/*/ --html "$out/report.html" || echo "nightly: the report failed (status $?); gating anyway" >&2
  prev=${NIGHTLY_PREVIOUS:-}
  [ -n "$prev" ] || for d in $(ls -d "$root"/nightly-*/ 2>/dev/null | sort -r); do
    [ "${d%/}" = "${out%/}" ] && continue
    if grep -q '"pass": true' "$d/gate.json" 2>/dev/null; then prev=${d%/}; break; fi
  done
  pinned=$(cat "$root/nightly.pin" 2>/dev/null || true)
  [ -n "$pinned" ] && [ ! -d "$pinned" ] && { echo "nightly: pinned night $pinned is gone; drift check skipped" >&2; pinned=""; }
  echo "nightly: baseline ${prev:-(none)}, pinned ${pinned:-(none)}"
  rc=0
  logs=""; for f in "$out"/lab-runs*.tsv; do [ -f "$f" ] && logs="$logs --runs-log $f"; done
  hist=""; [ -n "$prev" ] && [ -f "$prev/gate.json" ] && hist="$prev/gate.json"
  tree=""; [ -f "$out/source" ] && tree=$(sed 's/@[^@]*$//' "$out/source")
  $lab gate "$out"/*/ ${prev:+--previous "$prev"/*/} ${pinned:+--pinned "$pinned"/*/} $logs --verdict "$out/gate.json" \
    --history ${hist:+"$hist"} \
    ${tree:+--bisect "$tree" --bisect-steps "${NIGHTLY_BISECT_STEPS:-8}"} || rc=$?
  if [ $rc = 0 ] && [ -z "$pinned" ]; then echo "${out%/}" > "$root/nightly.pin"; echo "nightly: pinned ${out%/}"; fi
  exit $rc ;;
*) echo "usage: $0 run OUT_DIR [I/N] | gate OUT_DIR [NIGHTS_ROOT]" >&2; exit 2 ;;
esac
