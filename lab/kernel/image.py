"""A bootable kernel: image, optional modules tree, identity (lab/kernel/resolve.py maps --kernel to one)."""
import json
import struct
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import ConfigError
from ..hashing import file_sha256
from .build import variant_of


@dataclass
class Kernel:
    """What the VM runner needs to boot a kernel, and what the manifest records of it."""

    name: str
    image: Path
    release: str
    modules_dir: Path | None = None  # .../lib/modules/<release>, shared read-only into the guest
    config: Path | None = None
    build: dict = field(default_factory=dict)  # build.json of a `lab build` artifact, if any

    @property
    def variant(self):
        """Patches and extra fragments by content (lab/kernel/build.py:variant); None if not a lab build."""
        return variant_of(self.build) if self.build else None

    def spec(self):
        """A --kernel value that resolves back to this kernel (its artifact or unpacked dir, or its image)."""
        if self.build:
            return str(self.image.parent)
        if self.image.parts[-4:-1] == ("arch", "x86", "boot"):  # a build tree (vng's modules live inside it)
            return str(self.image.parents[3])
        if self.modules_dir:
            return str(Path(self.modules_dir).parents[2])
        return str(self.image)

    @cached_property
    def sha256(self):
        return file_sha256(self.image)

    def describe(self):
        d = asdict(self)
        d.update(image=str(self.image), modules_dir=str(self.modules_dir) if self.modules_dir else None,
                 config=str(self.config) if self.config else None, sha256=self.sha256,
                 config_sha256=file_sha256(self.config) if self.config else None)
        return d



def bzimage_release(path):
    """Kernel release from an x86 bzImage setup header (the `kernel_version` field at 0x20e)."""
    data = Path(path).read_bytes()[:0x10000]
    if len(data) < 0x210 or data[0x202:0x206] != b"HdrS":
        raise ConfigError(f"{path}: not an x86 bzImage (no 'HdrS' setup header)")
    off = struct.unpack_from("<H", data, 0x20E)[0] + 0x200
    return data[off:off + 128].split(b" ")[0].split(b"\0")[0].decode(errors="replace")


def from_path(path):
    """A kernel from a bzImage file, an unpacked Debian package, a build tree or a `lab build` artifact dir."""
    p = Path(path).expanduser().resolve()
    if p.is_file():
        return Kernel(name=p.name, image=p, release=bzimage_release(p))
    if not p.is_dir():
        raise ConfigError(f"--kernel {path}: no such file or directory")
    if (p / "build.json").exists() and (p / "bzImage").exists():
        info = json.loads((p / "build.json").read_text())
        return Kernel(name=info.get("name", p.name), image=p / "bzImage",
                      release=info.get("release") or bzimage_release(p / "bzImage"),
                      config=p / "config" if (p / "config").exists() else None, build=info)
    for cand in (p / "arch/x86/boot/bzImage", p / "bzImage"):
        if cand.exists():
            # a tree built by `vng -b`: its modules installed under .virtme_mods (version dir 0.0.0, symlinks
            # into the tree; the guest sees the host's / so they resolve), shared as /lib/modules/<release>
            vng_mods = p / ".virtme_mods/lib/modules/0.0.0"
            return Kernel(name=p.name, image=cand, release=bzimage_release(cand),
                          config=p / ".config" if (p / ".config").exists() else None,
                          modules_dir=vng_mods if (vng_mods / "modules.dep").exists() else None)
    images = sorted((p / "boot").glob("vmlinuz-*"))
    if images:
        img = images[-1]
        rel = img.name[len("vmlinuz-"):]
        mods = p / "lib/modules" / rel
        cfg = p / "boot" / f"config-{rel}"
        return Kernel(name=p.name, image=img, release=rel, modules_dir=mods if mods.is_dir() else None,
                      config=cfg if cfg.exists() else None)
    raise ConfigError(f"--kernel {path}: no bzImage, arch/x86/boot/bzImage, boot/vmlinuz-* or build.json in it")
