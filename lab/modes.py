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
    headlines: tuple = ()         # derived values that headline a record, the first one present wins
    profiles: bool = False        # per-function instruction counts (tools/insn_plugin.c) by default
    sync_devices: bool = False    # NIC models' sync_opts (vm/links.py): transmit at fixed instruction counts
    history_functions: tuple = ()  # functions whose count is state inherited from before the window (below)
    gates: bool = False           # its records gate the nightly by default (a verdict host load cannot move)
    on_hardware: bool = True      # a hardware target can measure in it (no QEMU there)
    kernel_args: tuple = ()       # the guest kernel's command line, before the user's --append
    parallel: bool = False        # guests measure at once by default (--jobs = cores): records host load cannot move
    guest_per_link: bool = False  # each link's cells in guests with that link alone (another NIC's timers stay out)
    settle_uptime_s: int = 0      # a guest idles until its uptime is this many seconds before anything is measured
    before_run: str = ""          # shell at the start of every run step, before the workload opens its window
    guest_timeout_scale: float = 1.0  # a command's timeout inside the guest is this many times its host seconds

    def describe(self):
        return {"name": self.name, "qemu_args": list(self.qemu_args), "cpus": self.cpus, "cpu_model": self.cpu_model,
                "min_effect_pct": self.min_effect_pct, "settle_uptime_s": self.settle_uptime_s,
                "before_run": self.before_run, "guest_timeout_scale": self.guest_timeout_scale}


WALLCLOCK = Mode(
    name="wallclock",
    summary="rates by the guest clock (TCG here, KVM elsewhere)",
    accels=("kvm", "tcg"),
)

# -cpu max (ERMS), 1 vCPU, single-threaded TCG: why, in docs/measurements.md.
DETERMINISTIC = Mode(
    name="deterministic",
    summary="TCG single-threaded, -icount shift=0 (1 guest ns = 1 instruction), 1 vCPU, -cpu max",
    accels=("tcg",),
    qemu_args=("-icount", "shift=0,sleep=off"),
    cpus=1,
    tcg_single_thread=True,
    cpu_model="max",
    min_effect_pct=0.3,           # headline counts repeat within 0.05 % (boots, host load): 0.3 % is a real change
    perf_around_workload=False,   # every event hit is guest code: it would count as the workload's
    host_time_counters=False,     # guest time is instructions: CPU % and ticks do not mean host time
    resolution_pct=0.05,
    headlines=("insn/pkt", "sender-cpu-ns/pkt"),
    profiles=True,
    sync_devices=True,
    # SLUB's slow paths depend on what the guest did before the window: outside the headline, still in the
    # profile and in "slab-slow insn/pkt" (docs/measurements.md)
    history_functions=("___slab_alloc", "__slab_free", "put_cpu_partial"),
    gates=True,
    on_hardware=False,
    # the vmstat fold (every second by default) lands in a short window or not depending on when the host's
    # request arrived: once an hour instead; khugepaged's scan (every 10 s of guest time) collapsing a huge page
    # clears 512 pages in one window and not the next: no transparent huge pages (docs/measurements.md)
    kernel_args=("sysctl.vm.stat_interval=3600", "transparent_hugepage=never"),
    parallel=True,
    # with both links in one guest, e1000e's watchdog (every 2 s: PHY reads, `delay_tsc`) fell in some virtio windows
    guest_per_link=True,
    # the RNG reseeds at half the uptime until 120 s of it (then once a minute): the first cells of a boot paid
    # blake2s/chacha in their window (tunnel: +0.6 %). Idle guest time costs nothing here (icount sleep=off)
    settle_uptime_s=125,
    # then once a minute of guest time, which idle waits fast-forward: the per-cpu random batch that ran out in a
    # window reseeded there (blake2s) when the seed was old. Read before the window, the reseed happens here
    before_run="head -c 64 /dev/urandom > /dev/null",
    # idle guest time runs ahead of host time (icount sleep=off: 123 s of it in 0.8 s of host time): a guest-side
    # timeout fired on host latency (a 9p read under load: `perf stat true` "took" 280 s in 1.8 s). The host's own
    # deadline, the timeout in host seconds (+15 s), is what bounds a command in this mode
    guest_timeout_scale=1000.0,
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
