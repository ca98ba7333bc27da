"""Kernel git histories made from the pristine source in the cache, for `make bench-bisect` and the suite's real
bisect: 'base' (the source as it is, so its build seeds from the stock build's) then one commit per edit.

Made once per source and list of edits (dates fixed, so commit ids are the same each time); the working copy
shares the pristine source's inodes, so an edit replaces a file and never writes through it.
"""
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

ENV = {"GIT_AUTHOR_NAME": "dplab", "GIT_AUTHOR_EMAIL": "dplab@example.com", "GIT_COMMITTER_NAME": "dplab",
       "GIT_COMMITTER_EMAIL": "dplab@example.com", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
       "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
XMIT = "drivers/net/virtio_net.c"
XMIT_ANCHOR = "\tbool use_napi = sq->napi.weight;\n\n"  # in start_xmit, before the loop freeing old buffers


def insert_after(anchor, text):
    """An edit: `text` after the first `anchor` of the file (the anchor must be there)."""
    def edit(old):
        if anchor not in old:
            raise ValueError(f"anchor {anchor!r} not found")
        return old.replace(anchor, anchor + text, 1)
    return edit


def loop(n, tag="dplab"):
    """C lines: a volatile counter loop of `n` rounds (about 5 instructions a round under TCG)."""
    return (f"\t{{\t/* {tag}: a per-packet cost */\n\t\tvolatile unsigned int {tag}_i;\n\n"
            f"\t\tfor ({tag}_i = 0; {tag}_i < {n}; {tag}_i++)\n\t\t\t;\n\t}}\n")


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **ENV}).stdout.strip()


def make_history(dest, source, commits):
    """A git repository at `dest` with `source`'s tree as 'base' and then, per (subject, {path: edit}), a commit
    (edits apply to the file as the history left it). Reused when it already holds exactly these commits."""
    dest, source = Path(dest), Path(source)
    texts, plan = {}, []
    for subject, edits in commits:
        for path, edit in edits.items():
            texts[path] = edit(texts[path] if path in texts else (source / path).read_text())
        plan.append([subject, {p: hashlib.sha256(texts[p].encode()).hexdigest() for p in edits}])
    marker = hashlib.sha256(json.dumps([str(source), plan]).encode()).hexdigest()
    if (dest / ".git" / "dplab-history").exists() and (dest / ".git" / "dplab-history").read_text() == marker:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(source), str(dest)], check=True)
    (dest / ".ready").unlink(missing_ok=True)  # the cache's marker, not the source's
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    git(dest, "config", "gc.auto", "0")  # no background repack of ~80,000 loose objects while builds export them
    git(dest, "-c", "core.looseCompression=1", "add", "-f", "-A")  # -f: Debian's .gitignore ignores the top level
    git(dest, "commit", "-q", "-m", "base")
    texts = {}
    for subject, edits in commits:
        for path, edit in edits.items():
            texts[path] = edit(texts[path] if path in texts else (dest / path).read_text())
            (dest / path).unlink()  # a hardlink of the pristine source
            (dest / path).write_text(texts[path])
        git(dest, "commit", "-q", "-a", "-m", subject)
    (dest / ".git" / "dplab-history").write_text(marker)
    return dest
