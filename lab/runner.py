"""Run a testcase: resolve the kernel, choose the accelerator, boot, wire links, measure every cell.

Each cell: render setup -> counters before -> `perf stat -a` around the run step -> counters after
-> teardown; the record is appended to results.jsonl the moment it exists.
"""
import time
from dataclasses import asdict, dataclass, field

from .errors import ConfigError, GuestCrash, GuestError, LabError
from .host import which
from .hostinfo import host_info
from .kernel import resolve_kernel
from .metrics import counters as ctr
from .metrics.parsers import PARSERS
from .metrics.perf import parse_perf_csv, perf_argv
from .results.rundir import RunDir, now_iso
from .vm import VM, VMConfig, make_links
from .vm.accel import choose_accel
from .vm.topology import default_backend, guest_describe_script
from .workloads.render import render


MODES = ("wallclock", "deterministic")
# Calibrated against seed 003 (README, deterministic mode): with ERMS the kernel copies with `rep movsb`,
# which icount charges per byte, and the page/copy ratios land within 8 % of the hardware's on average;
# without ERMS (max,-erms,-fsrm or Nehalem: `rep movsq`, per 8 bytes) copies look almost free (23 % off).
DETERMINISTIC_CPU = "max"


@dataclass
class RunOptions:
    kernels: list = field(default_factory=list)  # specs; empty = the Debian default
    accel: str | None = None
    duration: float | None = None
    repeat: int | None = None
    rounds: int | None = None  # boots per kernel, alternating kernels (A B A B); default 2 with several kernels
    cpus: int = 2
    memory: str = "2G"
    append: list = field(default_factory=list)
    backend: str | None = None
    runs_root: str = "runs"
    boot_timeout: float = 180.0
    shard: str | None = None  # "I/N": this run measures cells I, I+N, I+2N, ... of the plan (1-based)
    mode: str = "wallclock"   # or "deterministic": TCG + icount, 1 vCPU, guest instructions per packet
    cpu_model: str | None = None
    links: list = field(default_factory=list)  # NIC models instead of the testcase's `links`
    axes: dict = field(default_factory=dict)   # axis -> values, replacing the testcase's (a subset run)


def schedule(n_kernels, repeat, rounds):
    """Blocks of (kernel index, repeat indices): kernels alternate per round so drift hits all of them."""
    rounds = max(1, min(rounds, repeat))
    reps = [list(range(repeat))[r::rounds] for r in range(rounds)]
    return [(k, reps[r]) for r in range(rounds) for k in range(n_kernels) if reps[r]]


def check_tools(tools):
    for t in ["qemu-system-x86_64", "busybox", "ip", "perf", "ethtool", "python3", *tools]:
        which(t)


def guest_facts(guest, links):
    """Drivers per NIC (ethtool -i), PMU presence, perf version: what the manifest says of the guest."""
    out = guest.sh(guest_describe_script(links), timeout=60).stdout
    drivers = {}
    ns = None
    for line in out.splitlines():
        if line.startswith("@@ "):
            ns = line[3:].strip()
            drivers[ns] = {}
        elif ns and ":" in line:
            k, v = line.split(":", 1)
            drivers[ns][k.strip()] = v.strip()
    pmu = guest.run(["perf", "stat", "-x", ",", "-e", "instructions", "true"], check=False, timeout=60)
    has_pmu = pmu.rc == 0 and "<not supported>" not in pmu.stderr and "not supported" not in pmu.stderr
    return {"nics": drivers, "pmu": has_pmu}


