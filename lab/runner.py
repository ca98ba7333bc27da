"""Run a testcase: resolve the kernels, choose the accelerator, then boot and measure block by block.

Planning lives in plan.py, measuring in measure.py, per-packet values and expectations in
metrics/derived.py; this module holds the run's state (run dir, status) and its reboots.
"""
import itertools
import os
import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

from .errors import ConfigError, GuestError
from .host import which
from .hostinfo import host_info
from .kernel.config import check_options
from .measure import Measurer, cell_record, render_cell
from .modes import get_mode
from .options import check
from .plan import apply_overrides, plan, shard_cells, work_units
from .progress import Progress
from .results.rundir import RunDir, now_iso
from .targets import provider_for
from .vm.env import BootSpec
from .vm.qemu import slot_cpus
from .workloads.kconfig import testcase_needs

MAX_REBOOTS = 2


@dataclass
class RunOptions:
    kernels: list = field(default_factory=list)  # specs; empty = the testcase's, else the Debian default
    source: str | None = None  # where kernels named by role are built from (None: Debian's tarball)
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
    mode: str = "wallclock"   # a name in lab/modes.py
    cpu_model: str | None = None
    links: list = field(default_factory=list)  # NIC models instead of the testcase's `links`
    axes: dict = field(default_factory=dict)   # axis -> values, replacing the testcase's (a subset run)
    profile: bool | None = None  # per-function instruction counts; None: the mode's default
    jobs: int | None = None      # guests at once; None: cores where the mode is `parallel` and the target allows
    target: str | None = None    # a hardware target in the hosts file instead of a guest (lab/remote)
    hosts: str = "hosts/lab.yaml"

    def __post_init__(self):
        check({k: v for k, v in asdict(self).items() if k != "target"})  # built from anything: checked the same

    def boot_spec(self, links):
        return BootSpec(links=links, mode=self.mode, accel=self.accel, cpus=self.cpus, memory=self.memory,
                        append=list(self.append), backend=self.backend, boot_timeout=self.boot_timeout,
                        cpu_model=self.cpu_model, profile=self.profile)


def load_run(run_dir):
    """(RunDir, Testcase as the run loaded it, RunOptions) of a `lab run` directory, for --resume and lab debug;
    ConfigError naming the file and what is wrong with a damaged or foreign one."""
    from .workloads import load_testcase
    rd = RunDir(run_dir)
    m = rd.manifest
    if not isinstance(m.get("options"), dict) or not isinstance(m.get("testcase"), dict) \
            or not {"path", "text"} <= set(m["testcase"]):
        raise ConfigError(f"{rd.path}/manifest.json: not a `lab run` directory's (no options and testcase text)")
    tc = load_testcase(m["testcase"]["path"], text=m["testcase"]["text"])
    try:
        opts = RunOptions(**m["options"])
    except TypeError as e:
        raise ConfigError(f"{rd.path}/manifest.json: options: {e}") from None
    return rd, tc, opts


def check_tools(tools):
    for t in ["qemu-system-x86_64", "busybox", "ip", "perf", "ethtool", "python3", *tools]:
        which(t)


def resume_mismatches(m, kernels, cfg):
    """What differs between a run's manifest and the set-up a --resume would measure with: kernels (by content),
    accelerator, CPU model. Each line names both."""
    then = {k.get("name"): k.get("sha256") or "" for k in m.get("kernels", [])}
    bad = [f"kernel {k.name}: sha256 {then.get(k.name, '(absent)')[:16]} in the manifest, {k.sha256[:16]} now"
           for k in kernels if then.get(k.name) != k.sha256]
    if m.get("accel") and m["accel"] != cfg.accel:
        bad.append(f"accelerator: {m['accel']} in the manifest, {cfg.accel} now")
    cpu = m.get("cpu_model") or (m.get("vm") or {}).get("cpu_model")
    if cpu and cpu != cfg.cpu:
        bad.append(f"CPU model: {cpu} in the manifest, {cfg.cpu} now")
    return bad


def preflight(tc, kernels, links, say=print):
    """The kernel options the planned cells need (workloads/kconfig.py), checked against each kernel's config
    before any boot: a missing one is a ConfigError naming it, the kernel and the fix. Returns {kernel name:
    [modules to load]} for options built as modules on a modular kernel."""
    need = testcase_needs(tc, links)
    out = {}
    for k in kernels:
        if not k.config:
            say(f"dplab: {k.name}: no kernel config next to its image: options not checked before booting")
            continue
        missing, mods = check_options(k.config, need, modular=k.modules_dir is not None)
        if missing:
            lines = [f"  {o} ({', '.join(need[o].why)})" for o in missing]
            raise ConfigError(f"kernel {k.name} ({k.config}) lacks options {tc.path} needs:\n" + "\n".join(lines)
                              + f"\nfix: lab kconfig {tc.path} > need.config; lab build --kconfig kconfigs/lab.config "
                              f"--kconfig need.config (or vng -b -f need.config)")
        out[k.name] = list(dict.fromkeys(m for o in mods for m in need[o].modules))
    return out


