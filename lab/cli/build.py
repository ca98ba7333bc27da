"""`lab build` (a patched kernel, cached by content; --list, --prune) and `lab kernel SPEC` (resolve, describe)."""
import json
import os
import sys

from ..options import Opt

JOBS = Opt("jobs", "--jobs", "int", "make jobs", min=1, max=1024)


def cmd_kernel(a):
    from ..kernel import resolve_kernel
    k = resolve_kernel(a.kernel, say=lambda m: print(m, file=sys.stderr))
    print(json.dumps(k.describe(), indent=2))
    return 0


def cmd_build(a):
    from ..kernel import store
    if a.list:
        rows = store.list_builds()
        if a.json:
            print(json.dumps(rows, indent=2))
        for r in rows:
            print(f"{r['key']}  {','.join(r['names']) or '-':18s} {r['release'] or '?':12s} {r['size_mb']:6.1f} MB "
                  f"{r['age_h']:6.1f} h  patches: {len(r['patches'])}")
        if not rows:
            print("(no builds yet: lab build)")
        return 0
    if a.prune:
        for p in store.prune():
            print(f"removed {p}")
        return 0
    from ..kernel.build import DEFAULT_FRAGMENTS, BuildRequest, build
    fragments, name = a.kconfig, a.name
    if a.selftests:  # the targets' own config fragments on top of the lab base (or the fragments given)
        from ..kernel.source import resolve_source
        from ..selftest.build import build_fragment
        fragments = (a.kconfig or [str(f) for f in DEFAULT_FRAGMENTS]) + \
            [str(build_fragment(resolve_source(a.source), a.selftests))]
        name = name or "selftests-" + "+".join(s.replace("/", "-") for s in a.selftests)
    art = build(BuildRequest(source=a.source, patches=a.patches, fragments=fragments, name=name, jobs=a.jobs,
                             ccache=not a.no_ccache), say=lambda m: print(m, file=sys.stderr))
    print(art)
    return 0




def add_parser(sub):
    bu = sub.add_parser("build", help="build a patched kernel (cached by content); --list, --prune")
    bu.add_argument("--source", help="kernel tarball or tree (default: Debian's linux-source tarball)")
    bu.add_argument("--patches", help="patch series dir, or a name under patches/ (quilt 'series' file)")
    bu.add_argument("--kconfig", action="append", default=[],
                    help="kconfig fragment (repeatable; default kconfigs/lab.config)")
    bu.add_argument("--selftests", action="append", default=[], metavar="TARGET",
                    help="add a kselftest target's own config fragment (tools/testing/selftests/TARGET/config, and "
                         "net/config for drivers/net) from the same source, as netdev's CI builds it (repeatable)")
    bu.add_argument("--name", help="name for `--kernel NAME` (default: the series name, or 'stock')")
    bu.add_argument("--jobs", "-j", type=JOBS.convert, default=(os.cpu_count() or 2) + 1,
                    help="make jobs (default: cores + 1)")
    bu.add_argument("--no-ccache", action="store_true")
    bu.add_argument("--list", action="store_true", help="list cached builds (key, names, release, size, age)")
    bu.add_argument("--prune", action="store_true", help="remove unnamed builds and their trees (not one being built)")
    bu.add_argument("--json", action="store_true")
    bu.set_defaults(func=cmd_build)
    k = sub.add_parser("kernel", help="resolve a --kernel spec (fetching the Debian default if needed) and describe it")
    k.add_argument("kernel", nargs="?", default=None)
    k.set_defaults(func=cmd_kernel)