def measure_cell(guest, tc, link, params, cell_no, rundir, events, mode="wallclock"):
    """One measurement. Returns (value-dict, counters, perf) or raises. Templates see `mode`, so a
    testcase can measure differently where instructions, not seconds, are counted."""
    cell_guest = f"/lab/cells/{cell_no}"
    (rundir.guest_dir / "cells" / str(cell_no)).mkdir(parents=True, exist_ok=True)
    ctx = {"link": link.template_vars(), "params": {**tc.params, **params}, "duration": tc.duration,
           "cell_dir": cell_guest, "links": [link.template_vars()], "mode": mode}
    scripts = {step: render(getattr(tc, step), ctx, f"{tc.path}:{step}") for step in ("setup", "run", "teardown")}
    for step, text in scripts.items():
        (rundir.guest_dir / "cells" / str(cell_no) / f"{step}.sh").write_text(text)
    snap = ctr.snapshot_script(link, render(tc.collect, ctx, f"{tc.path}:collect") if tc.collect.strip() else "")
    try:
        if tc.setup.strip():
            guest.sh(scripts["setup"], timeout=tc.timeout)
        pre = ctr.parse_snapshot(guest.sh(snap, timeout=60).stdout)
        t0 = time.monotonic()
        res = guest.run(perf_argv(events, f"{cell_guest}/perf.csv", ["sh", "-ec", scripts["run"]]), timeout=tc.timeout)
        elapsed = time.monotonic() - t0
        counters_guest_s = res.elapsed  # the guest's own clock: instructions x 1e-9 s under icount shift=0
        post = ctr.parse_snapshot(guest.sh(snap, timeout=60).stdout)
    finally:
        if tc.teardown.strip():
            guest.sh(scripts["teardown"], timeout=tc.timeout, check=False)
    (rundir.guest_dir / "cells" / str(cell_no) / "run.stdout").write_text(res.stdout)
    value = PARSERS[tc.parser](res.stdout)
    perf_csv = rundir.guest_dir / "cells" / str(cell_no) / "perf.csv"
    perf = parse_perf_csv(perf_csv.read_text()) if events else {}
    counters = ctr.delta(pre, post)
    counters["guest.run_ns"] = int(counters_guest_s * 1e9)
    return value, counters, perf, elapsed


def setup_kprobes(guest, symbols):
    """Register a kprobe event dplab:<name> per symbol; returns (events, missing symbols)."""
    if not symbols:
        return [], []
    script = "cd /sys/kernel/tracing\n" + "\n".join(
        f"if echo 'p:dplab/{kprobe_event(s)} {s}' >> kprobe_events 2>/dev/null; then echo ok {s}; else echo missing {s}; fi"
        for s in symbols)
    out = guest.sh(script, timeout=60).stdout.split("\n")
    missing = [line.split()[1] for line in out if line.startswith("missing ")]
    return [f"dplab:{kprobe_event(s)}" for s in symbols if s not in missing], missing


def kprobe_event(symbol):
    return symbol.replace(".", "_")


def check_expectations(rec, expect):
    """Messages for every `expect` entry whose `when` matches the record and whose bound fails."""
    from .results.compare import per_packet_counters
    fields = {"nic_model": rec["nic_model"], "link": rec["link"], "kernel": rec["kernel"]["name"],
              "mode": rec.get("mode", "wallclock"),
              **{k: v for k, v in rec.get("params", {}).items()}}
    values = per_packet_counters(rec)
    bad = []
    for e in expect:
        if any(str(fields.get(k)) != str(v) for k, v in e["when"].items()):
            continue
        v = values.get(e["counter"])
        where = ", ".join(f"{k}={v}" for k, v in e["when"].items()) or "every record"
        if v is None and rec.get("mode") == "deterministic" and is_perf_counter(e["counter"]):
            continue  # perf counters are not collected in that mode
        if v is None:
            bad.append(f"{e['counter']} was not measured ({where}) {e['why']}".strip())
        elif (e["min"] is not None and v < e["min"]) or (e["max"] is not None and v > e["max"]):
            bad.append(f"{e['counter']} = {v:.4g}, expected {'>= ' + str(e['min']) if e['min'] is not None else ''}"
                       f"{' and ' if e['min'] is not None and e['max'] is not None else ''}"
                       f"{'<= ' + str(e['max']) if e['max'] is not None else ''} for {where}: {e['why']}".strip())
    return bad


def is_perf_counter(name):
    """A per-packet counter that comes from perf stat (tracepoints and kprobes are 'group:event')."""
    ev = name.split("/")[0]
    return ":" in ev or ev in ("cpu-clock", "task-clock", "context-switches", "cycles", "instructions")


