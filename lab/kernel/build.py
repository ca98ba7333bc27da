"""`lab build`: a bootable, patched kernel from a source, kconfig fragments and a patch series.

Steps: key from inputs -> cache hit? done. Else: hardlink farm of the pristine source (patched files
become real copies, so the pristine tree is never touched) -> patches in order -> tinyconfig +
fragments + olddefconfig, verified -> make bzImage with ccache, out of tree (O=<tree>/out, so
Kbuild uses relative paths and ccache hits across trees) -> artifacts into builds/<key>/.
A failure removes the half-made tree and leaves no artifact.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, LabError
from ..hashing import file_sha256, text_sha256
from ..host import which
from ..paths import ROOT, cache_root
from ..progress import Progress
from .config import merge
from .patches import apply_patch, check_paths, load_series, touched_files
from .seed import expected_objects, find_config_seed, find_revision_seed, find_seed
from .source import resolve_source
from .store import artifact_dir, builds_root, check_name, damaged, key_lock
from .tree import hardlink_farm, rebase_paths, unshare

DEFAULT_FRAGMENTS = [ROOT / "kconfigs" / "lab.config"]
ERROR_LINE = re.compile(r"(error:|Error \d|\*\*\*|undefined reference|No rule to make target)")


@dataclass
class BuildRequest:
    source: str | None = None
    patches: str | None = None          # series dir, or a name under patches/
    fragments: list = field(default_factory=list)
    name: str | None = None
    jobs: int = (os.cpu_count() or 2) + 1  # one more than cores: compiles fill make's serial gaps
    ccache: bool = True
    base: str = "tinyconfig"


def ccache_env():
    """ccache in depend mode: a miss hashes Kbuild's own -MMD output instead of running the preprocessor first
    (faster cold, one mode only: docs/measurements.md)."""
    return {"CCACHE_DIR": str(cache_root() / "ccache"), "CCACHE_BASEDIR": str(cache_root() / "trees"),
            "CCACHE_MAXSIZE": os.environ.get("CCACHE_MAXSIZE", "5G"), "CCACHE_DEPEND": "1"}


def variant(fragments, patches):
    """What a kernel is beyond the lab base, by content: its patches and its extra kconfig fragments (a published
    reference names a variant this way, whatever the kernel is called or which source it was built from)."""
    base = {f.name for f in DEFAULT_FRAGMENTS}  # the lab base by name: its content changes as the lab evolves
    return {"patches": [file_sha256(p) for p in patches],
            "fragments": sorted(file_sha256(f) for f in fragments if Path(f).name not in base)}


def variant_of(info):
    """The variant of a build.json (builds made before it was recorded: from their inputs, if still on disk)."""
    inp = info.get("inputs") or {}
    if "variant" in inp or not inp:
        return inp.get("variant")
    paths = [Path(p) for p in inp.get("fragments", []) + inp.get("patches", [])]
    if not all(p.exists() for p in paths):
        return None
    return variant([Path(f) for f in inp.get("fragments", [])], [Path(p) for p in inp.get("patches", [])])


def series_dir(spec):
    if spec is None:
        return None
    p = Path(spec)
    if not p.is_dir() and (ROOT / "patches" / spec).is_dir():
        p = ROOT / "patches" / spec
    if not p.is_dir():
        raise ConfigError(f"--patches {spec}: no such series directory (looked in ./ and {ROOT / 'patches'})")
    return p.resolve()


def compiler_version():
    return subprocess.run([which("gcc"), "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def build_key(source_identity, fragments, patches, compiler, base):
    h = hashlib.sha256()
    for part in [source_identity, compiler, base]:
        h.update(part.encode() + b"\0")
    for f in fragments:
        h.update(b"frag\0" + Path(f).read_bytes())
    for p in patches:
        h.update(b"patch\0" + Path(p).read_bytes())
    return h.hexdigest()[:20]


def seed_id(source_identity, fragments, compiler, base):
    """Builds sharing this id differ only by patches: one's out/ can seed another's incremental build."""
    return build_key(source_identity, fragments, [], compiler, base)


def build(req: BuildRequest, say=print, announce_hit=True):
    """Build (or find in the cache) the kernel for `req`; returns the artifact dir."""
    for t in ["make", "gcc", "flex", "bison", "bc", "patch"] + (["ccache"] if req.ccache else []):
        which(t)
    src = resolve_source(req.source)
    sdir = series_dir(req.patches)
    patches = load_series(sdir) if sdir else []
    for p in patches:  # every path of every patch, before any tree exists or is touched
        check_paths(src.path, p)
    fragments = [Path(f).resolve() for f in (req.fragments or DEFAULT_FRAGMENTS)]
    for f in fragments:
        if not f.is_file():
            raise ConfigError(f"--kconfig {f}: no such fragment")
    compiler = compiler_version()
    key = build_key(src.identity, fragments, patches, compiler, req.base)
    name = check_name(req.name or (sdir.name if sdir else src.build_name or "stock"))
    art = artifact_dir(key)
    with key_lock(key, lambda: say(f"build: {name}: another process is building key {key}; waiting for it")):
        bad = damaged(art) if (art / "build.json").exists() else None
        if bad:
            say(f"build: cached {key} is damaged ({bad}): building it again")
            shutil.rmtree(art)
        if (art / "build.json").exists():  # also when another process built it while this one waited
            _name(name, key)
            if announce_hit:
                say(f"build: cache hit {key} ({name})")
            return art
        return _build(req, src, patches, fragments, compiler, key, name, art, say)


def _build(req, src, patches, fragments, compiler, key, name, art, say):
    """Build key `key` (the caller holds its lock): tree, patches, config, make, artifact."""
    tree = cache_root() / "trees" / key
    if tree.exists():
        shutil.rmtree(tree)
    tree.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    times = {}
    sid = seed_id(src.identity, fragments, compiler, req.base)
    lineage = seed_id("revisions", fragments, compiler, req.base)  # every revision of one repository
    seed, seed_touched = find_seed(sid)
    how = None
    if seed is None and src.commit:  # the nearest built revision (or tree): its objects, what differs rebuilt
        seed, seed_touched, how = find_revision_seed(src, lineage)
    if seed is None:  # the same source built with other fragments
        seed, seed_touched, how = find_config_seed(src.identity, compiler, req.base)
    touched = []
    try:
        hardlink_farm(src.path, tree)
        for p in patches:
            files = touched_files(p.read_text(errors="replace"))
            unshare(tree, files)
            apply_patch(tree, p)
            touched += [f for f in files if f not in touched]
        out = tree / "out"
        if seed:
            # Incremental: copy (not link: make rewrites outputs in place) the seed's out/, and make every
            # file the seed's patches touched newer than its objects so it is rebuilt from this tree.
            subprocess.run(["cp", "-a", "--reflink=auto", str(seed / "out"), str(out)], check=True)
            rebase_paths(out, seed, tree)
            unshare(tree, [f for f in seed_touched if f not in touched])
            say(f"build: incremental from {seed.name} (its out/ copied" + (f"; {how})" if how else ")"))
        times["tree_s"] = round(time.monotonic() - t0, 1)
        env = dict(os.environ)
        if req.ccache:
            env.update(ccache_env())
        log_path = tree / "build.log"
        with open(log_path, "w") as log:
            t1 = time.monotonic()
            config_text, unset = merge(tree, out, fragments, base=req.base, make_env=env, log=log)
            for line in unset:
                say(f"build: {name}: could not set {line}")
            times["config_s"] = round(time.monotonic() - t1, 1)
            t2 = time.monotonic()
            objects = _make(tree, out, req, env, log, log_path, say, None if seed else expected_objects(sid))
            times["make_s"] = round(time.monotonic() - t2, 1)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    gz, image = out / "arch/x86/boot/compressed/vmlinux.bin.gz", out / "arch/x86/boot/bzImage"
    if gz.exists() and gz.read_bytes() not in image.read_bytes():  # the compressed kernel is this vmlinux's
        shutil.rmtree(tree, ignore_errors=True)
        raise LabError(f"build {name}: its bzImage does not hold the vmlinux this build linked (a stale compressed "
                       f"kernel); nothing was cached")
    release = (out / "include/config/kernel.release").read_text().strip()
    tmp = builds_root() / f".{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    shutil.copy(out / "arch/x86/boot/bzImage", tmp / "bzImage")
    shutil.copy(out / ".config", tmp / "config")
    shutil.copy(out / "System.map", tmp / "System.map")
    shutil.copy(log_path, tmp / "build.log")
    times["total_s"] = round(time.monotonic() - t0, 1)
    info = {"key": key, "name": name, "release": release, "tree": str(tree), "vmlinux": str(out / "vmlinux"),
            "seed_id": sid, "lineage": lineage, "seeded_from": str(seed) if seed else None, "touched": touched,
            "config_sha256": text_sha256(config_text), "kconfig_unset": unset,
            "bzImage_sha256": file_sha256(tmp / "bzImage"),
            "inputs": {**src.describe(), "base": req.base,
                       "fragments": [str(f) for f in fragments], "patches": [str(p) for p in patches],
                       "patch_sha256": [file_sha256(p) for p in patches],
                       "variant": variant(fragments, patches),
                       "compiler": compiler, "ccache": req.ccache, "jobs": req.jobs},
            "times": times, "objects": objects, "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (tmp / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    if art.exists():
        shutil.rmtree(art)
    tmp.rename(art)
    _name(name, key)
    say(f"build: {name} {release} key {key} in {times['total_s']:.0f}s -> {art}")
    return art


def _name(name, key):
    link = builds_root() / "by-name" / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("..") / key)


def _make(tree, out, req, env, log, log_path, say, expected=None):
    """make vmlinux, then bzImage, its progress as objects compiled of those a cold build of this seed compiled
    (ETA); returns the count. The compressed kernel's objects are never taken from ccache: piggy.S only names
    vmlinux.bin.gz (`.incbin`), which ccache's depend mode cannot see, so two kernels of the same size shared one
    piggy.o, the other kernel inside (docs/measurements.md)."""
    base = ["make", f"O={out}", f"-j{req.jobs}"] + (["CC=ccache gcc"] if req.ccache else [])
    prog = Progress("build: objects compiled", expected)
    prog.show(force=True)
    tail, rc = [], 0
    for target, extra in (("vmlinux", {}), ("bzImage", {"CCACHE_DISABLE": "1"})):
        p = subprocess.Popen(base + [target], cwd=tree, env={**env, **extra}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            log.write(line)
            tail.append(line.rstrip())
            tail = tail[-400:]
            if line.startswith(("  CC ", "  AS ")):
                prog.advance()
            elif line.startswith("  LD ") and "vmlinux" in line:
                prog.advance(0, note="linking")
        rc = p.wait()
        if rc != 0:
            break
    prog.close()
    log.flush()
    if rc != 0:
        relevant = [l for i, l in enumerate(tail) if ERROR_LINE.search(l)]
        ctx = []
        for i, l in enumerate(tail):
            if ERROR_LINE.search(l):
                ctx.extend(tail[max(0, i - 3): i + 2])
        shown = "\n".join(dict.fromkeys(ctx))[-3000:] if relevant else "\n".join(tail[-25:])
        raise LabError(f"kernel build failed (make rc={rc}); full log: {_keep_log(log_path)}\n{shown}")
    return prog.done


def _keep_log(log_path):
    """The tree is removed on failure: keep the log next to the builds."""
    dst = builds_root() / f"failed-{Path(log_path).parent.name}.log"
    shutil.copy(log_path, dst)
    return dst
