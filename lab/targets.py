"""Where a run's commands run: one provider per target kind, chosen once from the options (`provider_for`, the
one place that reads the kind), in the spirit of the kernel selftests' Remote classes and TuxMake's registry.

A provider `prepare`s a run (its kernels, the config the measurer reads, evidence for the manifest), `ready`s a
kernel (None, or why its cells cannot run: a host that cannot kexec into it), and `open`s the environment the
measurer drives (run, sh, ns_run, snapshot, cell files, alive, links, cfg). A provider that `runs_elsewhere`
takes the whole run instead (`run_elsewhere`; remote-lab: a runner on another machine). The runner, the
measurer, the pytest plugin and `lab debug` never ask which kind it is.
"""
from .errors import ConfigError, KexecError
from .modes import get_mode
from .remote.env import HardwareEnv, hardware_config
from .remote.hosts import get_target
from .remote.kexec import boot_kernel, host_kernels
from .remote.lab import run_remote
from .vm.env import GuestEnv, guest_setup


class GuestsHere:
    """Guests booted here in QEMU, one per block of cells, several at once (`parallel`: --jobs)."""
    kind, runs_elsewhere, debuggable, parallel = "guest", False, True, True
    lost = "guest died; booting again"

    def __init__(self, opts, target=None):
        self.opts = opts

    def prepare(self, tc, say=print, accel=None):
        return guest_setup(tc, self.opts, say=say, accel=accel)

    def ready(self, kernel, rundir, say=print):
        return None

    def open(self, kernel, cfg, rundir, say=print, slot=0):
        return GuestEnv(kernel, cfg, rundir, say=say, slot=slot)


class HardwareHost:
    """A host's two cabled ports over SSH, wall clock; its own kernel, or each --kernel through kexec."""
    kind, runs_elsewhere, debuggable, parallel = "hardware", False, False, False
    lost = "connection lost; connecting again"

    def __init__(self, opts, target):
        self.opts, self.target, self.down = opts, target, None
        if not get_mode(opts.mode).on_hardware:
            raise ConfigError(f"--target {target.name}: a host measures in wall-clock mode (no --mode {opts.mode})")
        if opts.kernels and target.kexec is None:
            raise ConfigError(f"--target {target.name}: --kernel needs a kexec: section in its entry ({target.where}); "
                              f"without one the host runs its own kernel")
        if opts.append and not opts.kernels:
            raise ConfigError(f"--target {target.name}: --append goes on the command line of a --kernel it kexecs into")

    def prepare(self, tc, say=print, accel=None):
        return (host_kernels(self.target, self.opts.kernels, say), hardware_config(self.target),
                {"target": self.target.name, "kind": self.target.kind})

    def ready(self, kernel, rundir, say=print):
        """kexec into `kernel` when the run names kernels (remote/kexec.py): None once it runs it, else why not
        (the serial log's tail included). A host that did not come back is gone for the rest of the run."""
        if not (self.target.kexec and self.opts.kernels):
            return None
        if self.down:
            return f"{self.target.name} is gone since earlier in this run: {self.down}"
        try:
            entry = boot_kernel(self.target, kernel, self.opts.append, say).describe()
        except KexecError as e:
            entry = {"kernel": kernel.name, "error": str(e)}
            if e.down:
                self.down = str(e).splitlines()[0]
        rundir.update_manifest(kexec=rundir.manifest.get("kexec", []) + [entry])
        return entry.get("error")

    def open(self, kernel, cfg, rundir, say=print, slot=0):
        return HardwareEnv(self.target, cfg, rundir, say=say)


class RemoteLabRunner:
    """The whole lab on another machine (remote/lab.py): its run directory comes back."""
    kind, runs_elsewhere, debuggable, parallel = "remote-lab", True, False, False

    def __init__(self, opts, target):
        self.opts, self.target = opts, target

    def run_elsewhere(self, tc, say=print):
        return run_remote(tc, self.opts, self.target, say=say)


KINDS = {"guest": GuestsHere, "hardware": HardwareHost, "remote-lab": RemoteLabRunner}


def provider_for(opts):
    """The provider of `opts`: guests here, or the hosts file's target `opts.target` by its kind."""
    if not opts.target:
        return GuestsHere(opts)
    t = get_target(opts.hosts, opts.target)
    return KINDS[t.kind](opts, t)
