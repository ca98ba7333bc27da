"""virtme-ng as the second way into a lab guest: the `vng` command that boots a kernel with the lab's NICs.

vng brings its own init, 9p host root and overlays, an interactive console and its gdb server; the lab adds,
through vng's options, what makes the guest a lab guest: the NIC models with their MACs (the links' own
-netdev/-device arguments, on the hub backend or inside the run's tap namespace), the mode's QEMU arguments
(icount), the CPU model, and the run's guest directory at SHARE_AT (agent, tools, links-N.sh, cells/N): vng's root
is the host's, read-only but for its overlays (/tmp is one), so the lab's /lab cannot be made there.
Used by `lab debug` (lab/debug.py) and `make bench-boot` (lab/bench/boot.py).
"""
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

SHARE_AT = "/tmp/lab"  # where a vng guest sees the shared directory
GDB_PORT = 1234  # vng --debug: QEMU's gdb server on localhost (virtme-run --gdb-server's default)


def vng_binary():
    """The `vng` of this interpreter's venv (make setup installs it there), else one on PATH."""
    here = Path(sys.executable).parent / "vng"
    found = here if here.exists() else shutil.which("vng")
    if not found:
        raise ConfigError("vng (virtme-ng) not found: make setup installs it into the venv")
    return Path(found)


def vng_env():
    """vng runs `virtme-run` by name: the venv's bin first on PATH."""
    return {**os.environ, "PATH": f"{vng_binary().parent}{os.pathsep}{os.environ.get('PATH', '')}"}


@dataclass
class VngBoot:
    """What to boot with vng: a kernel image and, optionally, the lab's VM configuration (vm/qemu.VMConfig)."""

    image: Path
    cfg: object = None          # VMConfig: accel, vcpus, memory, cpu model, mode, links, backend
    share: Path | None = None   # host directory the guest sees at SHARE_AT (read-write)
    exec_cmd: str | None = None  # run this and power off; None: an interactive console
    gdb: bool = False           # vng --debug: gdb server on localhost:GDB_PORT, QMP
    append: list = field(default_factory=list)

    def argv(self):
        a = [str(vng_binary()), "--run", str(self.image), "--force-9p"]
        c = self.cfg
        qemu = []
        if c is None or c.accel == "tcg":
            a.append("--disable-kvm")
        if c is not None:
            a += ["--cpus", str(c.vcpus), "--memory", c.memory]
            if c.accel == "tcg":
                qemu += ["-accel", c.qemu_accel]
            qemu += ["-cpu", c.cpu, *c.mode.qemu_args]
            for link in c.links:
                qemu += link.qemu_args(c.backend, sync=c.mode.sync_devices)
        if self.share is not None:
            a.append(f"--rwdir={SHARE_AT}={self.share}")
        if self.gdb:
            a.append("--debug")
        if self.append:
            a += ["--append", " ".join(self.append)]
        if self.exec_cmd is not None:
            a += ["--exec", self.exec_cmd]
        if qemu:  # vng hands these to QEMU last (so this -cpu wins over vng's); `=`: the value starts with '-'
            a.append("--qemu-opts=" + " ".join(shlex.quote(x) for x in qemu))
        return a
