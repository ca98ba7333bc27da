"""`lab kconfig X.yaml [--kernel K]`: the kernel options a testcase needs, as a fragment; with --kernel, the
preflight the runner does before booting (what is missing, what loads as a module)."""


def cmd_kconfig(a):
    from ..kernel import resolve_kernel
    from ..runner import preflight
    from ..vm.links import make_links
    from ..workloads import load_testcase
    from ..workloads.kconfig import fragment, testcase_needs
    tc = load_testcase(a.testcase)
    links = make_links([m for m in a.links.split(",") if m] or [m.name for m in tc.links])
    if not a.kernel:
        print(fragment(testcase_needs(tc, links), f"{tc.path}, links {', '.join(l.model.name for l in links)}"), end="")
        return 0
    k = resolve_kernel(a.kernel)
    mods = preflight(tc, [k], links)  # a ConfigError names what is missing
    loads = f"; loads {', '.join(mods[k.name])}" if mods.get(k.name) else ""
    print(f"{k.name}: every option {tc.path} needs is set{loads}" if k.config else f"{k.name}: no config to check")
    return 0


def add_parser(sub):
    kc = sub.add_parser("kconfig", help="kernel options a testcase needs (a fragment); --kernel K: check K's config")
    kc.add_argument("testcase")
    kc.add_argument("--links", default="", help="NIC models instead of the testcase's (comma-separated)")
    kc.add_argument("--kernel", help="check this kernel's config as `lab run` would before booting")
    kc.set_defaults(func=cmd_kconfig)
