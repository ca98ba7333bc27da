"""The boot environment: one factory for a booted guest with its links wired, used by every caller
(`lab boot`, `lab run`, the pytest plugin, the benchmarks).

In the spirit of the kernel selftests' NetDrvEpEnv: an object that hides *where* a command runs.
`GuestEnv.run/sh/ns_run` run it in the guest; each link end lives in its own network namespace.
"""
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..kernel import Kernel, resolve_kernel
from ..modes import get_mode
from .accel import choose_accel
from .links import check_backend, default_backend, make_links
from .qemu import VM, VMConfig


@dataclass
class BootSpec:
    """What a user asks to boot: the --kernel spec (or a Kernel), NIC models and VM options."""

    kernel: object = None
    links: list = field(default_factory=list)   # NIC model names (or NicModels)
    mode: str = "wallclock"
    accel: str | None = None
    cpus: int = 2
    memory: str = "2G"
    append: list = field(default_factory=list)
    backend: str | None = None
    boot_timeout: float = 180.0
    cpu_model: str | None = None
    extra_qemu: list = field(default_factory=list)
    profile: bool | None = None  # None: the mode's default


def vm_config(spec, kernel, say=print):
    """(VMConfig, accelerator evidence) for `spec`; `kernel` is what the KVM probe boots."""
    mode = get_mode(spec.mode)
    if spec.accel and spec.accel not in mode.accels:
        raise ConfigError(f"--mode {mode.name} runs on {' or '.join(mode.accels)} only, not --accel {spec.accel}")
    profile = mode.profiles if spec.profile is None else spec.profile
    if profile and not mode.profiles:
        raise ConfigError(f"--profile counts instructions under single-threaded TCG: use --mode deterministic, "
                          f"not {mode.name}")
    if len(mode.accels) == 1:
        accel, info = mode.accels[0], {"mode": mode.name, "probe": None}
    else:
        accel, info = choose_accel(kernel, spec.accel, say=say)
    cfg = VMConfig(accel=accel, cpus=spec.cpus, memory=spec.memory, append=[*mode.kernel_args, *spec.append],
                   backend=check_backend(spec.backend or default_backend()), boot_timeout=spec.boot_timeout,
                   cpu_model=spec.cpu_model, mode=mode, links=make_links(spec.links), extra_qemu=list(spec.extra_qemu),
                   profile=profile)
    return cfg, info


class GuestEnv:
    """A booted guest with its links wired. Context manager: boots on enter, always tears down on exit."""

    def __init__(self, kernel, cfg, rundir, say=print, wire=True, slot=0):
        self.kernel, self.cfg, self.rundir, self.say, self.wire = kernel, cfg, rundir, say, wire
        self.slot = slot  # which of the run's guests at once (--jobs): its own host network and console
        self.vm = None
        self.timings = {}  # phase -> seconds: the VM's (initramfs ... teardown), wire

    @property
    def links(self):
        return self.cfg.links

    @property
    def guest(self):
        return self.vm.guest

    @property
    def boot_seconds(self):
        return self.vm.boot_seconds

    @property
    def console(self):
        return self.vm.console

    @property
    def profile_path(self):
        """The instruction profiler's output (cfg.profile)."""
        return self.vm.profile_path

    def alive(self):
        return self.vm is not None and self.vm.alive()

    def run(self, argv, **kw):
        return self.vm.guest.run(argv, **kw)

    def sh(self, script, **kw):
        return self.vm.guest.sh(script, **kw)

    def ns_run(self, ns, argv, **kw):
        return self.vm.guest.ns_run(ns, argv, **kw)

    def cell_dir(self, n):
        """A cell's directory as guest commands see it: the run dir's guest/cells/N, shared over 9p."""
        return f"/lab/cells/{n}"

    def fetch_cell(self, n, host_dir):
        """Nothing to fetch: the guest wrote into the host's run dir."""

    def snapshot(self, link):
        """Counter sections of both ends of `link` and of its host side (lab/metrics/counters.py parses them)."""
        return self.vm.guest.snapshot({side: link.ns(side) for side in "ab"},
                                      link.dev("a")) + self.vm.net.snapshot(link)

    def __enter__(self):
        self.vm = VM(self.kernel, self.rundir, self.cfg, say=self.say, slot=self.slot)
        self.vm.__enter__()
        try:
            if self.wire:
                t0 = time.monotonic()
                self.vm.wire_links()
                self.timings["wire"] = round(time.monotonic() - t0, 3)
            settle = self.cfg.mode.settle_uptime_s
            if settle:  # idle until the guest's uptime reaches it (modes.py: what early boot still does)
                t0 = time.monotonic()
                self.vm.guest.run(["sh", "-c", f"read up _ < /proc/uptime; s=$(({settle} - ${{up%.*}})); "
                                              f"[ $s -le 0 ] || sleep $s"], timeout=settle + 60)
                self.timings["settle"] = round(time.monotonic() - t0, 3)
        except BaseException:
            self.vm.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.vm.__exit__(*exc)
        self.timings = {**self.vm.timings, **self.timings}
        return False


def guest_setup(tc, opts, say=print, accel=None):
    """(kernels, VMConfig, accelerator evidence) of a run in guests here; `accel`: the accelerator to take when
    `opts` names none (lab debug re-planning a run: the run's, without a second KVM probe)."""
    specs = opts.kernels or tc.kernels or ["stock" if opts.source else None]  # a source: its stock build, not Debian's
    kernels = [resolve_kernel(k, say=say, source=opts.source) for k in specs]
    spec = opts.boot_spec(tc.links)
    spec.accel = spec.accel or accel
    backend, append = tc.boot_for(spec.mode)
    spec.backend, spec.append = spec.backend or backend, [*append, *spec.append]
    cfg, info = vm_config(spec, kernels[0], say=say)
    return kernels, cfg, info


@contextmanager
def boot(spec, rundir, say=print, wire=True):
    """Resolve `spec.kernel`, choose the accelerator, boot and wire: yields the GuestEnv."""
    t0 = time.monotonic()
    kernel = spec.kernel if isinstance(spec.kernel, Kernel) else resolve_kernel(spec.kernel, say=say)
    cfg, info = vm_config(spec, kernel, say=say)
    resolved = round(time.monotonic() - t0, 3)
    rundir.update_manifest(kernel=kernel.describe(), accel=cfg.accel, accel_info=info, mode=cfg.mode.name)
    env = GuestEnv(kernel, cfg, rundir, say=say, wire=wire)
    env.timings["resolve"] = resolved
    with env:
        yield env
