"""The build cache: builds/<key>/ holds bzImage, config, System.map, build.log, build.json; names are symlinks."""
import fcntl
import json
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError
from ..hashing import file_sha256
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


def prune(keep_named=True, say=print):
    """Remove unnamed builds and every tree (sources stay), each under its build key's lock: a key another
    process is building (or booting from a tree of) is skipped and said. Returns what was removed."""
    removed = []
    named = {p.resolve().name for p in (builds_root() / "by-name").iterdir()} if keep_named else set()
    trees = cache_root() / "trees"
    victims = [(b["key"], Path(b["path"])) for b in list_builds() if b["key"] not in named]
    victims += [(t.name, t) for t in (trees.iterdir() if trees.exists() else []) if t.name not in named]
    for key, path in victims:
        with key_lock(key, blocking=False) as held:
            if not held:
                say(f"prune: {path}: key {key} is being built by another process: kept")
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


@contextmanager
def key_lock(key, waiting=lambda: None, blocking=True):
    """Exclusive lock of one build key across processes (two runs needing the same kernel build it once);
    `waiting` is called if another process holds it. Not `blocking`: yields False instead of waiting."""
    d = cache_root() / "locks"
    d.mkdir(parents=True, exist_ok=True)
    with open(d / f"{key}.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not blocking:
                yield False
                return
            waiting()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def check_name(name):
    """A build name is one plain path component (it becomes builds/by-name/NAME): ConfigError otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,63}", name or ""):
        raise ConfigError(f"--name {name!r}: a build name is 1-64 of A-Z a-z 0-9 _ . + - (not starting with '.')")
    return name


def damaged(art):
    """Why a cached artifact cannot be trusted (its bzImage is not the one recorded), or None."""
    try:
        info = json.loads((art / "build.json").read_text())
    except (OSError, ValueError) as e:
        return f"build.json unreadable: {e}"
    want = info.get("bzImage_sha256")
    if not (art / "bzImage").is_file():
        return "no bzImage"
    if want and file_sha256(art / "bzImage") != want:
        return "bzImage's sha256 differs from build.json's"
    return None
