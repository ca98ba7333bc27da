"""The build cache: builds/<key>/ holds bzImage, config, System.map, build.log, build.json; names are symlinks."""
import fcntl
import json
import shutil
import time
from contextlib import contextmanager

from ..paths import cache_root


def builds_root():
    d = cache_root() / "builds"
    (d / "by-name").mkdir(parents=True, exist_ok=True)
    return d


def artifact_dir(key):
    return builds_root() / key


def find_build(spec):
    """A build dir by name (by-name symlink) or by key prefix; None if absent."""
    root = builds_root()
    named = root / "by-name" / spec
    if named.exists():
        return named.resolve()
    hits = [d for d in root.iterdir() if d.name.startswith(spec) and (d / "build.json").exists()]
    return hits[0] if len(hits) == 1 else None


def list_builds():
    out = []
    root = builds_root()
    names = {}
    for link in (root / "by-name").iterdir():
        names.setdefault(link.resolve().name, []).append(link.name)
    for d in sorted(root.iterdir()):
        if d.name == "by-name" or not (d / "build.json").exists():
            continue
        info = json.loads((d / "build.json").read_text())
        size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
        out.append({"key": d.name, "names": names.get(d.name, []), "release": info.get("release"),
                    "patches": info.get("inputs", {}).get("patches", []), "size_mb": round(size / 1e6, 1),
                    "age_h": round((time.time() - d.stat().st_mtime) / 3600, 1), "path": str(d)})
    return out


def prune(keep_named=True):
    """Remove unnamed builds and every tree (sources stay). Returns what was removed."""
    removed = []
    named = {p.resolve().name for p in (builds_root() / "by-name").iterdir()} if keep_named else set()
    for b in list_builds():
        if b["key"] not in named:
            shutil.rmtree(b["path"])
            removed.append(b["path"])
    trees = cache_root() / "trees"
    if trees.exists():
        for t in trees.iterdir():
            if t.name not in named:
                shutil.rmtree(t)
                removed.append(str(t))
    return removed


@contextmanager
def key_lock(key, waiting=lambda: None):
    """Exclusive lock of one build key across processes (two runs needing the same kernel build it once);
    `waiting` is called if another process holds it."""
    d = cache_root() / "locks"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / f"{key}.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
