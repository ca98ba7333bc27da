"""Measuring cells in a booted environment.

Each cell: render setup -> counters before -> `perf stat -a` around the run step -> counters after
-> teardown; the record is appended to results.jsonl the moment it exists.
"""
import math
import time
from dataclasses import dataclass

from .errors import GuestCrash, GuestError, LabError
from .metrics import counters as ctr
from .metrics.delivery import delivery, loss_problem
from .metrics.derived import check_expectations, derived
from .metrics.parsers import PARSERS
from .metrics.perf import parse_perf_csv, perf_argv
from .metrics.profile import Symbols, attribute, parse_windows, per_packet, window_counts, window_unit
from .plan import fmt_params
from .results import untrusted
from .results.rundir import now_iso
from .vm.links import guest_describe_script
from .workloads.render import render


def guest_facts(env):
    """Drivers per NIC (ethtool -i), PMU presence: what the manifest says of the guest."""
    out = env.sh(guest_describe_script(env.links), timeout=60).stdout
    drivers, ns = {}, None
    for line in out.splitlines():
        if line.startswith("@@ "):
            ns = line[3:].strip()
            drivers[ns] = {}
        elif ns and ":" in line:
            k, v = line.split(":", 1)
            drivers[ns][k.strip()] = v.strip()
    pmu = env.run(["perf", "stat", "-x", ",", "-e", "instructions", "true"], check=False, timeout=60)
    has_pmu = pmu.rc == 0 and "not supported" not in pmu.stderr
    return {"nics": drivers, "pmu": has_pmu}


def kprobe_event(symbol):
    return symbol.replace(".", "_")


def setup_kprobes(env, symbols):
    """Register a kprobe event dplab:<name> per symbol; returns (events, missing symbols)."""
    if not symbols:
        return [], []
    script = "cd /sys/kernel/tracing\n" + "\n".join(
        f"if echo 'p:dplab/{kprobe_event(s)} {s}' >> kprobe_events 2>/dev/null; then echo ok {s}; else echo missing "
        f"{s}; fi"
        for s in symbols)
    out = env.sh(script, timeout=60).stdout.split("\n")
    missing = [line.split()[1] for line in out if line.startswith("missing ")]
    return [f"dplab:{kprobe_event(s)}" for s in symbols if s not in missing], missing


STEPS = ("setup", "run", "teardown")


def render_cell(tc, link, params, cell_guest, mode):
    """A cell's scripts {setup, run, teardown, collect}, rendered as the guest runs them (`cell_guest`: the
    cell's directory as guest commands see it); `lab debug` hands the same ones to a developer."""
    ctx = {"link": link.template_vars(), "params": {**tc.params, **params}, "duration": tc.duration,
           "cell_dir": cell_guest, "links": [link.template_vars()], "mode": mode.name}
    out = {step: render(getattr(tc, step), ctx, f"{tc.path}:{step}") for step in (*STEPS, "collect")}
    if mode.before_run:  # the mode's own preparation, outside the workload's window (modes.py)
        out["run"] = f"{mode.before_run}\n{out['run']}"
    return out


