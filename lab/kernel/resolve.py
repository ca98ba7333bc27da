"""`--kernel SPEC` -> a bootable Kernel: Debian's default, a path, or a kernel the checkout builds by content."""
from pathlib import Path

from ..errors import ConfigError
from ..paths import ROOT
from .build import DEFAULT_FRAGMENTS, BuildRequest, build
from .debian import debian_kernel, meta_package
from .image import from_path
from .source import resolve_source, revision_spec
from .store import damaged, find_build


def resolve_kernel(spec=None, say=print):
    """None or 'debian' -> the Debian prebuilt default, 'debian:6.12' another line; TREE@REV -> that revision of a
    git tree, built; a path -> from_path; else the name of a `lab build`.

    'stock' (the lab base config), the name of a series under patches/ and the name of a fragment
    kconfigs/<name>.config (lab base + that fragment) are built on first use. The checkout's own kernels
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
    if spec == "stock" or (ROOT / "patches" / spec / "series").exists():
        art = build(BuildRequest(patches=None if spec == "stock" else spec, name=spec), say=say, announce_hit=False)
    elif (ROOT / "kconfigs" / f"{spec}.config").exists():
        art = build(BuildRequest(fragments=DEFAULT_FRAGMENTS + [ROOT / "kconfigs" / f"{spec}.config"], name=spec),
                    say=say, announce_hit=False)
    else:
        art = find_build(spec)
        bad = damaged(art) if art is not None else None
        if bad:
            raise ConfigError(f"--kernel {spec}: the cached build {art} is damaged ({bad}): build it again (lab build)")
    if art is None:
        raise ConfigError(f"--kernel {spec}: not a path and no build of that name or key in the cache (see `lab build "
                          "--list`)")
    return from_path(art)
