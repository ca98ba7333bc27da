"""What kernel options a testcase needs, for the cells it will run: its `kconfig:` entries (always, or `when`
an axis point matches) plus each link's NIC driver. The runner checks them against a kernel's config before
booting (kernel/config.py:check_options); `lab kconfig X.yaml` prints them as a fragment for `lab build
--kconfig` or `vng -b -f`.

    kconfig:
      - need: [XDP_SOCKETS, BPF_SYSCALL]              # CONFIG_ prefix optional
      - when: {tunnel: fou}
        need: [NET_FOU, NET_FOU_IP_TUNNELS]
        modules: [fou]                                # loaded on a modular kernel where the option is =m
"""
import re
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..match import matches

NAME = re.compile(r"(CONFIG_)?[A-Z0-9_]+")


@dataclass
class Need:
    option: str                                 # CONFIG_X
    why: list = field(default_factory=list)     # "testcase", "tunnel=fou", "link virtio0"
    modules: list = field(default_factory=list)  # what to modprobe where the option is a module


def option_name(text, where):
    if not isinstance(text, str) or not NAME.fullmatch(text):
        raise ConfigError(f"{where}: {text!r} is not a kernel option name (e.g. XDP_SOCKETS or CONFIG_XDP_SOCKETS)")
    return text if text.startswith("CONFIG_") else "CONFIG_" + text


def needs(entries, cells, links):
    """{CONFIG_X: Need} for `cells` (parameter dicts) on `links`; `entries` as validated by the testcase loader."""
    out = {}

    def add(opt, why, modules=()):
        n = out.setdefault(opt, Need(opt))
        if why not in n.why:
            n.why.append(why)
        n.modules += [m for m in modules if m not in n.modules]

    for link in links:
        if link.model.kconfig:  # a host's port: its driver is learnt at connect, the option is not known here
            add(link.model.kconfig, f"link {link.name}", [link.model.driver])
    for e in entries:
        if not any(matches(c, e["when"]) for c in cells):
            continue
        why = ",".join(f"{k}={v}" for k, v in e["when"].items()) or "testcase"
        for opt in e["need"]:
            add(opt, why, e["modules"])
    return out


def fragment(needs_, title):
    """A kconfig fragment (every need =y), each option under a comment saying what needs it."""
    lines = [f"# {title} (lab kconfig): lab build --kconfig kconfigs/lab.config --kconfig FILE, or vng -b -f FILE"]
    for n in needs_.values():
        lines += [f"# {', '.join(n.why)}", f"{n.option}=y"]
    return "\n".join(lines) + "\n"


def testcase_needs(tc, links):
    """needs() of a loaded Testcase for the cells it will run (axes as narrowed, params included)."""
    return needs(tc.kconfig, [{**tc.params, **c} for c in tc.cells()], links)
