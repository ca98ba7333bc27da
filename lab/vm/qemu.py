"""One QEMU guest: argv, launch, console watchdog, agent connection, guaranteed teardown.

The guest boots our initramfs (lab/guest/init.sh), which mounts the host root read-only over 9p,
the run's `guest/` directory read-write at /lab, and starts the agent (lab/guest/agent.py) on a
virtio-serial port backed by a unix socket in a private temp dir: no TCP port at all.
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import LabError
from ..guest import AGENT_FILES, GUEST_SOURCES
from ..guest.guest import Guest
from ..host import which
from ..kernel.initramfs import build_initramfs
from ..modes import DEFAULT, Mode
from ..paths import TOOLS_BIN
from ..results import untrusted
from .console import ConsoleWatcher
from .hide import describe as describe_view
from .hide import hidden_paths, host_view
from .links import HostNetwork, guest_setup_script, wiring_script

PROFILER = TOOLS_BIN / "libdplab-insn.so"
BASE_APPEND = ["console=ttyS0", "panic=-1", "rdinit=/init", "mitigations=off", "cryptomgr.notests=1",
               "8250.nr_uarts=1", "i8042.noaux", "i8042.nokbd", "tsc=reliable", "no_timer_check"]


@dataclass
class VMConfig:
    """Everything QEMU's argv is made of, besides the kernel and the run: `VM.argv()` needs nothing else."""

    accel: str = "tcg"
    cpus: int = 2
    memory: str = "2G"
    append: list = field(default_factory=list)
    backend: str = "tap"
    boot_timeout: float = 120.0
    cpu_model: str | None = None  # default: the mode's, else max (tcg) / host (kvm)
    mode: Mode = DEFAULT
    links: list = field(default_factory=list)  # Link objects
    extra_qemu: list = field(default_factory=list)
    profile: bool = False  # the instruction profiler plugin (single-threaded TCG only: deterministic mode)
    host_cpus: tuple = ()  # the host CPUs QEMU may run on (guests at once: `slot_cpus`); empty: any

    @property
    def vcpus(self):
        return self.mode.cpus or self.cpus

    @property
    def cpu(self):
        return self.cpu_model or self.mode.cpu_model or ("host" if self.accel == "kvm" else "max")

    @property
    def qemu_accel(self):
        """QEMU's -accel value: multi-threaded TCG with several vCPUs unless the mode needs one thread (icount)."""
        if self.accel == "kvm":
            return "kvm"
        return "tcg,thread=multi" if self.vcpus > 1 and not self.mode.tcg_single_thread else "tcg,thread=single"

    def describe(self):
        d = {k: v for k, v in asdict(self).items() if k not in ("mode", "links")}
        if self.profile:
            d["profiler"] = str(PROFILER)
        return {**d, "mode": self.mode.name, "cpus": self.vcpus, "cpu_model": self.cpu, "link_backend": self.backend,
                "links": [link.describe() for link in self.links]}


def qemu_value(v):
    """A value inside a QEMU option list (`-fsdev local,path=V`): commas doubled, as QEMU's option parser reads
    them; a value with a control character is refused."""
    v = str(v)
    if any(ord(c) < 32 for c in v):
        raise LabError(f"{v!r}: a control character in a value QEMU would read as an option: rename it")
    return v.replace(",", ",,")


def mapped_model(path):
    """QEMU's mapped security model for a guest-writable export: mapped-xattr where the file system keeps user
    xattrs, else mapped-file (metadata in hidden .virtfs_metadata files). Either way the host gets plain files."""
    try:
        os.setxattr(path, "user.dplab.probe", b"1")
        os.removexattr(path, "user.dplab.probe")
        return "mapped-xattr"
    except OSError:
        return "mapped-file"


def slot_cpus(slot):
    """The host CPU of the run's guest in `slot` when guests run at once: one each, in turn. A TCG guest's vCPU
    thread and QEMU's main loop hand each other work at every guest timer; two guests' four threads spread over
    the CPUs wait on each other's (docs/measurements.md)."""
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[slot % len(cpus)],)


