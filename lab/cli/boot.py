"""`lab boot [options] -- CMD`: a fresh guest, one command (as `vng --exec`), its output and exit status."""
import argparse
import sys
import time

from ..options import BOOT_OPTIONS, Opt, add_options, from_args

BOOT_TIMEOUT = Opt("timeout", "--timeout", "float", "seconds for the command", min=1, max=86400)  # lab boot's own


def guest_command(words):
    """What to run: one word is a shell string (`lab boot -- 'a; b'`, as vng --exec takes it), several an argv."""
    if not words:
        return ["uname", "-a"]
    return ["sh", "-c", words[0]] if len(words) == 1 else list(words)


def cmd_boot(a):
    from ..results.rundir import RunDir
    from ..runner import RunOptions
    from ..vm.env import boot
    words = a.rest if a.rest is not None else a.command
    command = guest_command(words)
    opts = RunOptions(**{**from_args(a, BOOT_OPTIONS), "kernels": [a.kernels] if a.kernels else []})
    rd = RunDir.create(opts.runs_root, "boot")
    rd.update_manifest(command=command)
    spec = opts.boot_spec([m for m in a.links.split(",") if m])
    spec.kernel = a.kernels
    t0 = time.monotonic()
    with boot(spec, rd, say=lambda m: print(m, file=sys.stderr)) as env:
        print(f"dplab: {env.kernel.release} up in {env.boot_seconds:.1f}s ({env.cfg.accel}); run dir {rd.path}",
              file=sys.stderr)
        t = time.monotonic()
        res = env.run(command, timeout=a.timeout, check=False)
        command_s = round(time.monotonic() - t, 3)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
    rd.update_manifest(rc=res.rc, seconds=round(time.monotonic() - t0, 2),
                       timings={"cli_start": a.started, **env.timings, "command": command_s})
    return res.rc


def add_parser(sub):
    b = sub.add_parser("boot", help="boot a fresh guest and run one command in it: lab boot [opts] -- CMD... "
                       "(one word: a shell string, as vng --exec)")
    add_options(b, BOOT_OPTIONS, single_kernel=True)
    b.add_argument("--links", default="", help="comma-separated NIC models to wire up, e.g. virtio,e1000e (default "
                                               "none)")
    b.add_argument("--timeout", type=BOOT_TIMEOUT.convert, default=300, help="seconds for the command (default 300)")
    b.add_argument("command", nargs=argparse.REMAINDER, help="command to run in the guest (after --)")
    b.set_defaults(func=cmd_boot)

