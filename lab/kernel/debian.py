"""Debian's prebuilt kernels, unpacked with their modules: the default (linux-image-amd64, the 6.1 line) and
other lines by name (`debian:6.12` -> linux-image-6.12-amd64, from bookworm-security; scripts/apt adds
bookworm-backports, pinned); `debian_source("6.12")` is the matching linux-source tarball."""
import re
import shutil
import tempfile
from pathlib import Path

from ..errors import ConfigError
from ..host import cmd
from ..paths import cache_root
from .image import from_path

META_PACKAGE = "linux-image-amd64"


def meta_package(line=None):
    """'6.12' -> linux-image-6.12-amd64; None -> the default meta package."""
    if line is None:
        return META_PACKAGE
    if not re.fullmatch(r"\d+\.\d+", line):
        raise ConfigError(f"--kernel debian:{line}: expected a kernel line like debian:6.12")
    return f"linux-image-{line}-amd64"


def debian_kernel(meta=META_PACKAGE):
    """Fetch (once) and unpack the package the meta package depends on; return its Kernel."""
    root = cache_root() / "kernels"
    root.mkdir(exist_ok=True)
    existing = sorted(r for r in root.glob("debian-*/.ready") if meta in r.read_text().split())
    if existing:
        return _named(from_path(existing[-1].parent))
    pkg = image_package(meta)
    dest = root / f"debian-{pkg}"
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        cmd(["apt-get", "download", pkg], cwd=tmp, timeout=600)
        deb = next(Path(tmp).glob("*.deb"))
        unpack = Path(tmp) / "x"
        cmd(["dpkg-deb", "-x", deb, unpack], timeout=300)
        kern = from_path(unpack)
        cmd(["depmod", "-b", unpack, kern.release], timeout=300)
        if dest.exists():
            shutil.rmtree(dest)
        unpack.rename(dest)
    (dest / ".ready").write_text(f"{pkg} {meta}\n")
    return _named(from_path(dest))


def _named(kernel):
    """'debian-6.1.0-56-amd64': short enough for tables, and says what it is."""
    kernel.name = f"debian-{kernel.release}"
    return kernel


def image_package(meta):
    """The concrete linux-image-<abi> package behind a meta package (apt-cache depends)."""
    out = cmd(["apt-cache", "depends", meta], timeout=120).stdout
    m = re.search(r"Depends:\s*(linux-image-\S+)", out)
    if not m:
        raise ConfigError(f"apt-cache depends {meta}: no linux-image dependency (no such kernel line in apt's "
                          f"sources? make setup adds them; then apt-get update)")
    return m.group(1)
