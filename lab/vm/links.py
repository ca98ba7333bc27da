"""NIC models and links: the one home of both. A link is a pair of NICs of one model wired back-to-back.

`NIC_MODELS` is data, validated once (`nic_model`) where a name enters the lab: a testcase's `links`,
`--links`, a pytest option. A `Link` knows its MACs, namespaces, addresses and its own QEMU arguments.

Backends (recorded in the manifest):
- tap: each NIC on a tap with vnet_hdr, the pair bridged in a host network namespace made for
  the run (deleted after). virtio-net keeps its offloads (csum, SG, TSO): needed for GSO work and
  for the XSK page path.
- hub: QEMU hubports, no host set-up and no root needed, but virtio-net gets no offloads.
"""
import os
import shlex
from dataclasses import dataclass

from ..errors import ConfigError
from ..host import cmd

BACKENDS = ("tap", "hub")


@dataclass(frozen=True)
class NicModel:
    name: str
    qemu_device: str
    driver: str    # what `ethtool -i` reports in the guest
    kconfig: str   # the guest kernel option of its driver
    no_linear: bool  # sets IFF_TX_SKB_NO_LINEAR upstream (AF_XDP generic xmit takes the page path)
    carrier_s: float  # measured here: seconds from `ip link set up` to carrier under TCG
    # -device options that make the model's transmit run at fixed guest instruction counts (modes with
    # sync_devices): work the vCPU thread does itself or on virtual-clock timers, never the host's main loop
    sync_opts: str = ""


NIC_MODELS = {m.name: m for m in (
    # virtio: by default a kick wakes the main loop (ioeventfd) whose bottom half drains the ring at a host
    # moment; ioeventfd=off runs the kick in the vCPU thread and tx=timer drains on a virtual-clock timer
    # (150 us of guest time), which icount fires at a fixed instruction count
    NicModel("virtio", "virtio-net-pci", "virtio_net", "CONFIG_VIRTIO_NET", no_linear=True, carrier_s=0.23,
             sync_opts="tx=timer,ioeventfd=off"),
    # e1000e: QEMU completes autonegotiation in 0.5 s, but the driver sees the link at its next watchdog run (2 s);
    # its transmit runs in the vCPU thread at the tail-register write already
    NicModel("e1000e", "e1000e", "e1000e", "CONFIG_E1000E", no_linear=False, carrier_s=2.24),
)}


def nic_model(name):
    """The NicModel called `name` (a NicModel passes through); ConfigError listing the known ones."""
    if isinstance(name, NicModel):
        return name
    try:
        return NIC_MODELS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown NIC model {name!r}; known models: {', '.join(NIC_MODELS)}") from None


@dataclass(frozen=True)
class Link:
    """Link number `index`: NIC a in netns `<name>a`, NIC b in `<name>b`, on 198.18.<index>.0/24 (RFC 2544
    benchmark range)."""

    index: int
    model: NicModel

    @property
    def name(self):
        return f"{self.model.name}{self.index}"

    def mac(self, side):
        return f"52:54:00:d1:{self.index:02x}:{0xa if side == 'a' else 0xb:02x}"

    def ns(self, side):
        return f"{self.name}{side}"

    def addr(self, side):
        return f"198.18.{self.index}.{1 if side == 'a' else 2}"

    def addr6(self, side):
        return f"fd00:d1:{self.index}::{1 if side == 'a' else 2}"

    def dev(self, side):
        return "eth0"

    def netdev_id(self, side):
        return f"n{self.index}{side}"

    def tap(self, side):
        return f"dl{self.index}{side}"

    def qemu_args(self, backend, sync=False):
        """-netdev/-device pairs for both NICs of this link on `backend` (`sync`: the model's sync_opts)."""
        extra = f",{self.model.sync_opts}" if sync and self.model.sync_opts else ""
        args = []
        for side in "ab":
            nid = self.netdev_id(side)
            if backend == "tap":
                args += ["-netdev",
                         f"tap,id={nid},ifname={self.tap(side)},script=no,downscript=no,vhost=off,vnet_hdr=on"]
            else:
                args += ["-netdev", f"hubport,id={nid},hubid={self.index}"]
            args += ["-device", f"{self.model.qemu_device},netdev={nid},mac={self.mac(side)},romfile={extra}"]
        return args

    def describe(self):
        return {"name": self.name, "model": self.model.name, "qemu_device": self.model.qemu_device,
                **{f"{k}_{s}": getattr(self, k)(s) for k in ("mac", "ns", "addr", "addr6", "dev") for s in "ab"}}

    def template_vars(self):
        """What testcase templates see as `link`."""
        return {**self.describe(), "index": self.index}


def make_links(models):
    """Links 0..n-1 of the given NIC models (names or NicModels)."""
    return [Link(i, nic_model(m)) for i, m in enumerate(models)]


def default_backend():
    return "tap" if os.geteuid() == 0 and os.path.exists("/dev/net/tun") else "hub"


def check_backend(backend):
    if backend not in BACKENDS:
        raise ConfigError(f"unknown link backend {backend!r}; known: {', '.join(BACKENDS)}")
    return backend