class Run:
    """One `lab run` (or its --resume): every cell of the plan on every kernel, records on disk as they exist."""

    def __init__(self, tc, opts, say=print, resume=None, provider=None):
        check_tools(tc.requires)
        get_mode(opts.mode)
        tc = apply_overrides(tc, opts.links, opts.axes, opts.duration, opts.repeat)
        self.tc, self.opts, self.say = tc, opts, say
        self.provider = provider or provider_for(opts)
        self.kernels, self.cfg, self.accel_info = self.provider.prepare(tc, say=say)
        names = [k.name for k in self.kernels]
        if len(set(names)) != len(names):
            raise ConfigError(f"two --kernel options name the same kernel: {', '.join(names)}")
        if self.cfg.mode.qemu_args:
            say(f"dplab: {self.cfg.mode.name} mode: {self.cfg.mode.summary}")
        self.jobs = opts.jobs or ((os.cpu_count() or 1) if self.cfg.mode.parallel and self.provider.parallel else 1)
        if self.jobs > 1 and not self.provider.parallel:
            raise ConfigError(f"--jobs {self.jobs}: a {self.provider.kind} target measures one block at a time")
        self.stop = False  # a block that failed to open or an interrupt: the other guests take no new cell
        rounds = opts.rounds or (2 if len(self.kernels) > 1 else 1)
        cells = plan(tc, len(self.kernels), self.cfg.links, rounds, self.cfg.mode.guest_per_link)
        self.cells = shard_cells(cells, opts.shard)
        for c in self.cells:  # a template that cannot render fails now, before any boot, naming the testcase
            render_cell(tc, c.link, c.params, f"/lab/cells/{c.n}", self.cfg.mode)
        self.modules = preflight(tc, self.kernels, self.cfg.links, say)
        self.status = "ok"
        self.boots = itertools.count(1)  # the run's boots, numbered as they open (records say which measured them)
        if resume is None:
            self.rd = RunDir.create(opts.runs_root, tc.name)
            self.rd.lock()
            self.rd.update_manifest(
                testcase={"path": str(tc.path), "name": tc.name, "text": tc.text, "duration": tc.duration,
                          "repeat": tc.repeat, "rounds": rounds, "cells": tc.cells(), "planned": len(self.cells),
                          "shard": opts.shard},
                reference=tc.reference, options=asdict(opts), kernels=[k.describe() for k in self.kernels],
                accel=self.cfg.accel,
                cpu_model=self.cfg.cpu,
                accel_info=self.accel_info, host=host_info(), mode=self.cfg.mode.name, status="running",
                jobs=self.jobs)
        else:
            self.rd = resume
            resume.lock()  # before reading what it holds: two resumes never measure the same cells
            bad = resume_mismatches(resume.manifest, self.kernels, self.cfg)
            if bad:
                resume.unlock()
                raise ConfigError(f"--resume {resume.path}: not the set-up this run started with, so its records would "
                                  f"not compare: " + "; ".join(bad))
            measured = resume.results()
            done = {r["cell"] for r in measured
                    if r.get("status") in ("ok", "failed", "crash") and not r.get("retried")}
            self.cells = [c for c in self.cells if c.n not in done]
            self.boots = itertools.count(1 + max((b for r in measured if type(b := r.get("boot")) is int), default=0))
            resume.update_manifest(status="running", resumed=resume.manifest.get("resumed", []) + [now_iso()])
            say(f"dplab: resuming {resume.id}: {len(self.cells)} cells missing")
        self.rd.update_manifest(preflight={"needs": {o: n.why for o, n in testcase_needs(tc, self.cfg.links).items()},
                                           "modules": self.modules})
        say(f"dplab: run {self.rd.id}: kernels {', '.join(names)}, accel {self.cfg.accel}, "
            f"links {', '.join(l.name for l in self.cfg.links)}, backend {self.cfg.backend}, "
            f"{tc.repeat} repeats x {len(tc.cells())} cells x {len(self.cfg.links)} links")

    def execute(self):
        self.progress = Progress(f"run {self.rd.id}: cells", len(self.cells))
        units = work_units(self.cells, self.jobs)
        try:
            if self.jobs > 1 and len(units) > 1:
                self.run_parallel(units)
            else:
                for unit in units:
                    self.run_block(self.kernels[unit.kernel], unit)
        except BaseException as e:
            status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            self.rd.update_manifest(status=status, error=str(e) or type(e).__name__, ended=now_iso())
            raise
        else:
            self.rd.update_manifest(status=self.status, ended=now_iso())
        finally:
            self.rd.unlock()
            self.progress.close()
        return self.rd

    def run_parallel(self, units):
        """Each unit in a guest of its own, `jobs` at once (a slot each: its host network, console); the first
        error stops the others taking new cells and is raised once they are down. A one-vCPU guest runs on a host
        CPU of its own (`slot_cfg`)."""
        slots = queue.Queue()
        for i in range(self.jobs):
            slots.put(i)

        def one(unit):
            slot = slots.get()
            try:
                if not self.stop:
                    self.run_block(self.kernels[unit.kernel], unit, slot, self.slot_cfg(slot))
            except BaseException:
                self.stop = True
                raise
            finally:
                slots.put(slot)
        with ThreadPoolExecutor(self.jobs) as ex:
            futures = [ex.submit(one, u) for u in units]
            errors = []
            for f in futures:
                try:
                    f.result()
                except BaseException as e:  # an interrupt here too: the guests finish their cell and go down
                    self.stop = True
                    errors.append(e)
        if errors:
            raise errors[0]

    def slot_cfg(self, slot):
        """The VM config of the guest in `slot`: a one-vCPU guest (deterministic mode's) on a host CPU of its own;
        a guest with more vCPUs runs where the host puts it (one CPU would serialise them)."""
        return replace(self.cfg, host_cpus=slot_cpus(slot)) if self.cfg.vcpus == 1 else self.cfg

    def run_block(self, kernel, unit, slot=0, cfg=None):
        """Open an environment on `kernel` and measure `unit`'s cells. An environment that dies mid-measurement (panic,
        QEMU killed, connection lost) fails that cell with the reason and is opened again for the rest, at most
        MAX_REBOOTS times. A failure to open it at all ends the run at once (with the console quoted); a kernel
        the provider cannot make ready fails its cells with why, and the run goes on. Guests sharing `unit` take its
        cells one at a time."""
        boots = 0
        while len(unit):
            boots += 1
            if boots > 1 + MAX_REBOOTS:
                raise GuestError(f"{kernel.name}: its environment died {boots - 1} times; {len(unit)} cells not "
                                 f"measured (lab run --resume {self.rd.path} measures them later)")
            if boots > 1:
                self.status = "partial"
                self.say(f"dplab: {kernel.name}: {self.provider.lost} for the {len(unit)} remaining cells")
            why = self.provider.ready(kernel, self.rd, say=self.say)
            if why:
                return self.fail_cells(kernel, unit.rest(), why)
            cfg = cfg or self.cfg
            if cfg.mode.guest_per_link:  # the links its cells use, each keeping its index (namespaces, MACs)
                used = {c.link.index for c in unit.cells()}
                cfg = replace(cfg, links=[lk for lk in cfg.links if lk.index in used])
            with self.provider.open(kernel, cfg, self.rd, say=self.say, slot=slot) as env:
                m = Measurer(env, self.tc, kernel, self.rd, self.say, modules=self.modules.get(kernel.name, []),
                             boot=next(self.boots))
                while not self.stop and (cell := unit.take()) is not None:
                    out = m.measure(cell, first=unit.attempts.get(cell.n, 1))
                    if not out.again:
                        self.progress.advance()
                    if out.status != "ok":
                        self.status = "partial"
                    if out.again:
                        unit.attempts[cell.n] = 2
                        unit.again(cell)
                    if not out.alive:
                        break

    def fail_cells(self, kernel, cells, err):
        """Records for `cells` that could not run on `kernel` (its environment could not be made ready)."""
        self.status = "partial"
        for c in cells:
            rec = cell_record(self.rd, self.tc, kernel, c.link, self.cfg, c, 1)
            rec.update(status="failed", error=err)
            self.rd.append_result(rec)
        self.progress.advance(len(cells))
        self.say(f"dplab: {kernel.name}: {len(cells)} cells failed: {err}")


def run_testcase(tc, opts: RunOptions, say=print, resume=None):
    """Run every cell of `tc` on every kernel (or, with `resume`, the cells that run dir lacks).

    Returns the RunDir. Records are on disk the moment they exist, whatever happens after. A provider that runs
    elsewhere (remote-lab) takes the whole run and brings its run directory back."""
    provider = provider_for(opts)
    if provider.runs_elsewhere and resume is None:
        return provider.run_elsewhere(tc, say=say)
    return Run(tc, opts, say=say, resume=resume, provider=provider).execute()