def derived(counters, perf, value):
    """Per-packet normalisations and guest CPU use: what explains a change is often a count per packet.

    Packets are the sender NIC's tx_packets (a GSO superpacket on virtio counts once)."""
    pkts = counters.get("a.link.tx_packets") or 0
    out = {"tx_packets": pkts, "rx_packets": counters.get("b.link.rx_packets")}
    ticks = {k[5:]: v for k, v in counters.items() if k.startswith("stat.")}
    total = sum(ticks.values())
    busy = total - ticks.get("idle", 0) - ticks.get("iowait", 0) if total else None
    if total:
        out["cpu_busy_pct"] = round(100 * busy / total, 1)
        out["softirq_pct"] = round(100 * ticks.get("softirq", 0) / total, 1)
    if pkts:
        for ev, n in perf.items():
            if isinstance(n, (int, float)) and ev != "cpu-clock":
                out[f"{ev}/pkt"] = round(n / pkts, 4)
        if busy is not None:
            out["cpu-ns/pkt"] = round(busy * 1e7 / pkts, 1)  # ticks are 1/100 s
        if counters.get("a.link.tx_bytes"):
            out["bytes/pkt"] = round(counters["a.link.tx_bytes"] / pkts, 1)
        if value.get("cpu_ns_per_packet"):
            # the sender's own CPU time per packet (xsk_tx -p): guest instructions under icount shift=0
            out["sender-cpu-ns/pkt"] = value["cpu_ns_per_packet"]
        if counters.get("guest.run_ns"):
            # guest ns per packet over the measured step; under icount shift=0 these are instructions
            out["guest-ns/pkt"] = round(counters["guest.run_ns"] / pkts, 1)
    return out


@dataclass
class Cell:
    """One planned measurement: its number is its identity across --resume."""

    n: int
    block: int       # which boot (round x kernel) runs it
    kernel: int      # index into the run's kernels
    rep: int
    link: object
    params: dict


def parse_shard(shard):
    """'I/N' -> (I, N) with 1 <= I <= N."""
    try:
        i, n = (int(x) for x in shard.split("/"))
    except (AttributeError, ValueError):
        raise ConfigError(f"--shard {shard!r}: expected I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {shard}: I must be between 1 and N")
    return i, n


def shard_cells(cells, shard):
    """The cells of shard I/N: every N-th cell from the I-th, so each shard sees every variant."""
    if not shard:
        return cells
    i, n = parse_shard(shard)
    return [c for c in cells if (c.n - 1) % n == i - 1]


def plan(tc, n_kernels, links, rounds):
    """Every cell of the run in execution order; numbering is stable for a given testcase and options."""
    cells, n = [], 0
    for b, (k, reps) in enumerate(schedule(n_kernels, tc.repeat, rounds)):
        for rep in reps:
            for link in links:
                for params in rotate(tc.cells(), rep):
                    n += 1
                    cells.append(Cell(n, b, k, rep, link, params))
    return cells


def run_testcase(tc, opts: RunOptions, say=print, resume=None):
    """Run every cell of `tc` on every kernel (or, with `resume`, the cells that run dir lacks).

    Returns the RunDir. Records are on disk the moment they exist, whatever happens after."""
    check_tools(tc.requires)
    narrow(tc, opts)
    if opts.duration:
        tc.duration, tc.timeout = opts.duration, 3 * opts.duration + 60
    tc.repeat = opts.repeat or tc.repeat
    kernels = [resolve_kernel(k, say=say) for k in (opts.kernels or tc.kernels or [None])]
    names = [k.name for k in kernels]
    if len(set(names)) != len(names):
        raise ConfigError(f"two --kernel options name the same kernel: {', '.join(names)}")
    if opts.mode not in MODES:
        raise ConfigError(f"--mode {opts.mode!r}: known modes: {', '.join(MODES)}")
    deterministic = opts.mode == "deterministic"
    if deterministic and opts.accel == "kvm":
        raise ConfigError("--mode deterministic counts instructions with TCG's icount: it cannot use KVM")
    accel, accel_info = ("tcg", {"mode": "deterministic"}) if deterministic else choose_accel(kernels[0], opts.accel, say=say)
    links = make_links(tc.links)
    rounds = opts.rounds or (2 if len(kernels) > 1 else 1)
    cfg = VMConfig(accel=accel, cpus=1 if deterministic else opts.cpus, memory=opts.memory, append=list(opts.append),
                   backend=opts.backend or default_backend(), boot_timeout=opts.boot_timeout,
                   cpu_model=opts.cpu_model or (DETERMINISTIC_CPU if deterministic else None), icount=deterministic)
    if deterministic:
        say(f"dplab: deterministic mode: TCG single-threaded, -icount shift=0 (1 guest ns = 1 instruction), 1 vCPU, "
            f"-cpu {cfg.cpu_model}; every rate is also reported as guest instructions per packet")
    cells = shard_cells(plan(tc, len(kernels), links, rounds), opts.shard)
    if resume is None:
        rd = RunDir.create(opts.runs_root, tc.name)
        rd.update_manifest(testcase={"path": str(tc.path), "name": tc.name, "text": tc.text, "duration": tc.duration,
                                     "repeat": tc.repeat, "rounds": rounds, "cells": tc.cells(), "planned": len(cells),
                                     "shard": opts.shard},
                           options=asdict(opts), kernels=[k.describe() for k in kernels], accel=accel,
                           accel_info=accel_info, host=host_info(), mode=opts.mode, status="running")
    else:
        rd = resume
        done = {r["cell"] for r in rd.results() if r.get("status") in ("ok", "failed", "crash") and not r.get("retried")}
        cells = [c for c in cells if c.n not in done]
        rd.update_manifest(status="running", resumed=rd.manifest.get("resumed", []) + [now_iso()])
        say(f"dplab: resuming {rd.id}: {len(cells)} cells missing")
    say(f"dplab: run {rd.id}: kernels {', '.join(names)}, accel {accel}, links {', '.join(l.name for l in links)}, "
        f"backend {cfg.backend}, {tc.repeat} repeats x {len(tc.cells())} cells x {len(links)} links")
    state = {"status": "ok"}
    try:
        for b in dict.fromkeys(c.block for c in cells):
            todo = [c for c in cells if c.block == b]
            run_block(tc, kernels[todo[0].kernel], todo, cfg, rd, state, say)
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        rd.update_manifest(status=status, error=str(e) or type(e).__name__, ended=now_iso())
        raise
    rd.update_manifest(status=state["status"], ended=now_iso())
    return rd


