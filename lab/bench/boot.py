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
    from lab.vm import VM, VMConfig
    from lab.vm.accel import choose_accel
    k = resolve_kernel(kernel_spec)
    accel = accel or choose_accel(k)[0]
    out = []
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(n):
            rd = RunDir.create(runs, "bench")
            with VM(k, rd, [], VMConfig(accel=accel, backend="hub")) as vm:
                t0 = time.monotonic()
                vm.guest.run(["true"])
                out.append(round(vm.boot_seconds + (time.monotonic() - t0), 2))
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