def _preexec(mask, cpus=()):
    """In QEMU's child before exec: die with us, even on SIGKILL of the lab (PR_SET_PDEATHSIG), run on `cpus`
    (all: empty), and hide the host's secrets from the 9p export (vm/hide.py)."""
    def run():
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
        if cpus:
            os.sched_setaffinity(0, cpus)
        mask()
    return run


def stage_guest_dir(g, links):
    """What a guest finds at /lab: the agent, the project's tools (on PATH) and, with links, the wiring
    script stage 1 runs at boot (the NICs' carrier comes up while the rest boots: e1000e takes ~2.2 s).
    `g` was writable by an earlier guest of the run: each file is written afresh, never through what is there,
    unless it is exactly what would be written (a guest of the run running at once may be executing it)."""
    files = [(f, (GUEST_SOURCES / f).read_bytes(), 0o644) for f in AGENT_FILES]
    if TOOLS_BIN.is_dir():
        files += [(f"bin/{t.name}", t.read_bytes(), 0o755) for t in sorted(TOOLS_BIN.iterdir()) if t.is_file()]
    for name, data, mode in files:
        if not untrusted.holds(g, name, data, mode):
            untrusted.write_bytes(g, name, data, mode=mode)
    if links:  # stage 1 runs the one its kernel command line names (`dplab.links=`)
        untrusted.write_text(g, wiring_script(links), guest_setup_script(links))


