"""`--kernel SPEC` -> a bootable Kernel: Debian's default, a path, or a kernel the checkout builds by content."""
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError
from ..paths import ROOT
from .build import DEFAULT_FRAGMENTS, BuildRequest, build
from .debian import debian_kernel, meta_package
from .image import from_path
from .source import resolve_source, revision_spec
from .store import check_name, damaged, find_build


def resolve_kernel(spec=None, say=print, source=None):
    """None or 'debian' -> the Debian prebuilt default, 'debian:6.12' another line; TREE@REV -> that revision of a
    git tree, built; a path -> from_path; else the name of a `lab build`.

    'stock' (the lab base config), the name of a series under patches/ and the name of a fragment
    kconfigs/<name>.config (lab base + that fragment) are built on first use, from `source` when given (its build
    named <role>-<source>, the Kernel named by its role, so nights of a branch pair). The checkout's own kernels
    are looked up by content (kconfigs + patches as they are now: a cache hit is instant), never by a name
    that may point at a build of older fragments."""
    if spec in (None, "", "debian", "default"):
        return debian_kernel()
    if spec.startswith("debian:"):
        return debian_kernel(meta_package(spec.split(":", 1)[1]))
    if revision_spec(spec):  # TREE@REV: that revision, built with the lab base (seeded from the nearest one built)
        name = resolve_source(spec).build_name
        return from_path(build(BuildRequest(source=spec, name=name), say=say, announce_hit=False))
    if "/" in spec or Path(spec).exists():
        return from_path(spec)
    patches = spec if (ROOT / "patches" / spec / "series").exists() else None
    if spec == "stock" or patches or (ROOT / "kconfigs" / f"{spec}.config").exists():
        name = spec if source is None else check_name(f"{spec}-{source_label(source)}"[:64])
        fragments = DEFAULT_FRAGMENTS + ([ROOT / "kconfigs" / f"{spec}.config"] if spec != "stock" and not patches
                                         else [])
        art = build(BuildRequest(source=source, patches=patches, fragments=fragments, name=name), say=say,
                    announce_hit=False)
        return replace(from_path(art), name=spec)
    art = find_build(spec)
    bad = damaged(art) if art is not None else None
    if bad:
        raise ConfigError(f"--kernel {spec}: the cached build {art} is damaged ({bad}): build it again (lab build)")
    if art is None:
        raise ConfigError(f"--kernel {spec}: not a path and no build of that name or key in the cache (see `lab build "
                          "--list`)")
    return from_path(art)


def source_label(source):
    """A short name for a source in build names: a revision's <repo>-<commit:12>, else the file or dir name."""
    src = resolve_source(source)
    return src.build_name or Path(str(source).rstrip("/")).name.replace(":", "-") or "source"
