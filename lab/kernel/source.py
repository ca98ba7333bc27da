"""Kernel sources: Debian's linux-source tarball (default), another tarball, a tree, or a revision of a git tree
(`TREE@REV`: anything `git rev-parse` takes).

The pristine source is unpacked once into the cache and never modified; builds get hardlink farms. A revision is
exported into the cache by its tree object id (two refs of one tree are one source), the user's working tree,
index and HEAD untouched.
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
    identity: str   # what the cache key hashes: tarball sha256, git tree id, or git HEAD + dirty diff hash
    origin: str     # what the user gave
    commit: str | None = None   # TREE@REV: the commit, its subject and the repository it came from
    subject: str | None = None
    repo: str | None = None

    @property
    def build_name(self):
        """A revision's default build name: <repository dir>-<commit:12>; None for other sources."""
        if not self.commit:
            return None
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", Path(self.repo).name)[:40] + "-" + self.commit[:12]

    def describe(self):
        return {"source": self.origin, "source_identity": self.identity, "commit": self.commit,
                "subject": self.subject, "repo": self.repo}


OLD_MTIME = 946684800  # 2000-01-01: a revision's files are older than any object a seed built from another one


def git(repo, *args, check=True):
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise ConfigError(f"{repo}: git {' '.join(args)} failed: {p.stderr.strip()[-300:]}")
    return p.stdout.strip()


def _from_revision(repo, rev):
    """A revision of a git tree, exported once into the cache by its tree id (nothing in the user's tree, index or
    HEAD changes): hardlinks of a revision of the same repository exported before plus the files that differ, or
    git archive of the whole tree when there is none."""
    repo = Path(repo).expanduser().resolve()
    if git(repo, "rev-parse", "--is-inside-work-tree", check=False) != "true" and not (repo / "HEAD").exists():
        raise ConfigError(f"--source {repo}@{rev}: {repo} is not a git tree")
    commit = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if not commit:
        raise ConfigError(f"--source {repo}@{rev}: {rev!r} is not a revision of {repo} (git rev-parse)")
    tree_id = git(repo, "rev-parse", f"{commit}^{{tree}}")
    subject = git(repo, "log", "-1", "--format=%s", commit)
    dest = cache_root() / "revs" / tree_id
    if not (dest / ".ready").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            near = _nearest_export(repo, commit, dest.parent)
            _export(repo, commit, Path(tmp) / "t", near, f"--source {repo}@{rev}")
            if dest.exists():
                shutil.rmtree(dest)
            (Path(tmp) / "t").rename(dest)
        (dest / ".ready").write_text(f"{repo}@{commit}\n")
    if not (dest / "Makefile").exists() or not (dest / "Kconfig").exists():
        raise ConfigError(f"--source {repo}@{rev}: commit {commit[:12]} is not a kernel tree (no Makefile/Kconfig)")
    return Source(dest, f"git-tree:{tree_id}", f"{repo}@{rev}", commit, subject, str(repo))


def _nearest_export(repo, commit, revs):
    """(dir, commit) of the revision of `repo` already exported with the fewest files changed up to `commit`; None
    when there is none or it is another line of history (thousands of files: one archive is quicker)."""
    best = None
    for ready in revs.glob("*/.ready"):
        origin, _, other = ready.read_text().strip().rpartition("@")
        if origin != str(repo) or not re.fullmatch(r"[0-9a-f]{40}", other):
            continue
        n = git(repo, "diff", "--name-only", "--no-renames", other, commit, check=False)
        count = len(n.splitlines())
        if count <= 5000 and (best is None or count < best[0]):
            best = (count, ready.parent, other)
    return best[1:] if best else None


def _export(repo, commit, dest, near, what):
    """`commit`'s tree into `dest` (files dated OLD_MTIME); from `near` = (dir, commit) by hardlinks plus the files
    that differ. Returns the paths written."""
    paths = None
    if near:
        subprocess.run(["cp", "-al", str(near[0]), str(dest)], check=True)
        (dest / ".ready").unlink()
        out = subprocess.run(["git", "-C", str(repo), "diff", "-z", "--name-status", "--no-renames", near[1], commit],
                             capture_output=True, check=True).stdout.decode(errors="surrogateescape").split("\0")
        pairs = list(zip(out[0::2], out[1::2]))
        for _, rel in pairs:
            p = dest / rel
            if p.is_symlink() or p.is_file():
                p.unlink()  # a link shared with the other export: replaced, never written through
        paths = [rel for status, rel in pairs if status != "D"]
        if not paths:
            return []
    else:
        dest.mkdir()
    archive = subprocess.Popen(["git", "-C", str(repo), "archive", "--format=tar", commit, "--", *(paths or [])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, capture_output=True)
    archive.stdout.close()
    if archive.wait() != 0 or untar.returncode != 0:
        raise ConfigError(f"{what}: git archive {commit[:12]} failed: "
                          f"{(archive.stderr.read() or untar.stderr).decode(errors='replace')[-300:]}")
    targets = [str(dest / rel) for rel in paths] if paths is not None else [str(dest)]
    subprocess.run(["find", *targets, "-exec", "touch", "-h", "-d", f"@{OLD_MTIME}", "{}", "+"], check=True)
    return paths


def revision_spec(spec):
    """(tree, rev) of a `TREE@REV` spec whose TREE is a directory; None otherwise."""
    tree, sep, rev = str(spec).rpartition("@")
    return (tree, rev) if sep and rev and tree and Path(tree).expanduser().is_dir() else None


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
    rev = revision_spec(spec)
    if rev:
        return _from_revision(*rev)
    p = Path(spec).expanduser()
    if p.is_file():
        return _from_tarball(p)
    if p.is_dir():
        return _from_tree(p)
    raise ConfigError(f"--source {spec}: no such tarball or directory")