class VM:
    """Context manager: boots on enter (returns self, with .guest ready), always tears down on exit."""

    def __init__(self, kernel, rundir, cfg: VMConfig, say=print, slot=0):
        self.kernel, self.slot = kernel, slot  # slot: one of several guests of a run at once (--jobs)
        self.rundir = rundir
        self.cfg = cfg
        self.say = say
        self.proc = None
        self.console = None
        self.guest = None
        self.tmp = None
        self.net = None
        self.boot_seconds = None
        self.profile_path = rundir.path / "profiles" / f"{time.strftime('%H%M%S')}-{id(self) & 0xffff:04x}.txt"
        self.timings = {}  # phase -> seconds: initramfs, host_net, qemu_to_agent, shutdown, teardown

    @property
    def tag(self):
        """The run id, and the slot after it for all but a run's first guest: QEMU's name, the host netns."""
        return self.rundir.id + (f"-{self.slot}" if self.slot else "")

    @property
    def console_log(self):
        return self.rundir.console_log if not self.slot else self.rundir.path / f"console-{self.slot}.log"

    # -- argv -------------------------------------------------------------------
    def argv(self, initrd, sock_path):
        c = self.cfg
        wiring = [f"dplab.links={wiring_script(c.links)}"] if c.links else []
        argv = [which("qemu-system-x86_64"), "-name", qemu_value(f"dplab-{self.tag}"), "-nodefaults",
                "-no-user-config",
                "-display", "none", "-no-reboot", "-machine", "q35", "-accel", c.qemu_accel, "-cpu", c.cpu,
                "-smp", str(c.vcpus), "-m", c.memory,
                "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
                "-kernel", str(self.kernel.image), "-initrd", str(initrd),
                "-append", " ".join(BASE_APPEND + wiring + list(c.append)),
                "-fsdev", f"local,id=hostroot,path={Path(sock_path).parent / 'view'},security_model=none,readonly=on,"
                "multidevs=remap",
                "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
                # mapped: what the guest makes (setuid bits, devices, links, owners) is only metadata in xattrs here
                "-fsdev",
                f"local,id=labrun,path={qemu_value(self.rundir.guest_dir)},security_model={mapped_model(self.rundir.guest_dir)}",
                "-device", "virtio-9p-pci,fsdev=labrun,mount_tag=labrun",
                "-device", "virtio-serial-pci,id=vser",
                "-chardev", f"socket,id=ctl,path={sock_path},server=on,wait=off",
                "-device", "virtserialport,bus=vser.0,chardev=ctl,name=dplab.ctl",
                "-device", "virtio-rng-pci"]
        if self.kernel.modules_dir:
            argv += ["-fsdev",
                     f"local,id=modules,path={qemu_value(self.kernel.modules_dir)},security_model=none,readonly=on",
                     "-device", "virtio-9p-pci,fsdev=modules,mount_tag=modules"]
        argv += list(c.mode.qemu_args)
        if c.profile:
            argv += ["-plugin", f"file={qemu_value(PROFILER)},out={qemu_value(self.profile_path)}"]
        for link in c.links:
            argv += link.qemu_args(c.backend, sync=c.mode.sync_devices)
        return argv + list(c.extra_qemu)

    # -- lifecycle --------------------------------------------------------------
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return self.proc.poll() if self.proc else None

    def stderr_tail(self, n=1500):
        """The end of what QEMU printed on stderr (its own start-up errors), for an error that says it exited."""
        try:
            data = (self.rundir.path / "qemu.stderr").read_bytes()[-n:]
        except OSError:
            return ""
        return data.decode(errors="replace").strip()

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _lap(self, phase, t0):
        now = time.monotonic()
        self.timings[phase] = round(now - t0, 3)
        return now

    def _start(self):
        t = time.monotonic()
        initrd = build_initramfs(self.kernel, drivers=dict.fromkeys(link.model.driver for link in self.cfg.links))
        with self.rundir.mutex:  # guests of the run starting at once (--jobs) stage one after the other
            stage_guest_dir(self.rundir.guest_dir, self.cfg.links)
        t = self._lap("initramfs", t)
        if self.cfg.profile:
            if not PROFILER.exists():
                raise LabError(f"the instruction profiler {PROFILER} is not built: make tools")
            self.profile_path.parent.mkdir(exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="dplab-")
        sock = Path(self.tmp) / "ctl.sock"
        self.net = HostNetwork(self.cfg.links, self.cfg.backend, self.tag).__enter__()
        t = self._lap("host_net", t)
        full = self.net.wrap(self.argv(initrd, sock))
        (Path(self.tmp) / "empty").write_text("")
        (Path(self.tmp) / "view").mkdir()
        self.rundir.update_manifest(qemu_argv=full, initramfs=str(initrd), vm=self.cfg.describe(),
                                    guest_view=describe_view(), hidden_from_guest=hidden_paths())
        t0 = time.monotonic()
        view = host_view(Path(self.tmp) / "view", Path(self.tmp) / "empty", hidden_paths())
        try:
            self.proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=open(self.rundir.path / "qemu.stderr", "ab"),
                                         preexec_fn=_preexec(view, self.cfg.host_cpus))
        except (OSError, subprocess.SubprocessError) as e:
            raise LabError(f"cannot start QEMU with the host's secrets hidden from the guest ({e}); "
                           f"nothing was booted") from e
        self.console = ConsoleWatcher(self.proc.stdout, self.console_log)
        cmdlog = open(self.rundir.path / "guest-commands.jsonl", "a", buffering=1)
        self.guest = Guest(sock, self, log=lambda rec: cmdlog.write(json.dumps(rec) + "\n"),
                           timeout_scale=self.cfg.mode.guest_timeout_scale)
        deadline = t0 + self.cfg.boot_timeout
        self.guest.connect(deadline)
        hello = self.guest.wait_hello(deadline)
        self._lap("qemu_to_agent", t0)
        self.boot_seconds = round(time.monotonic() - t0, 2)
        self.rundir.update_manifest(boot={"seconds_to_agent": self.boot_seconds,
                                          "guest_uptime_at_agent": hello["uptime"],
                                          "guest_release": hello["uname"]})

    def __exit__(self, *exc):
        t = time.monotonic()
        if self.guest and self.alive():
            # The agent answers, then QEMU is stopped without waiting for the guest's poweroff: everything a
            # guest command wrote reached the host through 9p before its answer (the run dir has no cache).
            self.guest.shutdown(timeout=3)
        if self.guest:
            self.guest.close()
        if self.proc:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.console:
                self.console.wait_eof(2)
        t = self._lap("shutdown", t)
        if self.net:
            self.net.__exit__(None, None, None)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self._lap("teardown", t)
        return False

    def wire_links(self):
        """Wait for the wiring stage 1 did at boot (each lab NIC in its own namespace, addressed, up) and for
        carrier; its failure is this call's, with the script's output."""
        if self.cfg.links:
            self.guest.wait_links([link.ns(s) for link in self.cfg.links for s in "ab"])

    def kill(self):
        """Stop QEMU now (a hung guest); the context exit still cleans up the rest."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()
