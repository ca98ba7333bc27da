"""Run a testcase: resolve the kernel, choose the accelerator, boot, wire links, measure every cell.

Each cell: render setup -> counters before -> `perf stat -a` around the run step -> counters after
-> teardown; the record is appended to results.jsonl the moment it exists.
"""
import time
from dataclasses import dataclass, field

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
from .vm.topology import default_backend, guest_describe_script, guest_setup_script
from .workloads.render import render


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


def measure_cell(guest, tc, link, params, cell_no, rundir, events):
    """One measurement. Returns (value-dict, counters, perf) or raises."""
    cell_guest = f"/lab/cells/{cell_no}"
    (rundir.guest_dir / "cells" / str(cell_no)).mkdir(parents=True, exist_ok=True)
    ctx = {"link": link.template_vars(), "params": {**tc.params, **params}, "duration": tc.duration,
           "cell_dir": cell_guest, "links": [link.template_vars()]}
    scripts = {step: render(getattr(tc, step), ctx, f"{tc.path}:{step}") for step in ("setup", "run", "teardown")}
    for step, text in scripts.items():
        (rundir.guest_dir / "cells" / str(cell_no) / f"{step}.sh").write_text(text)
    snap = ctr.snapshot_script(link)
    try:
        if tc.setup.strip():
            guest.sh(scripts["setup"], timeout=tc.timeout)
        pre = ctr.parse_snapshot(guest.sh(snap, timeout=60).stdout)
        t0 = time.monotonic()
        res = guest.run(perf_argv(events, f"{cell_guest}/perf.csv", ["sh", "-ec", scripts["run"]]), timeout=tc.timeout)
        elapsed = time.monotonic() - t0
        post = ctr.parse_snapshot(guest.sh(snap, timeout=60).stdout)
    finally:
        if tc.teardown.strip():
            guest.sh(scripts["teardown"], timeout=tc.timeout, check=False)
    (rundir.guest_dir / "cells" / str(cell_no) / "run.stdout").write_text(res.stdout)
    value = PARSERS[tc.parser](res.stdout)
    perf = parse_perf_csv((rundir.guest_dir / "cells" / str(cell_no) / "perf.csv").read_text())
    counters = ctr.delta(pre, post)
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
              **{k: v for k, v in rec.get("params", {}).items()}}
    values = per_packet_counters(rec)
    bad = []
    for e in expect:
        if any(str(fields.get(k)) != str(v) for k, v in e["when"].items()):
            continue
        v = values.get(e["counter"])
        where = ", ".join(f"{k}={v}" for k, v in e["when"].items()) or "every record"
        if v is None:
            bad.append(f"{e['counter']} was not measured ({where}) {e['why']}".strip())
        elif (e["min"] is not None and v < e["min"]) or (e["max"] is not None and v > e["max"]):
            bad.append(f"{e['counter']} = {v:.4g}, expected {'>= ' + str(e['min']) if e['min'] is not None else ''}"
                       f"{' and ' if e['min'] is not None and e['max'] is not None else ''}"
                       f"{'<= ' + str(e['max']) if e['max'] is not None else ''} for {where}: {e['why']}".strip())
    return bad


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
    return out


def run_testcase(tc, opts: RunOptions, say=print):
    """Run every cell of `tc` on every kernel; return the RunDir. Records are on disk even if this raises."""
    check_tools(tc.requires)
    if opts.duration:
        tc.duration, tc.timeout = opts.duration, 3 * opts.duration + 60
    tc.repeat = opts.repeat or tc.repeat
    kernels = [resolve_kernel(k, say=say) for k in (opts.kernels or tc.kernels or [None])]
    names = [k.name for k in kernels]
    if len(set(names)) != len(names):
        raise ConfigError(f"two --kernel options name the same kernel: {', '.join(names)}")
    accel, accel_info = choose_accel(kernels[0], opts.accel, say=say)
    links = make_links(tc.links)
    rounds = opts.rounds or (2 if len(kernels) > 1 else 1)
    rd = RunDir.create(opts.runs_root, tc.name)
    cfg = VMConfig(accel=accel, cpus=opts.cpus, memory=opts.memory, append=list(opts.append),
                   backend=opts.backend or default_backend(), boot_timeout=opts.boot_timeout)
    rd.update_manifest(testcase={"path": str(tc.path), "name": tc.name, "text": tc.text, "duration": tc.duration,
                                 "repeat": tc.repeat, "rounds": rounds, "cells": tc.cells()},
                       kernels=[k.describe() for k in kernels], accel=accel, accel_info=accel_info,
                       host=host_info(), mode="wallclock", status="running")
    say(f"dplab: run {rd.id}: kernels {', '.join(names)}, accel {accel}, links {', '.join(l.name for l in links)}, "
        f"backend {cfg.backend}, {tc.repeat} repeats x {len(tc.cells())} cells x {len(links)} links")
    state = {"cell": 0, "status": "ok"}
    try:
        for k_idx, reps in schedule(len(kernels), tc.repeat, rounds):
            run_block(tc, kernels[k_idx], reps, links, cfg, rd, state, say)
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        rd.update_manifest(status=status, error=str(e) or type(e).__name__, ended=now_iso())
        raise
    rd.update_manifest(status=state["status"], ended=now_iso())
    return rd


