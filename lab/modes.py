"""Measurement modes: what each one asks of QEMU, what it may collect and what it calls significant.

Behaviour as data (TuxMake's way): every place that differs by mode reads a field of `Mode` here,
never compares mode names. Records and manifests carry `Mode.name`.
"""
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Mode:
    name: str
    summary: str
    accels: tuple            # accelerators the mode can run on
    qemu_args: tuple = ()    # appended to QEMU's argv
    cpus: int | None = None  # forced vCPU count (None: the user's --cpus)
    tcg_single_thread: bool = False  # MTTCG cannot run icount
    cpu_model: str | None = None  # default -cpu (None: max under TCG, host under KVM)
    min_effect_pct: float = 2.0   # the smallest change a verdict calls faster/slower
    perf_around_workload: bool = True  # perf stat and kprobes run around the measured step
    host_time_counters: bool = True    # CPU busy %, ticks and ns per packet mean something
    resolution_pct: float = 0.5   # the smallest spread a repeat series can honestly show (statistics floor)
    headline: str = ""            # derived value that headlines a record when the workload measures it
    profiles: bool = False        # per-function instruction counts (tools/insn_plugin.c) by default

    def describe(self):
        return {"name": self.name, "qemu_args": list(self.qemu_args), "cpus": self.cpus, "cpu_model": self.cpu_model,
                "min_effect_pct": self.min_effect_pct}


WALLCLOCK = Mode(
    name="wallclock",
    summary="rates by the guest clock (TCG here, KVM elsewhere)",
    accels=("kvm", "tcg"),
)

# Calibrated against seed 003 (README, deterministic mode): with ERMS the kernel copies with `rep movsb`,
# which icount charges per byte, and the page/copy ratios land within 8 % of the hardware's on average;
# without ERMS (max,-erms,-fsrm or Nehalem: `rep movsq`, per 8 bytes) copies look almost free (23 % off).
# With 2 vCPUs and shift=0 the guest stops at SMP bring-up: 1 vCPU. MTTCG cannot run icount: single thread.
DETERMINISTIC = Mode(
    name="deterministic",
    summary="TCG single-threaded, -icount shift=0 (1 guest ns = 1 instruction), 1 vCPU, -cpu max",
    accels=("tcg",),
    qemu_args=("-icount", "shift=0,sleep=off"),
    cpus=1,
    tcg_single_thread=True,
    cpu_model="max",
    min_effect_pct=1.0,           # instruction counts repeat within ~0.5 %: 1 % is a real change there
    perf_around_workload=False,   # every event hit is guest code: it would count as the workload's
    host_time_counters=False,     # guest time is instructions: CPU % and ticks do not mean host time
    resolution_pct=0.05,
    headline="sender-cpu-ns/pkt",
    profiles=True,
)

MODES = {m.name: m for m in (WALLCLOCK, DETERMINISTIC)}
DEFAULT = WALLCLOCK


def get_mode(name):
    """The Mode called `name` (a Mode passes through); ConfigError naming the known ones."""
    if isinstance(name, Mode):
        return name
    if name is None:
        return DEFAULT
    try:
        return MODES[name]
    except KeyError:
        raise ConfigError(f"--mode {name!r}: known modes: {', '.join(MODES)}") from None


def record_mode(rec):
    """The Mode of a result record (records older than modes are wall clock)."""
    return MODES.get(rec.get("mode") or DEFAULT.name, DEFAULT)
