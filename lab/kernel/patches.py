"""Patch series: `patches/<series>/series` (quilt style) lists patches in order."""
import re
import subprocess
from pathlib import Path

from ..errors import ConfigError


def load_series(series_dir):
    """Ordered patch paths of a series dir; ConfigError if the series file or a listed patch is missing."""
    d = Path(series_dir)
    sf = d / "series"
    if not sf.exists():
        raise ConfigError(f"{d}: no 'series' file (quilt style: one patch file name per line)")
    out = []
    for n, line in enumerate(sf.read_text().splitlines(), 1):
        name = line.split("#", 1)[0].strip().split()[0] if line.split("#", 1)[0].strip() else ""
        if not name:
            continue
        p = d / name
        if not p.is_file():
            raise ConfigError(f"{sf}:{n}: patch {name!r} listed but not found")
        out.append(p)
    return out


def touched_files(patch_text):
    """Paths (relative to the tree, -p1) a unified diff modifies or creates."""
    out = []
    for m in re.finditer(r"^\+\+\+ (\S+)", patch_text, re.M):
        path = m.group(1)
        if path != "/dev/null":
            out.append(path.split("/", 1)[1] if "/" in path else path)
    return out


PATH_LINE = re.compile(r"^(?:--- |\+\+\+ |rename from |rename to |copy from |copy to )(.*)$")


def check_paths(tree, patch):
    """Every path `patch` names (-p1), before anything is touched: inside the tree, relative, no '..', no link on the
    way (a link in the tree would make GNU patch write where it points). ConfigError naming patch, line and path."""
    tree = Path(tree)
    lines = Path(patch).read_text(errors="replace").splitlines()
    for n, line in enumerate(lines, 1):
        m = PATH_LINE.match(line)
        header = (line.startswith("--- ") and n < len(lines) and lines[n].startswith("+++ ")) or \
                 (line.startswith("+++ ") and n > 1 and lines[n - 2].startswith("--- "))
        if not m or (line.startswith(("--- ", "+++ ")) and not header):  # a hunk's own '-- x' / '++ x' line
            continue
        raw = m.group(1).split("\t")[0].strip()
        if raw == "/dev/null" or not raw:
            continue
        if line.startswith(("--- ", "+++ ")):
            if raw.startswith("/"):
                raise ConfigError(f"{patch}:{n}: path {raw!r} is absolute: a patch may only touch the kernel tree")
            rel = raw.split("/", 1)[1] if "/" in raw else raw
        else:
            rel = raw
        parts = Path(rel).parts
        if rel.startswith("/") or ".." in parts or not parts:
            raise ConfigError(f"{patch}:{n}: path {raw!r} leaves the tree ('..' or absolute): refused")
        for i in range(1, len(parts) + 1):
            if (tree.joinpath(*parts[:i])).is_symlink():
                raise ConfigError(f"{patch}:{n}: path {raw!r} goes through the link {'/'.join(parts[:i])} in the "
                                  f"tree: refused")


def apply_patch(tree, patch):
    """Apply one patch with GNU patch -p1. ConfigError naming the patch, file and failing hunk(s)."""
    check_paths(tree, patch)
    p = subprocess.run(["patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-r", "-", "-i", str(patch)],
                       cwd=tree, capture_output=True, text=True)
    if p.returncode != 0:
        out = p.stdout + p.stderr
        hunks, current = [], None
        for line in out.splitlines():
            m = re.match(r"patching file (\S+)", line)
            if m:
                current = m.group(1)
            m = re.match(r"Hunk #(\d+) FAILED at (\d+)", line)
            if m:
                hunks.append(f"{current}: hunk #{m.group(1)} (at line {m.group(2)})")
            if line.startswith("Reversed (or previously applied) patch detected"):
                hunks.append(f"{current}: already applied (reversed)")
        detail = "; ".join(hunks) or (out.strip().splitlines()[-1] if out.strip() else "no output")
        raise ConfigError(f"patch {patch.name} does not apply: {detail}\n{out.strip()[-1500:]}")
    return p.stdout