def run_block(tc, kernel, reps, links, cfg, rd, state, say):
    """One boot of `kernel`: wire the links, then repeats x links x cells, interleaved."""
    with VM(kernel, rd, links, cfg, say=say) as vm:
        say(f"dplab: {kernel.name} up in {vm.boot_seconds:.1f}s")
        g = vm.guest
        g.sh(guest_setup_script(links), timeout=90)
        facts = guest_facts(g, links)
        rd.update_manifest(guests={**rd.manifest.get("guests", {}), kernel.name: facts})
        kprobes, missing = setup_kprobes(g, tc.kprobes)
        if missing:
            say(f"dplab: {kernel.name}: no kprobe possible on {', '.join(missing)} (inlined or absent): not counted")
        facts["kprobes_missing"] = missing
        rd.update_manifest(guests={**rd.manifest.get("guests", {}), kernel.name: facts})
        events = list(tc.perf_events) + (list(tc.hw_events) if facts["pmu"] else []) + kprobes
        if not facts["pmu"]:
            say(f"dplab: guest has no PMU ({cfg.accel}): hardware events {', '.join(tc.hw_events)} unavailable")
        cells = tc.cells()
        for rep in reps:
            for link in links:
                for params in rotate(cells, rep):
                    state["cell"] += 1
                    n = state["cell"]
                    rec = {"run_id": rd.id, "cell": n, "testcase": tc.name, "link": link.name,
                           "nic_model": link.model.name, "params": params, "repeat_index": rep,
                           "kernel": {"name": kernel.name, "release": kernel.release, "sha256": kernel.sha256,
                                      "build_key": kernel.build.get("key"), "patches": kernel.build.get("inputs", {}).get("patches", [])},
                           "metric": tc.metric.name, "unit": tc.metric.unit,
                           "higher_is_better": tc.metric.higher_is_better, "duration": tc.duration,
                           "accel": cfg.accel, "mode": "wallclock", "boot_seconds": vm.boot_seconds, "started": now_iso()}
                    label = f"  cell {n:3d} {kernel.name[:14]:14s} {link.name:8s} {fmt_params(params):24s}"
                    try:
                        value, counters, perf, elapsed = measure_cell(g, tc, link, params, n, rd, events)
                        rec.update(status="ok", value=value.pop("value"), extra=value, counters=counters, perf=perf,
                                   perf_unavailable=[] if facts["pmu"] else list(tc.hw_events),
                                   derived=derived(counters, perf, value), elapsed=round(elapsed, 3))
                        bad = check_expectations(rec, tc.expect)
                        if bad:
                            state["status"] = "partial"
                            rec.update(status="failed", error="expectation failed: " + "; ".join(bad))
                            say(f"{label} {rec['value']:.4g} {tc.metric.unit} EXPECTATION FAILED: {'; '.join(bad)}")
                        else:
                            say(f"{label} {rec['value']:.4g} {tc.metric.unit}")
                    except GuestCrash as e:
                        rec.update(status="crash", error=str(e), fingerprint=e.report.fingerprint)
                        rd.append_result(rec)
                        raise
                    except (GuestError, LabError) as e:
                        rec.update(status="failed", error=str(e))
                        if not vm.alive():
                            rd.append_result(rec)
                            raise
                        state["status"] = "partial"
                        say(f"{label} FAILED: {str(e).splitlines()[0]}")
                    rd.append_result(rec)


def rotate(cells, rep):
    """Repeat r starts at cell r mod n (A B C, B C A, C A B, ...): every variant takes every position,
    so a carry-over from the cell before (TCP state, caches, a toggled feature) does not bias one variant."""
    k = rep % len(cells) if cells else 0
    return cells[k:] + cells[:k]


def fmt_params(params):
    return ",".join(f"{k}={v}" for k, v in params.items()) or "-"
