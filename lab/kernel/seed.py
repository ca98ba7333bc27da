"""Seeds for incremental builds: a build already made whose out/ a new build copies, rebuilding only the files that
differ. Four kinds, nearest first: a build of the same source and config (differing by patches), a built revision
of the same git repository (files changed since, by git diff), for a revision a build of another source with the
same config whose tree it matches but for a few files (by git blob ids: a history made from Debian's tarball
seeds from the tarball's build), and a build of the same source with other kconfig fragments (Kbuild's fixdep
records which CONFIG_ options each object reads: a changed config rebuilds the objects that read a changed one)."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

from .store import builds_root

CONTENT_LIMIT = 5000  # files differing from another source's tree beyond which a cold (ccache) build is quicker


def built():
    """(build.json info, tree) of every build whose tree still has out/vmlinux, newest first."""
    found = []
    for bj in builds_root().glob("*/build.json"):
        try:
            info, mtime = json.loads(bj.read_text()), bj.stat().st_mtime
        except (OSError, ValueError):
            continue
        tree = Path(info.get("tree", ""))
        if (tree / "out" / "vmlinux").exists():
            found.append((mtime, info, tree))
    return [(info, tree) for _, info, tree in sorted(found, key=lambda f: -f[0])]


def find_seed(sid):
    """(tree, touched files) of the newest build with this seed id."""
    return next(((tree, info.get("touched", [])) for info, tree in built() if info.get("seed_id") == sid),
                (None, []))


def find_revision_seed(src, lineage):
    """(tree, files to rebuild, how) for a revision `src`: the built revision of its repository (same fragments,
    compiler and base) with the fewest files changed since it, else a build of another source it nearly matches;
    (None, [], None) when there is neither."""
    best = None
    for info, tree in built():
        inputs = info.get("inputs", {})
        if info.get("lineage") != lineage or inputs.get("repo") != src.repo or not inputs.get("commit"):
            continue
        p = subprocess.run(["git", "-C", src.repo, "diff", "--name-only", inputs["commit"], src.commit],
                           capture_output=True, text=True)
        if p.returncode != 0:
            continue
        changed = p.stdout.split()
        if best is None or len(changed) < len(best[1]):
            best = (tree, changed + info.get("touched", []),
                    f"revision {inputs['commit'][:12]}, {len(changed)} files changed since")
    return best or find_content_seed(src, lineage)


def find_content_seed(src, lineage):
    """(tree, files that differ, how) of the build of another source with this lineage and the fewest patches,
    when `src`'s revision differs from that build's tree in at most CONTENT_LIMIT files."""
    makefile = subprocess.run(["git", "-C", str(src.repo), "rev-parse", f"{src.commit}:Makefile"],
                              capture_output=True, text=True).stdout.strip()

    def version_differs(tree):  # the top Makefile names the kernel's version: same file, same line of history
        try:
            return blob_id((tree / "Makefile").read_bytes()) != makefile
        except OSError:
            return True
    others = [(version_differs(tree), len(info.get("touched") or []), i, tree) for i, (info, tree) in
              enumerate(built()) if info.get("lineage") == lineage and not info.get("inputs", {}).get("commit")]
    if not others:
        return None, [], None
    tree = min(others)[3]
    changed = differing_files(src.repo, src.commit, tree)
    if changed is None:
        return None, [], None
    return tree, changed, f"{len(changed)} files differ from its tree"


def blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def differing_files(repo, commit, tree):
    """Paths of `commit` whose content (or link target) differs from `tree`'s, or None past CONTENT_LIMIT."""
    out = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "-l", "-z", commit], capture_output=True,
                         check=True).stdout.decode(errors="surrogateescape")
    changed = []
    for entry in filter(None, out.split("\0")):
        meta, rel = entry.split("\t", 1)
        mode, kind, oid, size = meta.split()
        p = tree / rel
        if kind != "blob":
            continue
        if mode == "120000":
            same = p.is_symlink() and blob_id(os.fsencode(os.readlink(p))) == oid
        else:
            same = (not p.is_symlink() and p.is_file() and p.stat().st_size == int(size)
                    and blob_id(p.read_bytes()) == oid)
        if not same:
            changed.append(rel)
            if len(changed) > CONTENT_LIMIT:
                return None
    return changed


def find_config_seed(identity, compiler, base):
    """(tree, touched files, how) of the build of the same source, compiler and base config with the fewest
    patches (any fragments), or (None, [], None)."""
    same = [(len(info.get("touched") or []), i, tree, info) for i, (info, tree) in enumerate(built())
            if (info.get("inputs") or {}).get("source_identity") == identity
            and info["inputs"].get("compiler") == compiler and info["inputs"].get("base") == base]
    if not same:
        return None, [], None
    _, _, tree, info = min(same, key=lambda s: s[:2])
    return tree, info.get("touched") or [], f"another config: {info.get('name')}; Kbuild rebuilds what it changes"


def expected_objects(sid):
    """Objects a cold build of this seed id compiled last time (the progress line's total), or None."""
    counts = [info["objects"] for info, _ in built()
              if info.get("seed_id") == sid and info.get("objects") and not info.get("seeded_from")]
    return max(counts) if counts else None