def narrow(tc, opts):
    """Apply --links / --axis: run part of a testcase without editing it (recorded in the manifest)."""
    from .vm.topology import NIC_MODELS
    for m in opts.links:
        if m not in NIC_MODELS:
            raise ConfigError(f"--links {m}: known NIC models: {', '.join(NIC_MODELS)}")
    if opts.links:
        tc.links = list(opts.links)
    for axis, values in opts.axes.items():
        if axis not in tc.axes:
            raise ConfigError(f"--axis {axis}: {tc.path} has axes {', '.join(tc.axes) or '(none)'}")
        tc.axes[axis] = list(values)


MAX_REBOOTS = 2


def run_block(tc, kernel, cells, cfg, rd, state, say):
    """Boot `kernel` and measure `cells`. A guest that dies mid-measurement (panic, QEMU killed) fails
    that cell with the reason and is booted again for the rest, at most MAX_REBOOTS times. A failure
    to boot at all ends the run at once (with the console quoted)."""
    links = list(dict.fromkeys(c.link for c in cells))
    todo = list(cells)
    attempts = {}
    boots = 0
    while todo:
        boots += 1
        if boots > 1 + MAX_REBOOTS:
            raise GuestError(f"{kernel.name}: guest died {boots - 1} times; {len(todo)} cells not measured "
                             f"(lab run --resume {rd.path} measures them later)")
        if boots > 1:
            state["status"] = "partial"
            say(f"dplab: {kernel.name}: guest died; booting again for the {len(todo)} remaining cells")
        with VM(kernel, rd, links, cfg, say=say) as vm:
            g = boot_setup(vm, tc, kernel, links, rd, say)
            while todo:
                cell = todo.pop(0)
                alive, again = measure_with_retry(vm, g, tc, kernel, cell, rd, state, say, first=attempts.get(cell.n, 1))
                if again:  # the guest died under an ordinary failure: retry the cell once on the next boot
                    attempts[cell.n] = 2
                    todo.insert(0, cell)
                if not alive:
                    break