class HostNetwork:
    """The host side of the links. For `tap`, a network namespace holding one bridge + two taps per link."""

    def __init__(self, links, backend, run_id):
        self.links = links
        self.backend = check_backend(backend)
        self.netns = f"dplab-{run_id[-20:]}" if backend == "tap" and links else None

    def wrap(self, argv):
        """QEMU must open its taps inside the run's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def batch(self):
        """`ip -batch` lines making each link's bridge and taps: one process instead of seven per link."""
        lines = []
        for link in self.links:
            br = f"br{link.index}"
            lines.append(f"link add {br} type bridge stp_state 0 forward_delay 0")
            for side in "ab":
                lines += [f"tuntap add dev {link.tap(side)} mode tap vnet_hdr",
                          f"link set {link.tap(side)} master {br} up"]
            lines.append(f"link set {br} up")
        return "\n".join(lines) + "\n"

    def shell_setup(self):
        """The same set-up as shell lines (`lab debug --print`)."""
        if not self.netns:
            return []
        return [f"ip netns add {self.netns}", f"ip -n {self.netns} -batch - <<'EOF'", self.batch().rstrip("\n"), "EOF"]

    def shell_teardown(self):
        return [f"ip netns del {self.netns}"] if self.netns else []

    def snapshot(self, link):
        """Counters of `link`'s two taps (`@@ link host-a`, `host-b`: what the host's side of the emulated cable
        passed and dropped, e.g. host-b.link.tx_dropped when guest b did not drain its queue); '' without taps."""
        if not self.netns:
            return ""
        out = []
        for side in "ab":
            p = cmd(["ip", "-n", self.netns, "-s", "-j", "link", "show", "dev", link.tap(side)], check=False,
                    timeout=30)  # a host that stops answering fails the cell (LabError: retried), not the run
            out.append(f"@@ link host-{side}\n{p.stdout.strip()}\n")
        return "".join(out)

    def __enter__(self):
        if not self.netns:  # hub backend, or no links at all
            return self
        if os.path.lexists(f"/run/netns/{self.netns}"):  # a killed run of this run dir left it (the dir is locked)
            cmd(["ip", "netns", "del", self.netns], check=False)
        cmd(["ip", "netns", "add", self.netns])
        try:
            cmd(["ip", "-n", self.netns, "-batch", "-"], input=self.batch())
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self.netns:
            cmd(["ip", "netns", "del", self.netns], check=False)


WIRE_LIB = r"""# dplab link wiring, run by stage 1 (busybox, from RAM) before the root is assembled: each lab NIC, found
# by MAC, into its own network namespace (persisted as $NETNS/<name>, i.e. /run/netns) as eth0, addressed, up.
# DAD and router solicitations are off on the lab NICs (the addresses are the lab's own; no router). The host
# waits for carrier.
set -e
mkdir -p "$NETNS"
dev_by_mac() {
  for d in /sys/class/net/*; do read a < "$d/address"; [ "$a" = "$1" ] && { echo "${d##*/}"; return 0; }; done
  echo "no NIC with MAC $1" >&2; return 1
}
wire() {  # NAMESPACE MAC ADDR4 ADDR6
  d=$(dev_by_mac "$2"); f="$NETNS/$1"
  touch "$f"; unshare --net="$f" true
  nsenter --net="$f" sleep 60 & p=$!
  until [ "$(readlink /proc/$p/ns/net)" != "$(readlink /proc/self/ns/net)" ]; do :; done
  ip link set dev "$d" netns "$p"; kill "$p"
  nsenter --net="$f" sh -ec "ip link set dev $d name eth0; ip link set lo up
    echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad
    echo 0 > /proc/sys/net/ipv6/conf/eth0/router_solicitations  # no router here; one sent in a window counts in it
    ip addr add $3 dev eth0; ip addr add $4 dev eth0; ip link set eth0 up
    echo 1 > /proc/sys/net/ipv4/tcp_no_metrics_save  # no TCP metrics carried from one measurement to the next"
}
"""


def wiring_script(links):
    """The name of the wiring script of these links in the run's guest directory, named by their indices: guests
    of one run may have different links (deterministic mode: a guest per link) and share that directory."""
    return "links-" + "-".join(str(link.index) for link in sorted(links, key=lambda link: link.index)) + ".sh"


def guest_setup_script(links):
    """Stage 1's wiring script (busybox sh): the links whose carrier is slowest come up first."""
    q = shlex.quote
    order = sorted(links, key=lambda link: -link.model.carrier_s)
    lines = [WIRE_LIB]
    for link in order:
        for side in "ab":
            lines.append(f"wire {q(link.ns(side))} {q(link.mac(side))} {q(link.addr(side) + '/24')} "
                         f"{q(link.addr6(side) + '/64')}")
    return "\n".join(lines) + "\n"


def guest_describe_script(links):
    """Guest shell printing `ethtool -i` of every lab NIC, one `@@ <ns>` section each."""
    return "\n".join(f"echo '@@ {link.ns(s)}'; ip netns exec {shlex.quote(link.ns(s))} ethtool -i eth0"
                     for link in links for s in "ab")
