"""`make bench-boot`: QEMU start to the first guest command, N boots per kernel, median reported."""
import argparse
import json
import statistics
import tempfile
import time


def boot_times(kernel_spec, n, accel=None):
    """Seconds from QEMU start to the first guest command's answer, for n fresh boots of kernel_spec."""
    from lab.kernel import resolve_kernel
    from lab.results.rundir import RunDir
    from lab.vm.env import BootSpec, boot
    spec = BootSpec(kernel=resolve_kernel(kernel_spec), accel=accel, backend="hub")
    out = []
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(n):
            with boot(spec, RunDir.create(runs, "bench"), say=lambda m: None) as env:
                t0 = time.monotonic()
                env.run(["true"])
                out.append(round(env.boot_seconds + (time.monotonic() - t0), 2))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kernel", action="append", default=[], help="kernels to time (default: debian and stock)")
    ap.add_argument("-n", type=int, default=5)
    a = ap.parse_args()
    res = {}
    for spec in a.kernel or ["debian", "stock"]:
        times = boot_times(spec, a.n)
        res[spec] = {"median_s": statistics.median(times), "boots_s": times}
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
