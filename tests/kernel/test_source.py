"""Kernel sources (lab/kernel/source.py): a revision of a git tree as a kernel, the user's tree untouched."""
import hashlib
from types import SimpleNamespace

import pytest

from lab.errors import ConfigError
from lab.kernel.build import BuildRequest, build
from tests.support import ROOT, fake_git_tree, git


def state(repo):
    """What a build must not change: HEAD, the index's bytes, every file of the working tree."""
    files = {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(repo.rglob("*")) if p.is_file() and ".git" not in p.parts}
    return git(repo, "rev-parse", "HEAD"), (repo / ".git" / "index").read_bytes(), files


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A history of the kernel tree in miniature: base, a comment, an empty commit, a dirty working tree."""
    monkeypatch.setenv("DPLAB_CACHE", str(tmp_path / "cache"))
    r = fake_git_tree(tmp_path)
    with open(r / "drivers" / "fake.c", "a") as f:
        f.write("/* a comment */\n")
    git(r, "commit", "-q", "-am", "fake: a comment")
    git(r, "commit", "-q", "--allow-empty", "-m", "nothing at all")
    (r / "drivers" / "fake.c").write_text("int dirty = 1;\n")  # the user's work in progress, never built here
    frag = tmp_path / "lab.config"
    frag.write_text("CONFIG_NET=y\n")
    return r, frag


def test_a_revision_builds_from_the_cache_and_the_users_tree_stays_as_it_was(repo):
    r, frag = repo
    before = state(r)
    said = []
    base = build(BuildRequest(source=f"{r}@HEAD~2", fragments=[frag], ccache=False), say=said.append)
    info = (base / "build.json").read_text()
    assert git(r, "rev-parse", "HEAD~2") in info and '"subject": "base"' in info
    assert b"dirty" not in (base / "bzImage").read_bytes() and b"a comment" not in (base / "bzImage").read_bytes()
    assert base.resolve() == (base.parent / "by-name" / f"net-next-{git(r, 'rev-parse', 'HEAD~2')[:12]}").resolve()
    said.clear()
    head = build(BuildRequest(source=f"{r}@HEAD", fragments=[frag], ccache=False), say=said.append)
    assert b"a comment" in (head / "bzImage").read_bytes()
    assert any("incremental from" in m and f"revision {git(r, 'rev-parse', 'HEAD~2')[:12]}, 1 files changed" in m
               for m in said), said  # seeded from the nearest revision built
    # two refs of one tree are one build
    same = build(BuildRequest(source=f"{r}@HEAD~1", fragments=[frag], ccache=False), say=said.append)
    assert same.name == head.name
    assert state(r) == before  # working tree, index and HEAD byte-identical


def test_a_revision_that_is_not_one_is_named(repo):
    r, frag = repo
    with pytest.raises(ConfigError, match=r"'no-such-ref' is not a revision of .*net-next"):
        build(BuildRequest(source=f"{r}@no-such-ref", fragments=[frag], ccache=False), say=print)


def test_a_revision_as_a_kernel_carries_its_commit_into_records(repo, tmp_path, monkeypatch):
    import lab.kernel.build
    from lab.kernel import resolve_kernel
    from lab.measure import cell_record
    from lab.modes import WALLCLOCK
    from lab.plan import Cell
    from lab.results.rundir import RunDir
    from lab.vm.links import make_links
    from lab.workloads import load_testcase
    r, frag = repo
    monkeypatch.setattr(lab.kernel.build, "DEFAULT_FRAGMENTS", [frag])  # the tree in miniature knows CONFIG_NET only
    k = resolve_kernel(f"{r}@HEAD~2")
    commit = git(r, "rev-parse", "HEAD~2")
    assert k.name == f"net-next-{commit[:12]}"
    link = make_links(["virtio"])[0]
    cfg = SimpleNamespace(accel="tcg", cpu="max", mode=WALLCLOCK)
    rec = cell_record(RunDir.create(tmp_path / "runs", "t"), load_testcase(ROOT / "testcases" / "throughput.yaml"), k,
                      link, cfg, Cell(1, 0, 0, 0, link, {}), 1)
    assert rec["kernel"]["commit"] == commit and rec["kernel"]["subject"] == "base"


def test_a_revision_is_exported_as_links_to_the_nearest_one_plus_what_changed(repo):
    """The second revision shares every unchanged file's inode with the first export; the changed file is its own,
    and the first export keeps its bytes."""
    from lab.kernel.source import OLD_MTIME, resolve_source
    r, _ = repo
    base = resolve_source(f"{r}@HEAD~2").path
    head = resolve_source(f"{r}@HEAD~1").path
    assert (base / "Makefile").stat().st_ino == (head / "Makefile").stat().st_ino
    assert (base / "drivers/fake.c").stat().st_ino != (head / "drivers/fake.c").stat().st_ino
    assert b"a comment" in (head / "drivers/fake.c").read_bytes()
    assert b"a comment" not in (base / "drivers/fake.c").read_bytes()
    assert (head / "drivers/fake.c").stat().st_mtime == OLD_MTIME


def test_a_history_made_from_a_built_source_seeds_from_that_build(repo, tmp_path):
    """A history whose base is the tree another build was made from (Debian's tarball, in the real test) builds
    its base incrementally from that build: no file differs. A later revision seeds from the base revision."""
    r, frag = repo
    plain = tmp_path / "plain"
    import shutil
    shutil.copytree(r, plain, ignore=shutil.ignore_patterns(".git"))
    (plain / "drivers/fake.c").write_text(git(r, "show", "HEAD~2:drivers/fake.c") + "\n")
    build(BuildRequest(source=str(plain), fragments=[frag], ccache=False), say=print)
    said = []
    build(BuildRequest(source=f"{r}@HEAD~2", fragments=[frag], ccache=False), say=said.append)
    assert any("incremental from" in m and "0 files differ from its tree" in m for m in said), said
    said.clear()
    build(BuildRequest(source=f"{r}@HEAD", fragments=[frag], ccache=False), say=said.append)
    assert any(f"revision {git(r, 'rev-parse', 'HEAD~2')[:12]}, 1 files changed since" in m for m in said), said


def test_kernels_by_role_from_a_source_keep_the_role_as_their_name(repo, monkeypatch):
    """`lab run --source TREE@REV`: stock is built from that revision; the Kernel is called stock (nights of a
    branch pair by it), its build stock-<tree>-<commit>, and it carries the commit."""
    import lab.kernel.build
    from lab.kernel import resolve_kernel
    from lab.kernel.store import find_build
    r, frag = repo
    monkeypatch.setattr(lab.kernel.build, "DEFAULT_FRAGMENTS", [frag])
    monkeypatch.setattr(lab.kernel.resolve, "DEFAULT_FRAGMENTS", [frag])
    commit = git(r, "rev-parse", "HEAD~1")
    k = resolve_kernel("stock", source=f"{r}@HEAD~1")
    assert k.name == "stock" and k.build["inputs"]["commit"] == commit
    assert k.build["name"] == f"stock-net-next-{commit[:12]}" and find_build(k.build["name"]) is not None
    assert b"a comment" in k.image.read_bytes()
    with pytest.raises(ConfigError, match="not a revision"):
        resolve_kernel("stock", source=f"{r}@nope")