def boot_setup(vm, tc, kernel, links, rd, say):
    say(f"dplab: {kernel.name} up in {vm.boot_seconds:.1f}s")
    g = vm.guest
    vm.wire_links()
    facts = guest_facts(g, links)
    if vm.cfg.icount:
        # every perf event hit runs code in the guest, which icount would charge to the workload
        say("dplab: deterministic mode: no perf stat or kprobes around the workload (their work would count as its instructions)")
        facts.update(kprobes_missing=[], events=[])
    else:
        kprobes, missing = setup_kprobes(g, tc.kprobes)
        if missing:
            say(f"dplab: {kernel.name}: no kprobe possible on {', '.join(missing)} (inlined or absent): not counted")
        facts.update(kprobes_missing=missing, events=list(tc.perf_events) + (list(tc.hw_events) if facts["pmu"] else []) + kprobes)
    rd.update_manifest(guests={**rd.manifest.get("guests", {}), kernel.name: facts})
    if not facts["pmu"]:
        say(f"dplab: guest has no PMU ({vm.cfg.accel}): hardware events {', '.join(tc.hw_events)} unavailable")
    vm.facts = facts
    return g


def measure_with_retry(vm, g, tc, kernel, cell, rd, state, say, first=1):
    """Measure one cell, retrying once after an ordinary failure (both records kept, the pair marked flaky).
    Returns (guest still usable, retry this cell on the next boot)."""
    for attempt in range(first, 3):
        rec = base_record(tc, kernel, cell, rd, vm)
        rec["attempt"] = attempt
        label = f"  cell {cell.n:3d} {kernel.name[:14]:14s} {cell.link.name:8s} {fmt_params(cell.params):24s}"
        try:
            value, counters, perf, elapsed = measure_cell(g, tc, cell.link, cell.params, cell.n, rd, vm.facts["events"],
                                                          vm.cfg.mode)
        except GuestCrash as e:
            rec.update(status="crash", error=str(e), fingerprint=e.report.fingerprint)
            rd.append_result(rec)
            state["status"] = "partial"
            say(f"{label} CRASH {e.report.kind}: {e.report.headline[:80]} [{e.report.fingerprint}]")
            return vm.alive(), False
        except (GuestError, LabError) as e:
            rec.update(status="failed", error=str(e))
            if attempt == 2:
                rd.append_result(rec)
                state["status"] = "partial"
                say(f"{label} FAILED: {str(e).splitlines()[0]}")
                return vm.alive(), False
            rec["retried"] = True
            rd.append_result(rec)
            say(f"{label} failed ({str(e).splitlines()[0][:60]}), retrying once")
            if not vm.alive():
                return False, True
            continue
        if isinstance(value.get("unit"), str):  # a tool that says what its value counts (xsk_tx -p: pkts/cpu-s)
            rec["unit"] = value.pop("unit")
        rec.update(status="ok", value=value.pop("value"), extra=value, counters=counters, perf=perf,
                   perf_unavailable=[] if vm.facts["pmu"] else list(tc.hw_events),
                   derived=derived(counters, perf, value), elapsed=round(elapsed, 3), flaky=attempt == 2)
        bad = check_expectations(rec, tc.expect)
        if bad:
            state["status"] = "partial"
            rec.update(status="failed", error="expectation failed: " + "; ".join(bad))
            say(f"{label} {rec['value']:.4g} {rec['unit']} EXPECTATION FAILED: {'; '.join(bad)}")
        else:
            say(f"{label} {rec['value']:.4g} {rec['unit']}" + ("  (flaky: passed on retry)" if attempt == 2 else ""))
        rd.append_result(rec)
        return True, False
    return vm.alive(), False


def base_record(tc, kernel, cell, rd, vm):
    return {"run_id": rd.id, "cell": cell.n, "testcase": tc.name, "link": cell.link.name,
            "nic_model": cell.link.model.name, "params": cell.params, "repeat_index": cell.rep,
            "kernel": {"name": kernel.name, "release": kernel.release, "sha256": kernel.sha256,
                       "build_key": kernel.build.get("key"), "patches": kernel.build.get("inputs", {}).get("patches", [])},
            "metric": tc.metric.name, "unit": tc.metric.unit, "higher_is_better": tc.metric.higher_is_better,
            "duration": tc.duration, "accel": vm.cfg.accel, "mode": vm.cfg.mode,
            "boot_seconds": vm.boot_seconds,
            "started": now_iso()}


def rotate(cells, rep):
    """Repeat r starts at cell r mod n (A B C, B C A, C A B, ...): every variant takes every position,
    so a carry-over from the cell before (TCP state, caches, a toggled feature) does not bias one variant."""
    k = rep % len(cells) if cells else 0
    return cells[k:] + cells[:k]


def fmt_params(params):
    return ",".join(f"{k}={v}" for k, v in params.items()) or "-"