def parse_value(tc, stdout, mode):
    """The run step's output through the testcase's parser: a dict whose `value` is a finite number, else LabError
    naming the parser and what it got (the cell fails; its record is kept). The testcase's parser for `mode`."""
    parser = tc.parser_for(mode.name)
    try:
        value = PARSERS[parser](stdout)
    except LabError as e:
        raise LabError(f"parser {parser}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a parser meeting output it does not know: the cell's failure
        raise LabError(f"parser {parser}: {type(e).__name__}: {e}; output tail: {stdout[-300:]!r}") from None
    v = value.get("value") if isinstance(value, dict) else None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise LabError(f"parser {parser}: the workload's value is {v!r}, not a finite number; "
                       f"output tail: {stdout[-300:]!r}")
    return value


def measure_cell(env, tc, link, params, cell_no, rundir, events, mode):
    """One measurement: (value-dict, counters, perf, host seconds) or raises. Templates see `mode`
    (its name), so a testcase can measure differently where instructions, not seconds, are counted."""
    # The host's own files of the cell (scripts, the run step's output) live outside guest/, which the guest
    # writes: nothing it plants there is ever written through; what it wrote is read without following links.
    cell_host = rundir.path / "cells" / str(cell_no)
    cell_host.mkdir(parents=True, exist_ok=True)
    cell_rel = f"cells/{cell_no}"
    untrusted.make_dir(rundir.guest_dir, cell_rel)
    cell_guest = env.cell_dir(cell_no)  # where the cell's files are, as the commands see it
    scripts = render_cell(tc, link, params, cell_guest, mode)
    for step in STEPS:
        (cell_host / f"{step}.sh").write_text(scripts[step])
    collect = ctr.collect_script(scripts["collect"]) if tc.collect.strip() else ""

    def snapshot():
        return ctr.parse_snapshot(env.snapshot(link) + (env.sh(collect, timeout=60).stdout if collect else ""))

    try:
        if tc.setup.strip():
            env.sh(scripts["setup"], timeout=tc.timeout)
        pre = snapshot()
        t0 = time.monotonic()
        res = env.run(perf_argv(events, f"{cell_guest}/perf.csv", ["sh", "-ec", scripts["run"]]), timeout=tc.timeout)
        elapsed = time.monotonic() - t0
        post = snapshot()
    finally:
        if tc.teardown.strip():
            env.sh(scripts["teardown"], timeout=tc.timeout, check=False)
        env.fetch_cell(cell_no, rundir.guest_dir / cell_rel)
    (cell_host / "run.stdout").write_text(res.stdout)
    value = parse_value(tc, res.stdout, mode)
    perf = parse_perf_csv(untrusted.read_text(rundir.guest_dir, f"{cell_rel}/perf.csv", 1 << 20)) if events else {}
    counters = ctr.delta(pre, post)
    # the guest's own clock: instructions x 1e-9 s under icount shift=0
    counters["guest.run_ns"] = int(res.elapsed * 1e9)
    return value, counters, perf, elapsed


def cell_record(rundir, tc, k, link, cfg, cell, attempt, boot_seconds=0.0, boot=0):
    """A cell's record before its outcome: what was measured where, on which kernel, in which of the run's boots
    (`boot`: 1, 2, ... in the order the run opened its guests; 0 for a cell no guest took)."""
    return {"run_id": rundir.id, "cell": cell.n, "testcase": tc.name, "link": link.name,
            "nic_model": link.model.name, "params": cell.params, "repeat_index": cell.rep,
            "kernel": {"name": k.name, "release": k.release, "sha256": k.sha256, "build_key": k.build.get("key"),
                       "patches": k.build.get("inputs", {}).get("patches", []), "variant": k.variant,
                       **{f: k.build["inputs"][f] for f in ("commit", "subject") if k.build.get("inputs", {}).get(f)}},
            "metric": tc.metric.name, "unit": tc.metric.unit, "higher_is_better": tc.metric.higher_is_better,
            "duration": tc.duration, "accel": cfg.accel, "cpu_model": cfg.cpu, "mode": cfg.mode.name,
            "boot": boot, "boot_seconds": boot_seconds, "started": now_iso(), "attempt": attempt,
            **({"min_effect_pct": tc.min_effect[cfg.mode.name]} if cfg.mode.name in tc.min_effect else {})}


@dataclass
class Outcome:
    status: str    # the final record's status: ok | failed | crash
    alive: bool    # the guest can take the next cell
    again: bool    # the guest died under an ordinary failure: retry the cell once on the next boot


def why(err):
    """One line for the console: a failed guest command's own last word on stderr (what the testcase said),
    else the error's first line."""
    said = [ln for ln in getattr(err, "stderr", "").splitlines() if ln.strip()]
    return said[-1] if said else str(err).splitlines()[0]


class Measurer:
    """The cells of one boot: learns the guest (drivers, PMU), sets up perf events and kprobes, then
    measures each cell, retrying once after an ordinary failure (both records kept, the pair marked flaky)."""

    def __init__(self, env, tc, kernel, rundir, say=print, modules=(), boot=0):
        self.env, self.tc, self.kernel, self.rundir, self.say = env, tc, kernel, rundir, say
        self.boot = boot
        self.mode = env.cfg.mode
        say(f"dplab: {kernel.name} up in {env.boot_seconds:.1f}s" + (f" (boot {boot})" if boot else ""))
        if modules:  # options the testcase needs that this kernel builds as modules (runner.preflight)
            res = env.run(["modprobe", "-a", *modules], timeout=60)
            if res.rc != 0:
                raise GuestError(f"{kernel.name}: modprobe -a {' '.join(modules)} failed: {res.stderr.strip()[-300:]}")
            say(f"dplab: {kernel.name}: loaded {', '.join(modules)}")
        facts = guest_facts(env)
        if not self.mode.perf_around_workload:
            say(f"dplab: {self.mode.name} mode: no perf stat or kprobes around the workload (their work would count as "
                "its instructions)")
            facts.update(kprobes_missing=[], events=[])
        else:
            kprobes, missing = setup_kprobes(env, tc.kprobes)
            if missing:
                say(f"dplab: {kernel.name}: no kprobe possible on {', '.join(missing)} (inlined or absent): "
                    f"not counted")
            facts.update(kprobes_missing=missing,
                         events=list(tc.perf_events) + (list(tc.hw_events) if facts["pmu"] else []) + kprobes)
        self.symbols, self.profile_read = None, 0
        if env.cfg.profile:  # the guest's own symbol table: real addresses, KASLR or not
            kallsyms = env.run(["cat", "/proc/kallsyms"], timeout=60).stdout
            (rundir.path / "kallsyms").mkdir(exist_ok=True)
            slot = getattr(env, "slot", 0)  # guests at once (--jobs): each its own (KASLR)
            (rundir.path / "kallsyms" / f"{kernel.name}{f'-{slot}' if slot else ''}.txt").write_text(kallsyms)
            self.symbols = Symbols(kallsyms)
            facts["profile"] = str(env.profile_path.relative_to(rundir.path))
        rundir.update_manifest(guests={**rundir.manifest.get("guests", {}), kernel.name: facts})
        if not facts["pmu"]:
            say(f"dplab: guest has no PMU ({env.cfg.accel}): hardware events {', '.join(tc.hw_events)} unavailable")
        self.facts = facts

    def link(self, cell):
        """The environment's link of `cell` (a hardware target learns its ports' MACs and driver at connect)."""
        return next((l for l in self.env.links if l.index == cell.link.index), cell.link)

    def record(self, cell, attempt):
        return cell_record(self.rundir, self.tc, self.kernel, self.link(cell), self.env.cfg, cell, attempt,
                           self.env.boot_seconds, self.boot)

    def measure(self, cell, first=1):
        """Measure `cell` (attempt `first`, and a retry if that was the first); every record is appended."""
        label = (f"  cell {cell.n:3d} {self.kernel.name[:14]:14s} {self.link(cell).name:8s} "
                 f"{fmt_params(cell.params):24s}")
        for attempt in range(first, 3):
            rec = self.record(cell, attempt)
            try:
                value, counters, perf, elapsed = measure_cell(self.env, self.tc, self.link(cell), cell.params, cell.n,
                                                              self.rundir, self.facts["events"], self.mode)
            except GuestCrash as e:
                rec.update(status="crash", error=str(e), fingerprint=e.report.fingerprint)
                self.rundir.append_result(rec)
                self.say(f"{label} CRASH {e.report.kind}: {e.report.headline[:80]} [{e.report.fingerprint}]")
                return Outcome("crash", self.env.alive(), False)
            except (GuestError, LabError) as e:
                rec.update(status="failed", error=str(e))
                first_line = why(e)
                if attempt == 2:
                    self.rundir.append_result(rec)
                    self.say(f"{label} FAILED: {first_line}")
                    return Outcome("failed", self.env.alive(), False)
                rec["retried"] = True
                self.rundir.append_result(rec)
                self.say(f"{label} failed ({first_line[:100]}), retrying once")
                if not self.env.alive():
                    return Outcome("failed", False, True)
                continue
            return self._finish(rec, label, value, counters, perf, elapsed, attempt)
        return Outcome("failed", self.env.alive(), False)

    def profile(self, value):
        """The run step's window of the instruction profiler: {"window_insns", "packets" (the count of `per`, a
        profile.UNITS key), "per", "functions": {fn: insn per unit}}; None when not profiling or no window."""
        if not self.symbols or not self.env.profile_path.exists():
            return None
        with open(self.env.profile_path) as f:
            f.seek(self.profile_read)
            text = f.read()
        windows = parse_windows(text)
        if not windows:
            return None
        self.profile_read += len(text[:text.rindex("\nE\n") + 3].encode())
        per, packets = window_unit(value)
        w = windows[-1]  # the setup's warm-up marks windows too: the run step's is the last
        functions = per_packet(attribute(w, self.symbols), packets)
        return {"window_insns": w.total, "packets": packets, "per": per, "functions": functions}

    def _finish(self, rec, label, value, counters, perf, elapsed, attempt):
        if isinstance(value.get("unit"), str):  # a tool that says what its value counts (xsk_tx -p: pkts/cpu-s)
            rec["unit"] = value.pop("unit")
        prof = self.profile(value)
        if prof:
            rec["profile"] = prof
        rec.update(status="ok", value=value.pop("value"), extra=value, counters=counters, perf=perf,
                   perf_unavailable=[] if self.facts["pmu"] else list(self.tc.hw_events),
                   derived={**derived(counters, perf, value),
                            **(window_counts(prof, self.env.cfg.mode.history_functions) if prof else {})},
                            elapsed=round(elapsed, 3), flaky=attempt == 2)
        d = delivery(value, counters)
        if d is not None and self.env.cfg.mode.name in (self.tc.loss.get("receiver_down_in") or ()):
            rec["delivery"], d = {"source": d.source, "sent": d.sent, "unchecked": "the receiver is down in this "
                                  "mode (the testcase's loss: receiver_down_in)"}, None
        elif d is not None:
            rec["delivery"] = d.as_dict()
        lost = loss_problem(d, counters, self.tc.loss)
        bad = check_expectations(rec, self.tc.expect)
        if lost:
            bad = [f"packets lost: {lost}"] + bad
        if bad:
            rec.update(status="failed", error="expectation failed: " + "; ".join(bad))
            self.say(f"{label} {rec['value']:.4g} {rec['unit']} EXPECTATION FAILED: {'; '.join(bad)}")
        else:
            flaky = "  (flaky: passed on retry)" if attempt == 2 else ""
            self.say(f"{label} {rec['value']:.4g} {rec['unit']}{flaky}")
        self.rundir.append_result(rec)
        return Outcome(rec["status"], True, False)
