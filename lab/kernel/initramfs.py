"""The lab initramfs: busybox, the modules needed to reach the 9p host root, and the stage scripts.

Written as a newc cpio in Python (deterministic, content-addressed, cached).
"""
import gzip
import hashlib
import io
import os
import threading
from pathlib import Path

from ..guest import GUEST_SOURCES
from ..host import which
from ..paths import cache_root

# Modules stage 1 loads (with their dependencies) when the kernel has them as modules, to reach the 9p root;
# the callers add their NIC drivers (stage 1 wires the links).
BOOT_MODULES = ["virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay"]


def module_load_order(modules_dir, wanted=BOOT_MODULES):
    """Relative .ko paths of `wanted` and their dependencies, dependencies first; built-ins skipped."""
    if modules_dir is None:
        return []
    deps = {}
    for line in (Path(modules_dir) / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {Path(p).name.split(".ko")[0].replace("-", "_"): p for p in deps}
    order = []

    def add(path):
        for d in deps.get(path, []):
            add(d)
        if path not in order:
            order.append(path)

    for name in wanted:
        if name.replace("-", "_") in by_name:
            add(by_name[name.replace("-", "_")])
    return order


class Cpio:
    """A minimal newc archive writer."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b""):
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * (-(110 + len(name_b)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, name):
        self._entry(name, 0o040755)

    def file(self, name, data, mode=0o644):
        self._entry(name, 0o100000 | mode, data)

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


def build_initramfs(kernel, probe=False, drivers=()):
    """Path of a (cached) gzip'd initramfs for this kernel; `probe` makes the accelerator-probe one; `drivers`
    are more modules stage 1 loads (the NICs' drivers)."""
    busybox = Path(which("busybox")).read_bytes()
    order = [] if probe else module_load_order(kernel.modules_dir, BOOT_MODULES + list(drivers))
    scripts = {"init": (GUEST_SOURCES / ("probe_init.sh" if probe else "init.sh")).read_bytes()}
    mods = {Path(p).name: (Path(kernel.modules_dir) / p).read_bytes() for p in order}
    h = hashlib.sha256(busybox)
    for k, v in sorted(scripts.items()) + sorted(mods.items()):
        h.update(k.encode() + hashlib.sha256(v).digest())
    out = cache_root() / "initramfs" / f"{h.hexdigest()[:16]}.cpio.gz"
    if out.exists():
        return out
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "modules", "newroot", "host"):
        c.dir(d)
    c.file("bin/busybox", busybox, 0o755)
    for name, data in scripts.items():
        c.file(name, data, 0o755)
    for name, data in mods.items():
        c.file(f"modules/{name}", data)
    c.file("modules/order", "".join(Path(p).name + "\n" for p in order).encode())
    out.parent.mkdir(exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")  # guests starting at once (--jobs)
    tmp.write_bytes(gzip.compress(c.finish(), 6))
    tmp.replace(out)
    return out
