"""`make bench-build`: cold build, warm-ccache full rebuild, one-file patch rebuild, boot-to-agent times.

Runs in a scratch cache (DPLAB_CACHE) so "cold" really starts from an empty ccache and source cache.
Prints a JSON summary and writes it to runs/bench-build-<time>.json.
"""
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .boot import lab_boot


def main():
    from lab.kernel.build import BuildRequest, build
    res = {}
    scratch = Path(tempfile.mkdtemp(prefix="dplab-bench-"))
    real_cache = os.environ.get("DPLAB_CACHE")
    os.environ["DPLAB_CACHE"] = str(scratch)
    try:
        say = lambda m: print(m, file=sys.stderr)
        t = time.monotonic()
        stock = build(BuildRequest(), say=say)
        res["cold_build_s"] = round(time.monotonic() - t, 1)
        tree = Path(json.loads((stock / "build.json").read_text())["tree"])
        shutil.rmtree(stock)
        shutil.rmtree(tree)
        t = time.monotonic()
        stock = build(BuildRequest(), say=say)
        res["warm_ccache_full_build_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        build(BuildRequest(patches="xsk-copy-path"), say=say)
        res["one_file_patch_rebuild_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        build(BuildRequest(), say=say)
        res["cache_hit_s"] = round(time.monotonic() - t, 2)
        with tempfile.TemporaryDirectory() as runs:
            lab_boots = [lab_boot(str(stock), "", runs)[0] for _ in range(5)]
    finally:
        if real_cache is None:
            os.environ.pop("DPLAB_CACHE", None)
        else:
            os.environ["DPLAB_CACHE"] = real_cache
    with tempfile.TemporaryDirectory() as runs:
        deb_boots = [lab_boot("debian", "", runs)[0] for _ in range(5)]
    res.update(lab_boot_true_s=round(statistics.median(lab_boots), 2),
               debian_boot_true_s=round(statistics.median(deb_boots), 2),
               lab_boots=[round(x, 2) for x in lab_boots], debian_boots=[round(x, 2) for x in deb_boots],
               boot_speedup=round(statistics.median(deb_boots) / statistics.median(lab_boots), 2))
    shutil.rmtree(scratch, ignore_errors=True)
    Path("runs").mkdir(exist_ok=True)
    out = Path("runs") / f"bench-build-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
