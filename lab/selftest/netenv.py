"""Where a target's tests run in a guest and what environment they read: data, one entry per kind of target.

netdev's driver tests (drivers/net, drivers/net/hw) read NETIF, LOCAL_V4/V6, REMOTE_V4/V6, REMOTE_TYPE and
REMOTE_ARGS (their README.rst; NetDrvEpEnv in drivers/net/lib/py/env.py). In a guest the lab's first link is the
device under test: side a's NIC in its namespace is NETIF, side b's namespace the remote (REMOTE_TYPE=netns), the
wiring NetDrvEpEnv makes itself with netdevsim when NETIF is unset, with a real NIC model instead. On a hardware
target with side b on another host the remote is that host (REMOTE_TYPE=ssh, REMOTE_ARGS=dplab-b: the ssh and scp
shims of remote/dual.py carry the tests' commands and files there). Every other target runs in the guest's own
namespace and makes what it needs.
"""
import shlex
from dataclasses import dataclass, field

from ..remote.dual import SSH_NAME

DRIVER_SUITES = ("drivers/net", "drivers/net/hw")
# `ip netns exec` mounts a fresh sysfs, hiding what the guest mounted under it: mounted again, in its mount namespace
SYS_MOUNTS = "".join(f"mount -t {fs} {fs} {d} 2>/dev/null; " for fs, d in (
    ("configfs", "/sys/kernel/config"), ("debugfs", "/sys/kernel/debug"), ("tracefs", "/sys/kernel/tracing"),
    ("bpf", "/sys/fs/bpf")))
# what a target's tests import or source from beside their own directory, where `make install` puts it: {path in
# the staged kselftest dir: path under the tree's tools/testing/selftests} (their Makefiles' TEST_INCLUDES and
# TEST_FILES; net/lib/py finds YNL and its specs in net/lib/ when kselftest-list.txt says it is installed)
NET_LIB = {"net/lib": "net/lib", "net/lib.sh": "net/lib.sh", "net/net_helper.sh": "net/net_helper.sh",
           "net/lib/specs": "../../../Documentation/netlink/specs", "net/lib/ynl": "../../net/ynl"}
YNL = {k: NET_LIB[k] for k in ("net/lib/specs", "net/lib/ynl")}  # net's own Python tests (nl_netdev.py) use it
FORWARDING = {f"net/forwarding/{f}": f"net/forwarding/{f}" for f in ("lib.sh", "ipip_lib.sh", "tc_common.sh")}
BESIDE = {"net": YNL, "drivers/net": NET_LIB,
          "drivers/net/hw": {**NET_LIB, **FORWARDING, "drivers/net/lib": "drivers/net/lib"}}


def staged_paths(suite):
    """{staged path: path under tools/testing/selftests} a guest needs for `suite`: kselftest's runner, the
    suite, what its tests import or source."""
    return {"kselftest": "kselftest", suite: suite, **BESIDE.get(suite, {})}


@dataclass(frozen=True)
class SuiteEnv:
    netns: str | None = None                  # the namespace the test runs in (None: the guest's own)
    env: dict = field(default_factory=dict)   # exported before kselftest's runner starts the test

    def describe(self):
        return {"netns": self.netns, "env": dict(self.env)}

    def wrap(self, script):
        """`script` (sh) with the environment exported, run in the namespace."""
        exports = "".join(f"export {k}={shlex.quote(v)}; " for k, v in self.env.items())
        if self.netns is None:
            return exports + script
        return f"{exports}exec ip netns exec {shlex.quote(self.netns)} sh -c {shlex.quote(SYS_MOUNTS + script)}"


def suite_env(suite, links, remote="netns"):
    """The SuiteEnv of `suite`'s tests with `links` (vm/links.Link): side b's namespace the remote (`netns`), or
    side b on another host (`ssh`)."""
    if suite not in DRIVER_SUITES or not links:
        return SuiteEnv()
    link = links[0]
    return SuiteEnv(link.ns("a"), {"NETIF": link.dev("a"), "LOCAL_V4": link.addr("a"), "REMOTE_V4": link.addr("b"),
                                  "LOCAL_V6": link.addr6("a"), "REMOTE_V6": link.addr6("b"), "REMOTE_TYPE": remote,
                                  "REMOTE_ARGS": SSH_NAME if remote == "ssh" else link.ns("b")})
