"""Kernel sources: Debian's linux-source tarball (default), another tarball, or a tree.

The pristine source is unpacked once into the cache and never modified; builds get hardlink farms.
"""
import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, LabError
from ..hashing import file_sha256_cached
from ..host import cmd
from ..paths import cache_root

DEBIAN_TARBALLS = "/usr/src/linux-source-*.tar.xz"


@dataclass
class Source:
    path: Path      # pristine tree
    identity: str   # what the cache key hashes: tarball sha256, or git HEAD + dirty diff hash
    origin: str     # what the user gave


def _from_tarball(tarball):
    ident = file_sha256_cached(tarball, cache_root() / "file-sha256.json")
    dest = cache_root() / "src" / ident[:16]
    if not (dest / ".ready").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            subprocess.run(["tar", "xf", str(tarball), "-C", tmp], check=True)
            tops = list(Path(tmp).iterdir())
            top = tops[0] if len(tops) == 1 and tops[0].is_dir() else Path(tmp)
            if dest.exists():
                shutil.rmtree(dest)
            top.rename(dest)
        (dest / ".ready").write_text(str(tarball) + "\n")
    return Source(dest, f"tarball:{ident}", str(tarball))


def _from_tree(tree):
    tree = Path(tree).resolve()
    if not (tree / "Makefile").exists() or not (tree / "Kconfig").exists():
        raise ConfigError(f"--source {tree}: not a kernel tree (no Makefile/Kconfig)")
    if (tree / ".git").exists():
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        diff = subprocess.run(["git", "-C", str(tree), "diff", "HEAD"], capture_output=True).stdout
        ident = f"git:{head}:{hashlib.sha256(diff).hexdigest()[:16]}"
    else:
        newest = max((p.stat().st_mtime for p in tree.rglob("*") if p.is_file() and "/out/" not in str(p)), default=0)
        ident = f"dir:{tree}:{newest}"
    return Source(tree, ident, str(tree))


def debian_source(line):
    """Debian's linux-source-<line> tarball: the installed one, or fetched once with apt-get download."""
    if not re.fullmatch(r"\d+\.\d+", line):
        raise ConfigError(f"--source debian:{line}: expected a kernel line like debian:6.12")
    installed = Path(f"/usr/src/linux-source-{line}.tar.xz")
    if installed.exists():
        return installed
    dest = cache_root() / "debian-source" / line
    tarball = dest / f"usr/src/linux-source-{line}.tar.xz"
    if not tarball.exists():
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            try:
                cmd(["apt-get", "download", f"linux-source-{line}"], cwd=tmp, timeout=1800)
            except LabError as e:
                raise ConfigError(f"--source debian:{line}: apt-get download linux-source-{line} failed "
                                  f"(make setup adds Debian's sources): {e}") from None
            cmd(["dpkg-deb", "-x", next(Path(tmp).glob("*.deb")), dest], timeout=600)
    return tarball


def resolve_source(spec=None):
    """None -> Debian's linux-source tarball; 'debian:6.12' -> that line's; a tarball path; or a kernel tree path."""
    if spec is not None and spec.startswith("debian:"):
        return _from_tarball(debian_source(spec.split(":", 1)[1]))
    if spec is None:
        found = sorted(Path("/").glob(DEBIAN_TARBALLS.lstrip("/")))
        if not found:
            raise ConfigError("no kernel source: apt-get install --no-install-recommends linux-source (or pass "
                              "--source)")
        return _from_tarball(found[-1])
    p = Path(spec).expanduser()
    if p.is_file():
        return _from_tarball(p)
    if p.is_dir():
        return _from_tree(p)
    raise ConfigError(f"--source {spec}: no such tarball or directory")
