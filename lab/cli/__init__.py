"""`lab`: the command line. Subcommands map to the stages: build, boot, run, compare, report."""
import argparse
import json
import os
import signal
import sys
import time

from ..errors import ConfigError, LabError
from ..modes import DEFAULT, MODES
from .debug import add_parser as debug_parser
from .kconfig import add_parser as kconfig_parser
from .selftest import add_parser as selftest_parser
from .results import cmd_compare, cmd_gate, cmd_report


def _sigterm(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def add_vm_options(p, many_kernels=False):
    p.add_argument("--kernel", action="append" if many_kernels else "store",
                   help="'debian' (default: Debian's prebuilt linux-image-amd64), a bzImage/kernel dir, or a `lab build` name"
                   + ("; repeat to compare kernels" if many_kernels else ""))
    p.add_argument("--accel", choices=["kvm", "tcg"], help="skip the KVM probe and use this accelerator")
    p.add_argument("--cpus", type=int, default=2, help="guest vCPUs (default 2)")
    p.add_argument("--memory", default="2G", help="guest memory (default 2G)")
    p.add_argument("--append", action="append", default=[], metavar="ARGS", help="extra kernel command line (repeatable)")
    p.add_argument("--backend", choices=["tap", "hub"], help="link backend (default tap as root: keeps virtio offloads)")
    p.add_argument("--boot-timeout", type=float, default=180.0, help="seconds to wait for the guest agent (default 180)")
    p.add_argument("--runs", default="runs", help="directory for run directories (default ./runs)")


def cmd_run(a):
    from ..results.rundir import RunDir
    from ..runner import RunOptions, run_testcase
    from ..workloads import load_testcase
    resume = None
    if a.resume:
        resume = RunDir(a.resume)
        m = resume.manifest
        if "options" not in m or "testcase" not in m:
            raise ConfigError(f"--resume {a.resume}: not a `lab run` directory (manifest has no options/testcase)")
        tc = load_testcase(m["testcase"]["path"], text=m["testcase"]["text"])
        opts = RunOptions(**m["options"])
        rd = run_testcase(tc, opts, say=_progress(a), resume=resume)
        return _print_run(a, rd, tc, opts)
    if not a.testcase:
        raise ConfigError("lab run needs a testcase file (or --resume RUN_DIR)")
    targets = a.target or [None]
    if len(targets) > 1:
        return run_on_targets(a, targets)
    tc = load_testcase(a.testcase)
    opts = run_options(a, targets[0])
    rd = run_testcase(tc, opts, say=_progress(a))
    return _print_run(a, rd, tc, opts)


def run_on_targets(a, targets):
    """`lab run X --target A --target B`: a run on each in turn (a run dir each); a target that cannot be reached,
    or fails, is reported and the next one runs. Exit status: the worst of them."""
    from ..runner import run_testcase
    from ..workloads import load_testcase
    if a.json:
        raise ConfigError("--json takes one --target (one document per run); several targets print tables")
    worst = 0
    for t in targets:
        tc = load_testcase(a.testcase)
        opts = run_options(a, t)
        print(f"dplab: target {t}")
        try:
            rd = run_testcase(tc, opts, say=_progress(a))
        except LabError as e:
            print(f"lab: error: target {t}: {e}", file=sys.stderr)
            worst = max(worst, 2 if isinstance(e, ConfigError) else 1)
            continue
        worst = max(worst, _print_run(a, rd, tc, opts))
    return worst


def run_options(a, target=None):
    """RunOptions of parsed `lab run` arguments for one `target` (remote/lab.run_flags is their inverse)."""
    from ..runner import RunOptions
    return RunOptions(kernels=a.kernel or [], accel=a.accel, duration=a.duration, repeat=a.repeat, rounds=a.rounds,
                      shard=a.shard, mode=a.mode, cpu_model=a.cpu_model, links=[m for m in a.links.split(",") if m],
                      axes=dict(_axis(x) for x in a.axis), cpus=a.cpus, memory=a.memory,
                      append=[x for s in a.append for x in s.split()], backend=a.backend, runs_root=a.runs,
                      boot_timeout=a.boot_timeout, profile=a.profile, target=target, hosts=a.hosts)


def _progress(a):
    """Progress lines: stdout for the table, stderr when stdout carries --json (it stays one JSON document)."""
    return (lambda m: print(m, file=sys.stderr)) if a.json else print


def _axis(text):
    """'size=64,1500' -> ('size', ['64', '1500']): strings, typed later by the testcase's declared values."""
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise ConfigError(f"--axis {text!r}: expected NAME=V1,V2 (e.g. size=64,1500)")
    return name, values.split(",")


def _print_run(a, rd, tc, opts):
    from ..report.table import render_pairs, render_table
    from ..results.compare import compare, dims
    from ..results.rundir import final_attempts
    recs = rd.results()
    pairs = compare(recs) if len({json.dumps(dims(r), sort_keys=True) for r in recs if r.get("status") == "ok"}) > 1 else []
    if a.json:
        print(json.dumps({"records": recs, "pairs": [p.as_dict() for p in pairs]}, indent=2, default=str))
    else:
        print(render_table(recs))
        if pairs and all(p.result.verdict == "insufficient data" for p in pairs):
            print(f"\n(A/B verdicts along {pairs[0].dimension} need --repeat 2 or more)")
        elif pairs and (len(opts.kernels or tc.kernels) > 1 or tc.axes):
            print()
            print(render_pairs(pairs))
        if tc.reference:
            from ..report.reference import render_reference
            print()
            print(render_reference(recs, tc.reference))
        print(f"\nresults: {rd.path}/results.jsonl  manifest: {rd.path}/manifest.json  console: {rd.console_log}")
    final = final_attempts(recs)
    return 0 if final and all(r.get("status") == "ok" for r in final.values()) else 1


def cmd_boot(a):
    """Boot a fresh guest, run one command (like `vng --exec`), print its output, exit with its code."""
    from ..results.rundir import RunDir
    from ..vm.env import BootSpec, boot
    command = a.rest if a.rest is not None else a.command
    rd = RunDir.create(a.runs, "boot")
    rd.update_manifest(command=command)
    spec = BootSpec(kernel=a.kernel, links=[m for m in a.links.split(",") if m], accel=a.accel, cpus=a.cpus,
                    memory=a.memory, append=[x for s in a.append for x in s.split()], backend=a.backend,
                    boot_timeout=a.boot_timeout)
    t0 = time.monotonic()
    with boot(spec, rd, say=lambda m: print(m, file=sys.stderr)) as env:
        print(f"dplab: {env.kernel.release} up in {env.boot_seconds:.1f}s ({env.cfg.accel}); run dir {rd.path}",
              file=sys.stderr)
        t = time.monotonic()
        res = env.run(command or ["uname", "-a"], timeout=a.timeout, check=False)
        command_s = round(time.monotonic() - t, 3)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
    rd.update_manifest(rc=res.rc, seconds=round(time.monotonic() - t0, 2),
                       timings={"cli_start": a.started, **env.timings, "command": command_s})
    return res.rc


def cmd_kernel(a):
    from ..kernel import resolve_kernel
    k = resolve_kernel(a.kernel, say=lambda m: print(m, file=sys.stderr))
    print(json.dumps(k.describe(), indent=2))
    return 0


def cmd_build(a):
    from ..kernel import store
    if a.list:
        rows = store.list_builds()
        if a.json:
            print(json.dumps(rows, indent=2))
        for r in rows:
            print(f"{r['key']}  {','.join(r['names']) or '-':18s} {r['release'] or '?':12s} {r['size_mb']:6.1f} MB "
                  f"{r['age_h']:6.1f} h  patches: {len(r['patches'])}")
        if not rows:
            print("(no builds yet: lab build)")
        return 0
    if a.prune:
        for p in store.prune():
            print(f"removed {p}")
        return 0
    from ..kernel.build import BuildRequest, build
    art = build(BuildRequest(source=a.source, patches=a.patches, fragments=a.kconfig, name=a.name, jobs=a.jobs,
                             ccache=not a.no_ccache), say=lambda m: print(m, file=sys.stderr))
    print(art)
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="lab", description="dplab: build, boot and measure Linux network datapath kernels in QEMU.")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run a testcase (YAML) and print a table of results")
    r.add_argument("testcase", nargs="?", help="testcase file, e.g. testcases/throughput.yaml")
    r.add_argument("--resume", metavar="RUN_DIR", help="measure only the cells an interrupted run dir lacks")
    r.add_argument("--mode", choices=list(MODES), default=DEFAULT.name,
                   help="; ".join(f"{m.name}: {m.summary}" for m in MODES.values()))
    r.add_argument("--target", action="append", help="run on this target of the hosts file: hardware (its ports over "
                   "SSH; --kernel by kexec where its entry allows) or remote-lab; repeated: one run on each in turn")
    r.add_argument("--hosts", default="hosts/lab.yaml", help="hosts file for --target (default hosts/lab.yaml)")
    r.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                   help="instructions per packet per kernel function (QEMU plugin; default: on in deterministic mode)")
    r.add_argument("--cpu-model", help="QEMU -cpu (default: max under TCG, in both modes; see the calibration in README)")
    r.add_argument("--shard", metavar="I/N", help="measure only shard I of N (every N-th cell); merge with lab report")
    r.add_argument("--duration", type=float, help="seconds per measurement (overrides the testcase)")
    r.add_argument("--repeat", type=int, help="repeats per cell (overrides the testcase)")
    r.add_argument("--links", default="", help="comma-separated NIC models instead of the testcase's links")
    r.add_argument("--axis", action="append", default=[], metavar="NAME=V1,V2",
                   help="run only these values of an axis (repeatable), e.g. --axis size=64,1500")
    r.add_argument("--rounds", type=int, help="boots per kernel, alternating kernels (default 2 with several kernels)")
    r.add_argument("--json", action="store_true", help="print the records as JSON instead of the table")
    add_vm_options(r, many_kernels=True)
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("boot", help="boot a fresh guest and run one command in it: lab boot [opts] -- CMD...")
    add_vm_options(b)
    b.add_argument("--links", default="", help="comma-separated NIC models to wire up, e.g. virtio,e1000e (default none)")
    b.add_argument("--timeout", type=float, default=300, help="seconds for the command (default 300)")
    b.add_argument("command", nargs=argparse.REMAINDER, help="command to run in the guest (after --)")
    b.set_defaults(func=cmd_boot)

    bu = sub.add_parser("build", help="build a patched kernel (cached by content); --list, --prune")
    bu.add_argument("--source", help="kernel tarball or tree (default: Debian's linux-source tarball)")
    bu.add_argument("--patches", help="patch series dir, or a name under patches/ (quilt 'series' file)")
    bu.add_argument("--kconfig", action="append", default=[], help="kconfig fragment (repeatable; default kconfigs/lab.config)")
    bu.add_argument("--name", help="name for `--kernel NAME` (default: the series name, or 'stock')")
    bu.add_argument("--jobs", "-j", type=int, default=(os.cpu_count() or 2) + 1, help="make jobs (default: cores + 1)")
    bu.add_argument("--no-ccache", action="store_true")
    bu.add_argument("--list", action="store_true", help="list cached builds (key, names, release, size, age)")
    bu.add_argument("--prune", action="store_true", help="remove unnamed builds and their trees")
    bu.add_argument("--json", action="store_true")
    bu.set_defaults(func=cmd_build)

    c = sub.add_parser("compare", help="A/B verdicts between variants: lab compare runs/A [runs/B ...]")
    c.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR")
    c.add_argument("--by", help="dimension to compare along: kernel, link, run, or an axis name (default: guessed)")
    c.add_argument("--baseline", help="value of that dimension used as A (default: the first seen)")
    c.add_argument("--confidence", type=float, default=0.95, help="confidence of the Welch interval (default 0.95)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)

    rp = sub.add_parser("report", help="merge run dirs into a table, JSON or a self-contained HTML report")
    rp.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR")
    rp.add_argument("--html", metavar="FILE", help="write an HTML report here")
    rp.add_argument("--by", help="dimension for the A/B section (default: guessed)")
    rp.add_argument("--screenshot", metavar="PNG", help="also render the HTML to a PNG with headless chromium")
    rp.add_argument("--json", action="store_true", help="print all records as JSON")
    rp.set_defaults(func=cmd_report)

    gt = sub.add_parser("gate", help="nightly gate: functional failures, or a regression vs the last passing night "
                                     "(and drift vs a pinned one), judged on deterministic records by default")
    gt.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR")
    gt.add_argument("--previous", nargs="*", default=[], metavar="RUN_DIR", help="the last passing night's run dirs")
    gt.add_argument("--pinned", nargs="*", default=[], metavar="RUN_DIR", help="an older pinned night's run dirs (drift)")
    gt.add_argument("--gate-wallclock", action="store_true",
                    help="wall-clock pairs gate too (Holm-corrected with the rest); default: reported only")
    gt.add_argument("--verdict", metavar="FILE", help="write the verdict as JSON (scripts/nightly.sh: <night>/gate.json)")
    gt.add_argument("--runs-log", metavar="FILE", action="append", default=[], help="TESTCASE<tab>MODE<tab>EXIT STATUS per `lab run` of the night "
                    "(scripts/nightly.sh writes it): one that failed without a run dir fails the gate")
    gt.set_defaults(func=cmd_gate)

    kconfig_parser(sub)
    selftest_parser(sub)
    debug_parser(sub)
    k = sub.add_parser("kernel", help="resolve a --kernel spec (fetching the Debian default if needed) and describe it")
    k.add_argument("kernel", nargs="?", default=None)
    k.set_defaults(func=cmd_kernel)
    return p


def process_age():
    """Seconds since this process started (interpreter start-up and imports included), from /proc."""
    try:
        start_ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        return round(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


def main(argv=None):
    started = process_age()
    signal.signal(signal.SIGTERM, _sigterm)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show as they happen, also into a file or CI log
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even where a parent shell ignored it
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = None  # after `--`: a command for the guest (lab boot, lab debug), never options of ours
    if "--" in argv:
        argv, rest = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    a = build_parser().parse_args(argv)
    a.rest = rest
    a.started = started
    try:
        return a.func(a)
    except ConfigError as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 2
    except LabError as e:
        print(f"lab: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted; results so far are kept", file=sys.stderr)
        return 130

