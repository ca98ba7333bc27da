"""`make bench-boot`: `lab boot -- true` end to end, with and without links, and where the time goes.

Each boot is a fresh `lab boot` process (as a user runs it); its phases come from the run's manifest
(`timings`), the end-to-end figure from this process's clock. Variants alternate (A B A B) so host drift
hits all alike. Medians of N, measured in one run; never a timed test.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.errors import ConfigError
from lab.vm.vng import vng_binary

ROOT = Path(__file__).resolve().parents[2]
VNG = "vng --exec true"
PHASES = ["cli_start", "resolve", "initramfs", "host_net", "qemu_to_agent", "wire", "command", "shutdown", "teardown"]


def lab_boot(kernel, links, runs, extra=()):
    """(end-to-end seconds, manifest timings) of one `lab boot --kernel K [--links L] -- true`."""
    argv = [sys.executable, "-m", "lab.cli", "boot", "--kernel", kernel, "--runs", str(runs), *extra]
    if links:
        argv += ["--links", links]
    t0 = time.monotonic()
    p = subprocess.run(argv + ["--", "true"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    e2e = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"lab boot failed (rc={p.returncode}):\n{p.stderr[-2000:]}")
    newest = max(Path(runs).iterdir(), key=lambda d: d.stat().st_mtime)
    return e2e, json.loads((newest / "manifest.json").read_text()).get("timings", {})


def vng_boot(kernel, runs, extra=()):
    """(end-to-end seconds, {"rc": exit status}) of `vng --run BZIMAGE --force-9p --disable-kvm --exec true`, the
    same kernel image (virtme-ng's own init, 9p root and script channel; vm/vng.py builds the command)."""
    from lab.kernel.resolve import resolve_kernel
    from lab.vm.vng import VngBoot, vng_env
    argv = VngBoot(resolve_kernel(kernel, say=lambda *_: None).image, exec_cmd="true").argv()
    t0 = time.monotonic()
    p = subprocess.run(argv, cwd=runs, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                       env=vng_env())
    return time.monotonic() - t0, {"rc": p.returncode}


def measure(variants, n):
    """{variant name: {"e2e": [..], phase: [..]}} over n alternating rounds."""
    out = {name: {} for name, *_ in variants}
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(n):
            for name, kernel, links in variants:
                e2e, t = vng_boot(kernel, runs) if links is None else lab_boot(kernel, links, runs)
                out[name].setdefault("e2e", []).append(e2e)
                for k, v in t.items():
                    out[name].setdefault(k, []).append(v)
    return out


def table(res):
    names = list(res)
    med = lambda xs: f"{statistics.median(xs):6.2f}" if xs else "     -"
    lines = [f"{'phase':16s}" + "".join(f"{n:>18s}" for n in names)]
    for ph in PHASES:
        lines.append(f"{ph:16s}" + "".join(f"{med(res[n].get(ph, [])):>18s}" for n in names))
    lines.append(f"{'(unaccounted)':16s}" + "".join(
        f"{statistics.median(res[n]['e2e']) - sum(statistics.median(res[n][p]) for p in PHASES if res[n].get(p)):18.2f}"
        for n in names))
    lines.append(f"{'end to end':16s}" + "".join(f"{med(res[n]['e2e']):>18s}" for n in names))
    lines.append(f"{'(range)':16s}" + "".join(f"{min(res[n]['e2e']):8.2f}-{max(res[n]['e2e']):<9.2f}" for n in names))
    rcs = {n: sorted(set(res[n]["rc"])) for n in names if "rc" in res[n]}
    lines += [f"{n}: exit status {', '.join(map(str, rc))}" for n, rc in rcs.items()]
    if VNG in res and set(res[VNG]["rc"]) != {0}:
        lines.append("vng did not run the command (see its exit status): no ratio")
    elif "no links" in res and VNG in res:
        ratio = statistics.median(res["no links"]["e2e"]) / statistics.median(res[VNG]["e2e"])
        lines.append(f"lab boot / vng, end to end (medians): {ratio:.2f}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kernel", default="stock")
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    variants = [("no links", a.kernel, ""), ("virtio,e1000e", a.kernel, "virtio,e1000e")]
    try:
        vng_binary()
        variants.append((VNG, a.kernel, None))
    except ConfigError as e:  # the lab's figures still count
        print(f"bench-boot: no vng column: {e}", file=sys.stderr)
    res = measure(variants, a.n)
    print(json.dumps(res, indent=1) if a.json else f"lab boot --kernel {a.kernel} -- true, seconds, median of {a.n}\n"
          + table(res))


if __name__ == "__main__":
    main()
